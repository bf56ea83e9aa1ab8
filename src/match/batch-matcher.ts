/**
 * Datagrams in batches -> what the matcher found, per line (match-wire.ts).
 * Runs on the matching thread (match-worker.ts) and, when that thread is
 * gone, on the main thread: one code path either way. Each datagram goes
 * through what a line goes through anywhere in banban: source/datagram.ts,
 * source/syslog-line.ts, then Matcher.find (`banban test` calls the same
 * two, on its one thread, through BanEngine.handle).
 *
 * It decides nothing and keeps nothing between batches: windows, sessions
 * and bans stay with the engine, so a batch can be matched on any thread.
 */
import type { Config } from '../config/schema.js';
import { decodeDatagram } from '../source/datagram.js';
import { parseSyslogLine } from '../source/syslog-line.js';
import { ResultWriter, RuleTable, type WireResults } from './match-wire.js';
import { Matcher, type MatcherConfig } from './matcher.js';

/** What a BatchMatcher is built from; structured-clone safe (RegExps clone with their flags). */
export interface BatchMatcherSetup {
  matcher: MatcherConfig;
  maxLine: number;
  /** a datagram this long may have been cut by the receive buffer */
  receiveBuffer: number;
}

export interface BatchOut {
  /** lines (datagrams) in the batch, skipped ones included */
  lines: number;
  results: WireResults;
}

export function batchMatcherSetup(config: Config, receiveBuffer: number): BatchMatcherSetup {
  return {
    matcher: {
      goodpatterns: config.goodpatterns,
      sessionpatterns: config.sessionpatterns,
      blocktypes: config.blocktypes.map((b) => ({ name: b.name, patterns: b.patterns })),
    },
    maxLine: config.maxLine,
    receiveBuffer,
  };
}

export class BatchMatcher {
  readonly #setup: BatchMatcherSetup;
  readonly #matcher: Matcher;
  readonly #writer: ResultWriter;

  constructor(setup: BatchMatcherSetup) {
    this.#setup = setup;
    this.#matcher = new Matcher(setup.matcher);
    this.#writer = new ResultWriter(new RuleTable(setup.matcher));
  }

  /** Datagrams framed by DatagramFramer, one line each. */
  datagrams(framed: Uint8Array): BatchOut {
    let lines = 0;
    unframeDatagrams(framed, (buf, start, end) => {
      const n = lines++;
      const d = decodeDatagram(buf, this.#setup.maxLine, this.#setup.receiveBuffer, start, end);
      if (!d.ok) this.#writer.skip(n, d.reason);
      else this.#writer.found(n, this.#matcher.find(parseSyslogLine(d.line).text), d.cut);
    });
    return { lines, results: this.#writer.finish() };
  }
}

/**
 * Datagrams packed into one buffer to cross to the matching thread: each as
 * a 4-byte little-endian length and its bytes.
 */
export class DatagramFramer {
  #buf: Buffer;
  #used = 0;
  #count = 0;

  constructor(initialBytes = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  add(datagram: Uint8Array): void {
    const need = this.#used + 4 + datagram.length;
    if (need > this.#buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.#buf.length * 2));
      this.#buf.copy(bigger, 0, 0, this.#used);
      this.#buf = bigger;
    }
    this.#buf.writeUInt32LE(datagram.length, this.#used);
    this.#buf.set(datagram, this.#used + 4);
    this.#used = need;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  /** The packed datagrams in a buffer of their own (the framer's is reused), and a fresh start. */
  take(): Uint8Array {
    const out = new Uint8Array(this.#used);
    out.set(this.#buf.subarray(0, this.#used));
    this.#used = 0;
    this.#count = 0;
    return out;
  }
}

/** Calls `each` with every datagram as `buf[start, end)`, in order. */
export function unframeDatagrams(framed: Uint8Array, each: (buf: Buffer, start: number, end: number) => void): void {
  const buf = Buffer.from(framed.buffer, framed.byteOffset, framed.byteLength);
  const total = buf.length;
  let at = 0;
  while (at + 4 <= total) {
    const len = buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24);
    const end = at + 4 + len;
    if (len < 0 || end > total) throw new Error(`framed datagrams end inside a datagram (${len} bytes at ${at}, ${total} in all)`);
    each(buf, at + 4, end);
    at = end;
  }
  if (at !== total) throw new Error(`framed datagrams end inside a length (${total - at} bytes left)`);
}
