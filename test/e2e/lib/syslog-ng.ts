/**
 * A private syslog-ng (Debian's real one) that forwards to banban as
 * examples/syslog-ng.conf tells an admin to.
 *
 * Debian's syslog-ng-core conflicts with rsyslog, so it is not installed but
 * unpacked by test/e2e/setup-unpacked.sh into a folder (default
 * /opt/banban-e2e/syslog-ng); that script leaves a banban-e2e.env there with
 * the binary, library and module paths this file uses.
 *
 * The config is the example file with the socket path replaced, after what
 * Debian's main syslog-ng.conf would provide: the source `s_src` (here a
 * private unix-dgram socket instead of /dev/log). A second log path copies
 * every line to a capture file. Its own --persist-file, --pidfile and
 * --control keep it away from a system syslog-ng's files.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { repoRoot, unpackedEnv } from './preflight.js';
import { Service, waitFor } from './proc.js';
import type { SyslogDaemon } from './syslog-input.js';

export const EXAMPLE_SYSLOG_NG_CONF = join(repoRoot, 'examples', 'syslog-ng.conf');
export const EXAMPLE_SOCKET = '/run/banban/banban.sock';
export const SETUP_SCRIPT = `${join(repoRoot, 'test', 'e2e', 'setup-unpacked.sh')} syslog-ng`;

export interface SyslogNgInstall {
  readonly binary: string;
  readonly libraryPath: string;
  readonly modulePath: string;
  /** "3.38": what the config's @version line must say */
  readonly version: string;
}

/** Where setup-unpacked.sh unpacked syslog-ng, or undefined if it has not run. */
export function findSyslogNg(): SyslogNgInstall | undefined {
  const vars = unpackedEnv('syslog-ng', 'BANBAN_E2E_SYSLOG_NG');
  if (vars === undefined) return undefined;
  const get = (k: string) => vars.get(k);
  const binary = get('SYSLOG_NG');
  const libraryPath = get('LD_LIBRARY_PATH');
  const modulePath = get('MODULE_PATH');
  if (!binary || !libraryPath || !modulePath || !existsSync(binary)) return undefined;
  return { binary, libraryPath, modulePath, version: basename(modulePath) };
}

/** examples/syslog-ng.conf with its socket path replaced. */
export function exampleSyslogNgConf(socket: string): string {
  const text = readFileSync(EXAMPLE_SYSLOG_NG_CONF, 'utf8');
  if (!text.includes(EXAMPLE_SOCKET)) throw new Error(`${EXAMPLE_SYSLOG_NG_CONF} does not mention ${EXAMPLE_SOCKET}`);
  return text.split(EXAMPLE_SOCKET).join(socket);
}

/** The whole config of the test's syslog-ng: the example after what Debian's main syslog-ng.conf provides. */
export function syslogNgConf({ version, inputSocket, captureFile, forwardTo }: { version: string; inputSocket: string; captureFile: string; forwardTo: string }): string {
  return [
    `@version: ${version}`,
    '# written by test/e2e/lib/syslog-ng.ts',
    // use-dns(no) and dns-cache(no): never look anything up; stats-freq(0): no periodic stats lines
    'options { chain-hostnames(no); use-dns(no); dns-cache(no); stats-freq(0); };',
    `source s_src { unix-dgram("${inputSocket}"); internal(); };`,
    '',
    '# ---- examples/syslog-ng.conf, socket path replaced ----',
    exampleSyslogNgConf(forwardTo),
    '# ---- end of example ----',
    '',
    `destination d_bbe2e_capture { file("${captureFile}"); };`,
    'log { source(s_src); destination(d_bbe2e_capture); };',
    '',
  ].join('\n');
}

/** argv options that keep a syslog-ng's state files in `dir`, away from a system syslog-ng's */
export function privateFileOptions(dir: string): string[] {
  return [`--persist-file=${join(dir, 'syslog-ng.persist')}`, `--pidfile=${join(dir, 'syslog-ng.pid')}`, `--control=${join(dir, 'syslog-ng.ctl')}`];
}

export class SyslogNg implements SyslogDaemon {
  readonly kind = 'syslog-ng';
  private constructor(
    readonly inputSocket: string,
    readonly captureFile: string,
    readonly service: Service,
  ) {}

  static async start(install: SyslogNgInstall, dir: string, forwardTo: string): Promise<SyslogNg> {
    const inputSocket = join(dir, 'syslog-ng-input.sock');
    const captureFile = join(dir, 'syslog-ng-captured.log');
    const conf = join(dir, 'syslog-ng.conf');
    writeFileSync(conf, syslogNgConf({ version: install.version, inputSocket, captureFile, forwardTo }));
    const service = new Service(
      'syslog-ng',
      install.binary,
      [
        '-F', // foreground: the test owns the process
        '-e', // its own errors on stderr, where Service keeps them
        '-f',
        conf,
        `--module-path=${install.modulePath}`,
        ...privateFileOptions(dir),
      ],
      { env: { ...process.env, LD_LIBRARY_PATH: install.libraryPath } },
    );
    await waitFor('syslog-ng to create its input socket', () => (!service.running ? Promise.reject(new Error(`syslog-ng exited\n${service.tail()}`)) : existsSync(inputSocket)), {
      timeoutMs: 10_000,
    });
    return new SyslogNg(inputSocket, captureFile, service);
  }

  async stop(): Promise<void> {
    await this.service.stop('SIGTERM', 3000);
  }
}
