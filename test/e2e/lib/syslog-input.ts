/**
 * What rsyslog.ts and syslog-ng.ts have in common: a syslog daemon of ours
 * with a private input socket (what /dev/log is on a real host), forwarding
 * to banban's socket, and keeping a copy of every line it received in a
 * capture file, so tests can tell that a line has passed through.
 */
import { readFile } from 'node:fs/promises';
import { run, type Service } from './proc.js';

export interface SyslogDaemon {
  /** "rsyslog" or "syslog-ng", for messages */
  readonly kind: string;
  /** the socket local programs log to: our stand-in for /dev/log */
  readonly inputSocket: string;
  /** every line it received, one per line, written after forwarding */
  readonly captureFile: string;
  readonly service: Service;
  stop(): Promise<void>;
}

/**
 * Logs one line through the daemon's input socket with util-linux logger,
 * as a program called `tag` would (e.g. tag "sshd[1234]").
 */
export async function inject(daemon: SyslogDaemon, tag: string, message: string, priority = 'auth.info'): Promise<void> {
  const r = await run('logger', ['--socket', daemon.inputSocket, '--socket-errors=on', '-p', priority, '-t', tag, '--', message]);
  if (r.code !== 0) throw new Error(`logger into ${daemon.kind} failed: ${r.stderr}`);
}

/** The captured lines so far. */
export async function captured(daemon: SyslogDaemon): Promise<string[]> {
  try {
    return (await readFile(daemon.captureFile, 'utf8')).split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}
