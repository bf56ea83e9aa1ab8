/**
 * Logging: pino JSON lines on stdout (journald keeps them as they are), or a
 * short human form with `--log-format pretty`. Plus a rate limiter for
 * messages an attacker can provoke at will, so they cannot flood the journal.
 *
 * When stdout is journald's stream (systemd says so in $JOURNAL_STREAM),
 * each JSON line starts with its syslog priority, `<3>` for an error: journald
 * takes that as the entry's priority and drops it from the text, so
 * `journalctl -u banban -p warning` shows warnings and errors, and
 * `-o cat` the JSON alone. Elsewhere (a terminal, a pipe, a file) lines
 * carry no prefix.
 */
import { fstatSync } from 'node:fs';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };
export type LogFormat = 'json' | 'pretty';

export interface LogOptions {
  format: LogFormat;
  level?: string;
  /** where lines go; stdout when absent (tests pass a collecting stream) */
  destination?: DestinationStream;
}

export function createLogger(opts: LogOptions): Logger {
  const level = opts.level ?? 'info';
  const base = { name: 'banban' };
  if (opts.destination) return pino({ level, base }, opts.destination);
  if (opts.format === 'pretty') return pino({ level, base }, prettyStream(process.stdout));
  return pino({ level, base }, new GatheredLines(pino.destination({ dest: 1, sync: false, minLength: 1 }), { priorities: stdoutIsJournal() }));
}

/**
 * Whether stdout is connected to journald: $JOURNAL_STREAM names the stream's
 * `device:inode`, and systemd sets it for the service's stdout and stderr;
 * a child that inherited the variable but writes elsewhere does not match.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, stat: () => { dev: number; ino: number } = () => fstatSync(1)): boolean {
  const want = env['JOURNAL_STREAM'];
  if (want === undefined || want === '') return false;
  try {
    const st = stat();
    return want === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** pino level -> syslog priority (sd-daemon(3)'s `<N>` prefix): fatal crit, error err, warn warning, info, debug and trace debug */
export function priorityPrefix(line: string): string {
  // pino writes `{"level":NN,` first
  const level = line.startsWith('{"level":') ? Number(line.slice(9, 11)) : 30;
  return level >= 60 ? '<2>' : level >= 50 ? '<3>' : level >= 40 ? '<4>' : level >= 30 ? '<6>' : '<7>';
}

export const LOG_BUFFER = 4096;
export const LOG_FLUSH_MS = 200;

/** What GatheredLines needs of pino's destination (a SonicBoom). */
interface Writer {
  /** SonicBoom's: write with write(2) on this thread, retrying EAGAIN, instead of on libuv's pool */
  sync?: boolean;
  write(chunk: string): unknown;
  flush(cb?: (err?: Error | null) => void): void;
  flushSync(): void;
}

/**
 * Lines are gathered (up to LOG_BUFFER bytes) and handed to `out` as one
 * string, which writes it asynchronously, at the latest LOG_FLUSH_MS after
 * the first was logged: under a flood of bans that is one write(2) per few
 * dozen lines instead of one per line, and the receive loop never waits for
 * the journal. Gathered here, not by SonicBoom's own `minLength`: SonicBoom
 * appends each line to one growing string and measures its bytes on every
 * line, which copies it each time (measured with every preset: 7 KB
 * allocated per log line, 240 MB per 300 000 datagrams, and 16% of the main
 * thread's time after matching). The daemon flushes on every way out (stop,
 * a fatal error), and so does process exit; a SIGKILL can lose the last
 * LOG_FLUSH_MS. (`out` keeps a minLength of 1: then its `flush(cb)` waits
 * for the write under way; at 0 it would call back at once.)
 */
export class GatheredLines implements DestinationStream {
  #lines: string[] = [];
  #length = 0;
  #timer: NodeJS.Timeout | undefined;

  readonly #priorities: boolean;

  /** `priorities`: start each line with its syslog priority, for journald (see the top of this file) */
  constructor(
    readonly out: Writer,
    opts: { priorities?: boolean } = {},
  ) {
    this.#priorities = opts.priorities ?? false;
    process.once('exit', () => {
      try {
        this.flushSync();
      } catch {
        // nothing more can be done for a log on the way out
      }
    });
  }

  write(line: string): void {
    if (this.#priorities) line = priorityPrefix(line) + line;
    this.#lines.push(line);
    this.#length += line.length;
    if (this.#length >= LOG_BUFFER) this.#hand();
    else this.#timer ??= setTimeout(() => this.#hand(), LOG_FLUSH_MS).unref();
  }

  /** What pino's `logger.flush(cb)` calls: everything gathered is written, then `cb`. */
  flush(cb?: (err?: Error | null) => void): void {
    this.#hand();
    this.out.flush(cb);
  }

  /**
   * Everything gathered is written now, on this thread (at exit, when no
   * callback would run). `out` is made synchronous first: stdout is
   * non-blocking (a pipe or journald's socket), and a write handed to it
   * asynchronously would be left to a retry timer that never fires.
   */
  flushSync(): void {
    this.out.sync = true;
    this.#hand();
    this.out.flushSync();
  }

  #hand(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return;
    const chunk = this.#lines.join('');
    this.#lines = [];
    this.#length = 0;
    this.out.write(chunk);
  }
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

/** `HH:MM:SS LEVEL message key=value ...`, for people at a terminal. */
function prettyStream(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const time = new Date(Number(o['time'])).toISOString().slice(11, 19);
      const extra = Object.entries(o)
        .filter(([k]) => !SKIP.has(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      out.write(`${time} ${(LEVELS[Number(o['level'])] ?? 'LOG').padEnd(5)} ${String(o['msg'] ?? '')}${extra ? ` ${extra}` : ''}\n`);
    },
  };
}

/**
 * Lets through at most `burst` messages per key each `periodMs`; when a period
 * that suppressed some ends, the next message carries the count suppressed.
 */
export class RateLimiter {
  readonly #state = new Map<string, { start: number; sent: number; suppressed: number }>();
  constructor(
    readonly burst = 5,
    readonly periodMs = 60_000,
    readonly maxKeys = 1000,
  ) {}

  /** undefined: stay quiet; a number: log, mentioning that many suppressed before */
  allow(key: string, now: number): number | undefined {
    let s = this.#state.get(key);
    if (s === undefined || now - s.start >= this.periodMs) {
      const suppressed = s?.suppressed ?? 0;
      if (s === undefined && this.#state.size >= this.maxKeys) this.#state.clear();
      s = { start: now, sent: 1, suppressed: 0 };
      this.#state.set(key, s);
      return suppressed;
    }
    if (s.sent < this.burst) {
      s.sent++;
      return 0;
    }
    s.suppressed++;
    return undefined;
  }
}
