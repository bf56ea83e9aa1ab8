/**
 * Whether the end-to-end tests can run here, and where the repository is.
 *
 * They need root (network namespaces, iptables, mounts, sshd) and the real
 * programs they drive. Without them every e2e test is skipped, and one loud
 * line on stderr says why, so that a green `npm test` run by a normal user
 * is not mistaken for a proven daemon.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

export const daemonMain = join(repoRoot, 'dist', 'src', 'main.js');

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
    process.stderr.write(`\n!!!!! banban e2e tests SKIPPED: ${reason} !!!!!\n\n`);
  }
  return reason;
}
