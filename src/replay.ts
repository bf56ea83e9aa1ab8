/**
 * `banban test`: a log file through the daemon's own parser, matcher and
 * engine, with each line's timestamp as the clock and no kernel writes.
 */
import type { Config } from './config/schema.js';
import { parseSyslogLine, ReplayClock } from './source/syslog-line.js';
import { BanEngine } from './track/ban-engine.js';

export interface ReplayMatch {
  line: number;
  kind: 'good' | 'bad';
  blocktype?: string;
  ip: string;
  /** inside ignorenets: matched, never counted */
  ignored?: true;
}

export interface ReplayReport {
  lines: number;
  matches: ReplayMatch[];
  blocked: { ip: string; target: string; blocktype: string }[];
  unblocked: string[];
  /** pattern `where` -> hits */
  hits: Record<string, number>;
  /** lines where a pattern matched but captured no usable address */
  rejected: { line: number; rule: string; reason: string }[];
}

/** `batches`: the log's lines, in batches of any size. */
export async function replayLog(config: Config, batches: AsyncIterable<readonly string[]> | Iterable<readonly string[]>, startYear: number): Promise<ReplayReport> {
  const engine = new BanEngine(config);
  const clock = new ReplayClock(startYear);
  const report: ReplayReport = { lines: 0, matches: [], blocked: [], unblocked: [], hits: {}, rejected: [] };
  const blockedSeen = new Set<string>();
  const unblockedSeen = new Set<string>();
  for (const rule of [...config.goodpatterns, ...config.blocktypes.flatMap((b) => b.patterns)]) report.hits[rule.where] = 0;

  for await (const batch of batches) {
    for (const raw of batch) replayLine(raw);
  }
  return report;

  function replayLine(raw: string): void {
    const n = ++report.lines;
    const parsed = parseSyslogLine(raw);
    const out = engine.handle(parsed.text, clock.timeOf(parsed));
    const v = out.verdict;
    const ignored = out.ignored.length === 0 ? NO_IGNORED : new Set(out.ignored.map((ip) => ip.text));
    if (v.rejected) report.rejected.push({ line: n, rule: v.rejected.rule.where, reason: v.rejected.reason });
    if (v.kind === 'good') {
      report.hits[v.rule.where]!++;
      report.matches.push({ line: n, kind: 'good', ip: v.ip.text, ...(ignored.has(v.ip.text) ? { ignored: true as const } : {}) });
    } else if (v.kind === 'bad') {
      for (const o of v.offences) {
        report.hits[o.rule.where]!++;
        report.matches.push({ line: n, kind: 'bad', blocktype: o.blocktype, ip: o.ip.text, ...(ignored.has(o.ip.text) ? { ignored: true as const } : {}) });
      }
    }
    for (const d of out.decisions) {
      if (d.kind === 'block') {
        const key = `${d.ip.text} ${d.target} ${d.blocktype}`;
        if (!blockedSeen.has(key)) {
          blockedSeen.add(key);
          report.blocked.push({ ip: d.ip.text, target: d.target, blocktype: d.blocktype });
        }
      } else if (!unblockedSeen.has(d.ip.text)) {
        unblockedSeen.add(d.ip.text);
        report.unblocked.push(d.ip.text);
      }
    }
  }
}

const NO_IGNORED: ReadonlySet<string> = new Set();
