/**
 * Whether the end-to-end tests can run here, and where the repository is.
 *
 * They need root (network namespaces, iptables, mounts, sshd) and the real
 * programs they drive. Without them every e2e test is skipped, and one loud
 * line on stderr says why, so that a green `npm test` run by a normal user
 * is not mistaken for a proven daemon.
 */
import { accessSync, constants, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pidAlive } from './proc.js';

/** The repository root: the nearest folder above this file with banban's package.json. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'banban') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the banban repository above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
})();

/** the `banban` command as installed (package.json bin) */
export const daemonMain = join(repoRoot, 'dist', 'bin', 'main.js');

/** Programs every e2e test file drives; found in PATH (or the sbin folders). */
const REQUIRED = ['ip', 'iptables-restore', 'ip6tables-restore', 'iptables', 'conntrack', 'rsyslogd', 'logger', 'unshare', 'mount'];

const SEARCH_PATH = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** The full path of a program, or undefined. */
export function which(prog: string): string | undefined {
  for (const dir of SEARCH_PATH) {
    if (!dir) continue;
    const p = join(dir, prog);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Says why the tests are skipped, once per `node --test` run: every test file
 * runs in its own process, so the first one to skip leaves a marker named
 * after the runner's pid (our parent) and the others stay quiet. Markers of
 * runners that are gone are removed.
 */
function announceSkip(text: string): void {
  const marker = (pid: number) => join(tmpdir(), `banban-e2e-skip-said-${pid}`);
  try {
    for (const name of readdirSync(tmpdir())) {
      const m = /^banban-e2e-skip-said-(\d+)$/.exec(name);
      if (m && Number(m[1]) !== process.ppid && !pidAlive(Number(m[1]))) rmSync(join(tmpdir(), name), { force: true });
    }
    writeFileSync(marker(process.ppid), '', { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
    // any other trouble: better said twice than not at all
  }
  process.stderr.write(text);
}

let announced = false;

/**
 * Why the e2e tests cannot run here (undefined when they can). `extra`
 * names programs this test file needs beyond the common ones.
 */
export function skipReason(extra: readonly string[] = []): string | undefined {
  let reason: string | undefined;
  if (process.platform !== 'linux') reason = 'they need Linux';
  else if (typeof process.getuid === 'function' && process.getuid() !== 0) reason = 'they must run as root (network namespaces, iptables, mounts)';
  else {
    const missing = [...REQUIRED, ...extra].filter((p) => which(p) === undefined);
    if (missing.length > 0) reason = `missing programs: ${missing.join(', ')} (see .ci/run for the packages)`;
    else if (!existsSync(daemonMain)) reason = `${daemonMain} is not built (run tsc)`;
  }
  if (reason !== undefined && !announced) {
    announced = true;
    announceSkip(`\n!!!!! banban e2e tests SKIPPED: ${reason} !!!!!\n\n`);
  }
  return reason;
}

/**
 * What test/e2e/setup-unpacked.sh wrote about the program it unpacked for
 * `name` (in $`envVar`, or /opt/banban-e2e/NAME): its banban-e2e.env as
 * KEY -> value, or undefined when the script has not run.
 */
export function unpackedEnv(name: 'syslog-ng' | 'postfix', envVar: string): ReadonlyMap<string, string> | undefined {
  const envFile = join(process.env[envVar] ?? `/opt/banban-e2e/${name}`, 'banban-e2e.env');
  if (!existsSync(envFile)) return undefined;
  const vars = new Map<string, string>();
  for (const line of readFileSync(envFile, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return vars;
}
