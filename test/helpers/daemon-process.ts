/**
 * Runs the real `banban` entry point as a child process and reads its JSON
 * log lines, for tests at process level (signals, exit codes, sockets).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
/** the `banban` command as installed (package.json bin: dist/bin/main.js, the bundle), from dist/test/helpers/ */
export const MAIN = join(here, '..', '..', 'bin', 'main.js');

export type LogLine = Record<string, unknown> & { msg?: string };

export interface DaemonProcess {
  proc: ChildProcess;
  logs: LogLine[];
  stderr: () => string;
  waitFor(pred: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startDaemon(args: string[], opts: { prefix?: string[]; env?: NodeJS.ProcessEnv } = {}): DaemonProcess {
  const [cmd, ...pre] = opts.prefix ?? [process.execPath];
  const proc = spawn(cmd!, [...pre, ...(opts.prefix ? [process.execPath] : []), MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  const logs: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let buffered = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text, unparsed: true };
      }
      logs.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.pred(line)) waiters.splice(i, 1)[0]!.resolve(line);
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    logs,
    stderr: () => err,
    exited,
    waitFor(pred, what, timeoutMs = 10_000) {
      const seen = logs.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; logs so far:\n${logs.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${err}`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(({ code }) => {
          clearTimeout(timer);
          reject(new Error(`daemon exited (${code}) while waiting for ${what}; logs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${err}`));
        });
      });
    },
  };
}

interface UnixDgramSocket {
  on(event: string, cb: (...a: unknown[]) => void): void;
  connect(path: string): void;
  send(buf: Buffer, cb?: (err?: Error) => void): void;
  close(): void;
}
const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket };

/**
 * Sends each string as one datagram to the socket at `path`. When the
 * receiver's queue is full (unix-dgram says 'congestion'), it waits until the
 * socket is writable again and re-sends, as a syslog daemon would.
 */
export async function sendDatagrams(path: string, lines: (string | Buffer)[]): Promise<void> {
  const sock = unix.createSocket('unix_dgram');
  let writable: (() => void) | undefined;
  sock.on('writable', () => writable?.());
  await new Promise<void>((resolve, reject) => {
    sock.on('error', (e) => reject(e as Error));
    sock.on('connect', () => resolve());
    sock.connect(path);
  });
  try {
    for (const line of lines) {
      const buf = typeof line === 'string' ? Buffer.from(line) : line;
      for (;;) {
        const err = await new Promise<Error | undefined>((resolve) => sock.send(buf, (e) => resolve(e)));
        if (err === undefined) break;
        if (err.message !== 'congestion') throw err;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 50); // writable is not always reported; try again soon anyway
          writable = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  } finally {
    sock.close();
  }
}

/** Runs a short banban command to completion. */
export function runCli(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input ?? '');
  });
}
