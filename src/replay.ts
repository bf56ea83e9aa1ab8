/**
 * `banban test`: a log file through the daemon's own path, with each line's
 * timestamp as the clock and no kernel writes.
 *
 * The daemon's path, not a copy of it: each line of the file is handed to
 * the BatchMatcher that the daemon's matching thread runs, as one datagram,
 * and what it found goes to BanEngine.apply, in order. So a line the daemon
 * would skip (longer than max_line, a NUL byte) is skipped and reported
 * here too, and a line with a CR inside is cut there as a datagram
 * would be.
 *
 * One thread: the daemon matches on a second one so that the socket is
 * always read, but for a file it does not pay. Measured on 2 cores, with
 * the file cut into pieces matched by both threads: 0.65 s against 0.48 s
 * alone for 300 000 lines (each thread warms its own JIT up, on half the
 * lines), and only 15 % less for 3 million.
 *
 * The clock: each line's header timestamp (ReplayClock); a line without a
 * usable one gets the time of the line before. Every line is shown to the
 * clock, matched or not: a BSD stamp has no year, and only the months going
 * by tell that December has become January.
 */
import type { Config, Rule } from './config/schema.js';
import type { ParsedIp } from './lib/ip.js';
import { BatchMatcher, batchMatcherSetup } from './match/batch-matcher.js';
import { isEmpty, type SkipReason } from './match/match-wire.js';
import type { MatchResult } from './match/matcher.js';
import { ReplayEntries, type RepeatedEnds, type ReplayMatches } from './replay-matches.js';
import { LineSplitter } from './source/log-file.js';
import { ReplayClock } from './source/syslog-line.js';
import { BanEngine } from './track/ban-engine.js';

export type { RepeatedEnd, ReplayMatch } from './replay-matches.js';

export interface ReplayReport {
  lines: number;
  /** in line order; JSON.stringify gives them as an array */
  matches: ReplayMatches;
  blocked: { ip: string; target: string; blocktype: string }[];
  unblocked: string[];
  /** pattern `where` -> hits (counted) */
  hits: Record<string, number>;
  /** pattern `where` -> lines it matched that were not counted (`repeated`); endpatterns only */
  uncounted: Record<string, number>;
  /** pattern `where` -> the pattern as written */
  patterns: Record<string, string>;
  /** matches not counted (nor in `matches`): a connection's end its process had written already (a blocktype's endpatterns) */
  repeated: RepeatedEnds;
  /** lines where a pattern matched but captured no usable address */
  rejected: { line: number; rule: string; reason: string }[];
  /** lines the daemon would never match (as datagrams: too long, a NUL byte); blank lines are not listed */
  skipped: { line: number; reason: SkipReason }[];
  /** matched lines without a timestamp in their header: they count at the time of the line before */
  undated: number;
  /** lines whose timestamp is more than BACKWARDS_MS before one already seen (logs merged out of order, a clock set back) */
  backwards: number;
  /** of the addresses both blocked and unblocked, where the log leaves each: blocked, or unblocked (by a good line after its last block) */
  finally: Record<string, 'blocked' | 'unblocked'>;
}

/** how far a line's time may go back before `backwards` counts it (sources interleave by a second or two) */
const BACKWARDS_MS = 60_000;

/**
 * `chunks`: the log's bytes, in pieces of any size (a file or stdin as read; a stream set to an encoding gives strings).
 * Each piece is done with before the next is asked for, and nothing of it is kept: a source may read every piece into one buffer.
 */
export async function replayLog(config: Config, chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, startYear: number): Promise<ReplayReport> {
  const replay = new Replay(config, startYear);
  // A file has no receive buffer to overflow: no line is "truncated".
  const matcher = new BatchMatcher(batchMatcherSetup(config, Number.MAX_SAFE_INTEGER));
  // Of a longer line, more is never needed: the daemon would skip it as too long.
  const split = new LineSplitter(config.maxLine + 2, (buf, start, end) => replay.line(matcher.one(buf, start, end), matcher));
  for await (const chunk of chunks) split.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  split.end();
  return replay.finish();
}

