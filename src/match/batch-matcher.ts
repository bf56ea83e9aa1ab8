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
import { readRing } from './datagram-ring.js';
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

  /** `count` datagrams from `start` of a ring (datagram-ring.ts), one line each. */
  datagrams(ring: Buffer, start: number, count: number): BatchOut {
    let lines = 0;
    readRing(ring, start, count, (buf, from, to) => {
      const n = lines++;
      const d = decodeDatagram(buf, this.#setup.maxLine, this.#setup.receiveBuffer, from, to);
      if (!d.ok) this.#writer.skip(n, d.reason);
      else this.#writer.found(n, this.#matcher.find(parseSyslogLine(d.line).text), d.cut);
    });
    return { lines, results: this.#writer.finish() };
  }
}
