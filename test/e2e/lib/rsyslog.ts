/**
 * A private rsyslogd (Debian's real one) that forwards to banban exactly as
 * examples/rsyslog.conf tells an admin to.
 *
 * The config is the example file itself with only the socket path replaced,
 * wrapped in what a system's main rsyslog.conf would provide: an imuxsock
 * input (here a private socket instead of /dev/log, which the host may be
 * using) and a work directory of its own. A catch-all file action after the
 * example's lines records every message, so a test can tell when a line has
 * gone through (rsyslog runs a message's actions in config order, so a line
 * in the capture file has already been handed to omuxsock).
 *
 * It never touches /dev/log, /var/log or /var/spool/rsyslog, so a system
 * rsyslog that may be running (package installs start one) is unaffected,
 * and does not affect us.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './preflight.js';
import { Service, waitFor } from './proc.js';
import type { SyslogDaemon } from './syslog-input.js';

export const EXAMPLE_RSYSLOG_CONF = join(repoRoot, 'examples', 'rsyslog.conf');
/** the socket path the example uses, replaced by the test's */
export const EXAMPLE_SOCKET = '/run/banban/banban.sock';

/** examples/rsyslog.conf with its socket path replaced. */
export function exampleRsyslogConf(socket: string): string {
  const text = readFileSync(EXAMPLE_RSYSLOG_CONF, 'utf8');
  if (!text.includes(EXAMPLE_SOCKET)) throw new Error(`${EXAMPLE_RSYSLOG_CONF} does not mention ${EXAMPLE_SOCKET}`);
  return text.split(EXAMPLE_SOCKET).join(socket);
}

/** The whole config of the test's rsyslogd: the example inside what a main rsyslog.conf provides. */
export function rsyslogConf({ work, inputSocket, captureFile, forwardTo }: { work: string; inputSocket: string; captureFile: string; forwardTo: string }): string {
  return [
    '# written by test/e2e/lib/rsyslog.ts',
    `global(workDirectory="${work}")`,
    // SysSock.Use="off": leave /dev/log alone; our input is the private socket.
    // RateLimit.Interval="0": tests log bursts from one process.
    'module(load="imuxsock" SysSock.Use="off")',
    `input(type="imuxsock" Socket="${inputSocket}" RateLimit.Interval="0")`,
    '',
    '# ---- examples/rsyslog.conf, socket path replaced ----',
    exampleRsyslogConf(forwardTo),
    '# ---- end of example ----',
    '',
    `*.* action(type="omfile" file="${captureFile}" template="RSYSLOG_TraditionalFileFormat")`,
    '',
  ].join('\n');
}

export class Rsyslog implements SyslogDaemon {
  readonly kind = 'rsyslog';
  private constructor(
    readonly inputSocket: string,
    readonly captureFile: string,
    readonly service: Service,
  ) {}

  /** Starts rsyslogd in the foreground, forwarding to `forwardTo`; files go in `dir`. */
  static async start(dir: string, forwardTo: string): Promise<Rsyslog> {
    const work = join(dir, 'rsyslog-work');
    mkdirSync(work, { recursive: true });
    const inputSocket = join(dir, 'rsyslog-input.sock');
    const captureFile = join(dir, 'rsyslog-captured.log');
    const conf = join(dir, 'rsyslog.conf');
    writeFileSync(conf, rsyslogConf({ work, inputSocket, captureFile, forwardTo }));
    const pidFile = join(dir, 'rsyslogd.pid');
    // -n: stay in the foreground, so the test owns the process
    const service = new Service('rsyslogd', 'rsyslogd', ['-n', '-f', conf, '-i', pidFile]);
    await waitFor('rsyslogd to create its input socket', () => (!service.running ? Promise.reject(new Error(`rsyslogd exited\n${service.tail()}`)) : existsSync(inputSocket)), {
      timeoutMs: 10_000,
    });
    return new Rsyslog(inputSocket, captureFile, service);
  }

  async stop(): Promise<void> {
    await this.service.stop('SIGTERM', 3000);
  }
}
