/**
 * Datagrams -> what the matcher found in each (match-wire.ts for batches).
 * Runs on the matching thread (match-worker.ts) and, when that thread is
 * gone, on the main thread: one code path either way. Each datagram goes
 * through source/datagram.ts, source/syslog-line.ts, then Matcher.find.
 * `banban test` (replay.ts) sends each line of a log file through `one`,
 * as a datagram, so it skips, cuts and matches exactly as the daemon does.
 *
 * It decides nothing and keeps nothing between datagrams: windows, sessions
 * and bans stay with the engine, so a batch can be matched on any thread.
 */
import type { Config } from '../config/schema.js';
import type { SyslogLine } from '../pipeline.js';
import { decodeDatagram } from '../source/datagram.js';
import { parseSyslogLine, type ReplayClock, scanSyslogLine, SyslogSpans } from '../source/syslog-line.js';
import { readRing } from './datagram-ring.js';
import { ResultWriter, RuleTable, type SkipReason, type WireResults } from './match-wire.js';
import { Matcher, type MatcherConfig, type MatchResult } from './matcher.js';

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
      blocktypes: config.blocktypes.map((b) => ({ name: b.name, patterns: b.patterns, deferTo: b.deferTo })),
    },
    maxLine: config.maxLine,
    receiveBuffer,
  };
}

export class BatchMatcher {
  readonly #setup: BatchMatcherSetup;
  readonly #matcher: Matcher;
  readonly #writer: ResultWriter;
  /** of the datagram `one` was last given: whether it held a line break (only the text before it was matched) */
  cut = false;
  /** the line `one` was last given, and where its parts are; of an RFC 5424 line, what parseSyslogLine made of it instead */
  #line = '';
  readonly #spans = new SyslogSpans();
  #rfc5424: SyslogLine | undefined;

  constructor(setup: BatchMatcherSetup) {
    this.#setup = setup;
    this.#matcher = new Matcher(setup.matcher);
    this.#writer = new ResultWriter(new RuleTable(setup.matcher));
  }

  /**
   * One datagram, `buf[start, end)`: what the matcher found, or why it is skipped. Sets `cut`, and
   * what `dated` and `timeBy` tell until the next call. The header is read as offsets
   * (scanSyslogLine): the text is the only string made (an RFC 5424 line's is rebuilt, as before).
   */
  one(buf: Buffer, start: number, end: number): MatchResult | SkipReason {
    const d = decodeDatagram(buf, this.#setup.maxLine, this.#setup.receiveBuffer, start, end);
    if (!d.ok) return d.reason;
    const line = d.line;
    this.cut = d.cut;
    this.#line = line;
    const spans = this.#spans;
    let text: string;
    if (scanSyslogLine(line, spans)) {
      this.#rfc5424 = undefined;
      text = line.slice(spans.textAt);
    } else {
      this.#rfc5424 = parseSyslogLine(line);
      text = this.#rfc5424.text;
    }
    return this.#matcher.find(text);
  }

  /** of the datagram `one` was last given: whether its header had a timestamp */
  get dated(): boolean {
    return this.#rfc5424 ? this.#rfc5424.stamp !== undefined : this.#spans.stampEnd > 0;
  }

  /** of that datagram: its header's timestamp by `clock` (ReplayClock.timeOf), read where it is in the line (`banban test`, once a line) */
  timeBy(clock: ReplayClock): number {
    if (this.#rfc5424) return clock.timeOf(this.#rfc5424.stamp);
    const s = this.#spans;
    return s.stampEnd > 0 ? clock.timeOfSpan(this.#line, s.stampAt, s.stampEnd) : clock.timeOf(undefined);
  }

  /** `count` datagrams from `start` of a ring (datagram-ring.ts), one line each. */
  datagrams(ring: Buffer, start: number, count: number): BatchOut {
    const writer = this.#writer;
    let lines = 0;
    try {
      readRing(ring, start, count, (buf, from, to) => {
        const n = lines++;
        const r = this.one(buf, from, to);
        if (typeof r === 'string') writer.skip(n, r);
        else writer.found(n, r, this.cut);
      });
    } catch (err) {
      writer.finish(); // what a failed batch wrote must not open the next one's results
      throw err;
    }
    return { lines, results: writer.finish() };
  }
}