/** The engine's side: lines in file order, counted, decided and written into the report. */
class Replay {
  readonly report: ReplayReport = { lines: 0, matches: ReplayEntries.matches(), blocked: [], unblocked: [], hits: {}, uncounted: {}, patterns: {}, repeated: ReplayEntries.repeatedEnds(), rejected: [], skipped: [], undated: 0, backwards: 0, finally: {} };
  /** the latest time seen so far */
  #latest = -Infinity;
  readonly #engine: BanEngine;
  readonly #clock: ReplayClock;
  readonly #blockedSeen = new Set<string>();
  readonly #unblockedSeen = new Set<string>();
  /** per address with a decision: whether the last one blocked it */
  readonly #lastBlocked = new Map<string, boolean>();
  /** hits per rule, written into report.hits by finish (counted by the rule object: a `where` text as a property name is looked up in V8's string table on every hit) */
  readonly #hits: Map<Rule, number>;
  readonly #uncounted = new Map<Rule, number>();

  constructor(config: Config, startYear: number) {
    this.#engine = new BanEngine(config);
    this.#clock = new ReplayClock(startYear);
    this.#hits = new Map([...config.goodpatterns, ...config.blocktypes.flatMap((b) => b.patterns)].map((rule) => [rule, 0]));
  }

  /** The report, once every line is in. */
  finish(): ReplayReport {
    for (const [rule, n] of this.#hits) {
      this.report.hits[rule.where] = n;
      this.report.patterns[rule.where] = rule.source;
      if (rule.perProcess) this.report.uncounted[rule.where] = this.#uncounted.get(rule) ?? 0;
    }
    for (const ip of new Set(this.report.blocked.map((b) => b.ip))) {
      if (this.#unblockedSeen.has(ip)) this.report.finally[ip] = this.#lastBlocked.get(ip) ? 'blocked' : 'unblocked';
    }
    return this.report;
  }

  #hit(rule: Rule): void {
    this.#hits.set(rule, this.#hits.get(rule)! + 1);
  }

  /** The next line of the file: what `matcher.one` returned for it (its header's stamp is the matcher's until the next line). */
  line(r: MatchResult | SkipReason, matcher: BatchMatcher): void {
    const n = ++this.report.lines;
    if (typeof r !== 'string') {
      const now = matcher.timeBy(this.#clock);
      const dated = matcher.dated;
      if (dated) {
        if (now < this.#latest - BACKWARDS_MS) this.report.backwards++;
        else if (now > this.#latest) this.#latest = now;
      }
      if (!isEmpty(r)) {
        if (!dated) this.report.undated++;
        this.#found(r, n, now);
      }
    } else if (r !== 'empty') {
      // A blank line in a file is no news; the others are lines the daemon would drop unmatched.
      this.report.skipped.push({ line: n, reason: r });
    }
  }

  #found(found: MatchResult, n: number, now: number): void {
    const report = this.report;
    const out = this.#engine.apply(found, now);
    const v = out.verdict;
    for (const o of out.repeated) {
      report.repeated.push(n, o.blocktype, o.ip);
      this.#uncounted.set(o.rule, (this.#uncounted.get(o.rule) ?? 0) + 1);
    }
    if (v.rejected) report.rejected.push({ line: n, rule: v.rejected.rule.where, reason: v.rejected.reason });
    if (v.kind === 'good') {
      this.#hit(v.rule);
      report.matches.push(n, undefined, v.ip, out.ignored.length > 0 && isIgnored(out.ignored, v.ip));
    } else if (v.kind === 'bad') {
      for (const o of v.offences) {
        this.#hit(o.rule);
        report.matches.push(n, o.blocktype, o.ip, out.ignored.length > 0 && isIgnored(out.ignored, o.ip));
      }
    }
    for (const d of out.decisions) {
      this.#lastBlocked.set(d.ip.text, d.kind === 'block');
      if (d.kind === 'block') {
        const key = `${d.ip.text} ${d.target} ${d.blocktype}`;
        if (!this.#blockedSeen.has(key)) {
          this.#blockedSeen.add(key);
          report.blocked.push({ ip: d.ip.text, target: d.target, blocktype: d.blocktype });
        }
      } else if (!this.#unblockedSeen.has(d.ip.text)) {
        this.#unblockedSeen.add(d.ip.text);
        report.unblocked.push(d.ip.text);
      }
    }
  }
}

function isIgnored(ignored: readonly ParsedIp[], ip: ParsedIp): boolean {
  return ignored.some((x) => x.text === ip.text);
}
