/**
 * What the matcher found for a batch of lines, as it crosses from the
 * matching thread (match-worker.ts) to the engine's thread. Pure.
 *
 * Only lines with something to say are written: a verdict, a pattern that
 * matched without a usable address, a process that named its client, a
 * datagram skipped or cut. Most lines have nothing, and cost nothing here.
 * Rules travel as their index in `RuleTable` (both threads build it from
 * the same config, in the same order), addresses and process tags as text,
 * each once per batch (the lines of one connection, and an attacker's many
 * tries, name them again and again; with every preset only 28% of the
 * addresses in a batch of 1024 lines are new to it),
 * all in two flat arrays (`ints`, `strs`): plain arrays of small integers
 * and strings clone faster than objects, and unlike typed arrays they leave
 * no ArrayBuffer per batch for the collector to track.
 *
 * Record layout, one after another in `ints`:
 *   line, flags                       flags: SKIP | CUT | FOUND
 *   [reason]                          SKIP: index in SKIP_REASONS; nothing else follows
 *   [verdict...]                      FOUND:
 *     kind (0 none, 1 good, 2 bad)
 *     good: rule, ip                  (session, reason, raw: indexes in `strs`;
 *     bad:  count, (blocktype, rule, ip) x count   ip: -1, text index, family, 1 or 4 words;
 *                                                  or, an address the batch named before,
 *                                                  its number: 0 the first, 1 the next...)
 *     rejected: rule or -1, [reason, raw]
 *     byPid: count, (blocktype, rule, session) x count
 *     seen: session or -1, [same, [ip]]  same: 1 when the address is the verdict's
 *                                         first (the usual case), else 0 and the address,
 *                                         or 2 and the address for a connection's start
 */
import type { Rule } from '../config/schema.js';
import { ipWord, putIpWord, type ParsedIp } from '../lib/ip.js';
import type { Offence, RejectedAddress, Verdict } from '../pipeline.js';
import type { Decoded } from '../source/datagram.js';
import type { MatcherConfig, MatchResult } from './matcher.js';

export const SKIP = 1;
export const CUT = 2;
export const FOUND = 4;

export type SkipReason = Extract<Decoded, { ok: false }>['reason'];
export const SKIP_REASONS: readonly SkipReason[] = ['empty', 'too long', 'truncated', 'NUL byte'];

/** One batch's findings. */
export interface WireResults {
  ints: readonly number[];
  strs: string[];
}

/** Every rule of a config with an index, and the blocktype names with theirs. */
export class RuleTable {
  readonly rules: readonly Rule[];
  readonly blocktypes: readonly string[];
  readonly #ruleIds: Map<Rule, number>;
  readonly #blocktypeIds: Map<string, number>;

  constructor(config: MatcherConfig) {
    this.rules = [...config.goodpatterns, ...(config.sessionpatterns ?? []), ...config.blocktypes.flatMap((b) => b.patterns)];
    this.blocktypes = config.blocktypes.map((b) => b.name);
    this.#ruleIds = new Map(this.rules.map((r, i) => [r, i]));
    this.#blocktypeIds = new Map(this.blocktypes.map((n, i) => [n, i]));
  }

  ruleId(rule: Rule): number {
    const id = this.#ruleIds.get(rule);
    if (id === undefined) throw new Error(`rule ${rule.where} is not in this table`);
    return id;
  }

  blocktypeId(name: string): number {
    const id = this.#blocktypeIds.get(name);
    if (id === undefined) throw new Error(`blocktype ${name} is not in this table`);
    return id;
  }
}

/** Whether the matcher found anything the engine has to hear about. */
export function isEmpty(found: MatchResult): boolean {
  return found.verdict.kind === 'none' && found.verdict.rejected === undefined && found.byPid === undefined && found.seen === undefined;
}

/** Collects one batch's records; `finish` hands them over and starts afresh. */
export class ResultWriter {
  #ints: number[] = [];
  #strs: string[] = [];
  /** the batch's addresses so far, by text: their numbers (a new Map each batch: see `finish`) */
  #ips = new Map<string, number>();
  /** the batch's process tags so far: their index in `strs` (a new Map each batch, as #ips) */
  #sessions = new Map<string, number>();

  constructor(readonly table: RuleTable) {}

  skip(line: number, reason: SkipReason): void {
    this.#ints.push(line, SKIP, SKIP_REASONS.indexOf(reason));
  }

  /** `cut`: the datagram held a line break, only the text before it was matched. */
  found(line: number, found: MatchResult | undefined, cut: boolean): void {
    if (found === undefined || isEmpty(found)) {
      if (cut) this.#ints.push(line, CUT);
      return;
    }
    const ints = this.#ints;
    const t = this.table;
    ints.push(line, FOUND | (cut ? CUT : 0));
    const v = found.verdict;
    if (v.kind === 'good') {
      ints.push(1, t.ruleId(v.rule));
      this.#ip(v.ip);
    } else if (v.kind === 'bad') {
      ints.push(2, v.offences.length);
      for (const o of v.offences) {
        ints.push(t.blocktypeId(o.blocktype), t.ruleId(o.rule));
        this.#ip(o.ip);
      }
    } else {
      ints.push(0);
    }
    if (v.rejected) ints.push(t.ruleId(v.rejected.rule), this.#str(v.rejected.reason), this.#str(v.rejected.raw));
    else ints.push(-1);
    const byPid = found.byPid ?? [];
    ints.push(byPid.length);
    for (const p of byPid) ints.push(t.blocktypeId(p.blocktype), t.ruleId(p.rule), this.#session(p.session));
    if (found.seen) {
      ints.push(this.#session(found.seen.session));
      const first = v.kind === 'good' ? v.ip : v.kind === 'bad' ? v.offences[0]?.ip : undefined;
      if (found.seen.ip === first && !found.seen.start) ints.push(1);
      else {
        ints.push(found.seen.start ? 2 : 0);
        this.#ip(found.seen.ip);
      }
    } else {
      ints.push(-1);
    }
  }

  get empty(): boolean {
    return this.#ints.length === 0;
  }

  finish(): WireResults {
    const out: WireResults = { ints: this.#ints, strs: this.#strs };
    this.#ints = [];
    this.#strs = [];
    // A new Map, not clear(): V8 makes a cleared Map's new table, and every larger one it grows
    // into, where the old table was, and this writer's Map is old. Each batch's address table
    // then lived in the old generation, and kept the addresses in it (views of their lines)
    // through every young collection until the next full one: in the daemon under the bench's
    // 50 000 lines/s, 13.4 KB promoted per young collection with clear(), 0.9 KB with this.
    this.#ips = new Map();
    this.#sessions = new Map();
    return out;
  }

  /**
   * An address the batch has named before as its number; a new one as its
   * text, its family and its bytes in 32-bit words: rebuilt as it is, never
   * parsed again.
   */
  #ip(ip: ParsedIp): void {
    const known = this.#ips.get(ip.text);
    if (known !== undefined) {
      this.#ints.push(known);
      return;
    }
    this.#ips.set(ip.text, this.#ips.size);
    const b = ip.bytes;
    this.#ints.push(-1, this.#str(ip.text), ip.family);
    for (let w = 0; w < b.length / 4; w++) this.#ints.push(ipWord(b, w) | 0);
  }

  /**
   * A process tag, written once a batch: a process writes its lines in runs, so the engine's
   * thread gets one string for all of them, which its session memory (track/session-memory.ts)
   * then compares by identity and hashes once. With every preset, the bench corpus's batches
   * carried 199 524 strings written each time, 105 721 so; writing them once and reading and
   * applying them three times (clone, readResults, apply) took 206 of 8 011 million instructions
   * fewer (callgrind).
   */
  #session(tag: string): number {
    let at = this.#sessions.get(tag);
    if (at === undefined) {
      at = this.#str(tag);
      this.#sessions.set(tag, at);
    }
    return at;
  }

  #str(s: string): number {
    return this.#strs.push(s) - 1;
  }
}

/** What one record says about one line. */
export type LineReport =
  | { line: number; skipped: SkipReason }
  | { line: number; skipped?: undefined; cut: boolean; found: MatchResult | undefined };

/**
 * Calls `each` for every record, in line order, with rules and addresses
 * turned back into the values the engine takes. Addresses come as the
 * matching thread parsed them (text, family, bytes), so nothing is parsed
 * twice and nothing lives longer than the line: a cache of parsed addresses
 * here, under a flood of distinct ones, was measured to cost 40 MB of RSS
 * (README, Benchmarks, 5). A rule or blocktype index the table does
 * not have means the two threads disagree, which is a bug: it throws.
 */
export function readResults(r: WireResults, table: RuleTable, each: (report: LineReport) => void): void {
  const ints = r.ints;
  const strs = r.strs;
  let i = 0;
  const rule = (id: number): Rule => {
    const x = table.rules[id];
    if (x === undefined) throw new Error(`match results name rule ${id}, which the table does not have`);
    return x;
  };
  const blocktype = (id: number): string => {
    const x = table.blocktypes[id];
    if (x === undefined) throw new Error(`match results name blocktype ${id}, which the table does not have`);
    return x;
  };
  /** The batch's addresses, by number: one object for each, however often it is named. */
  const ips: ParsedIp[] = [];
  /** An address as #ip wrote it: the matching thread parsed it, this only puts it back together. */
  const address = (): ParsedIp => {
    const ref = ints[i++]!;
    if (ref >= 0) {
      const known = ips[ref];
      if (known === undefined) throw new Error(`match results name address ${ref} of a batch that has ${ips.length}`);
      return known;
    }
    const text = strs[ints[i++]!]!;
    const family = ints[i++] === 6 ? 6 : 4;
    const bytes = new Uint8Array(family === 4 ? 4 : 16);
    for (let w = 0; w < bytes.length / 4; w++) putIpWord(bytes, w, ints[i++]!);
    const ip: ParsedIp = { text, family, bytes };
    ips.push(ip);
    return ip;
  };
  while (i < ints.length) {
    const line = ints[i++]!;
    const flags = ints[i++]!;
    if (flags & SKIP) {
      each({ line, skipped: SKIP_REASONS[ints[i++]!]! });
      continue;
    }
    const cut = (flags & CUT) !== 0;
    if (!(flags & FOUND)) {
      each({ line, cut, found: undefined });
      continue;
    }
    const kind = ints[i++]!;
    let verdict: Verdict;
    let offences: Offence[] | undefined;
    let good: { ip: ParsedIp; rule: Rule } | undefined;
    if (kind === 1) {
      const ruleOf = rule(ints[i++]!);
      good = { ip: address(), rule: ruleOf };
    } else if (kind === 2) {
      const n = ints[i++]!;
      offences = [];
      for (let k = 0; k < n; k++) {
        const bt = blocktype(ints[i++]!);
        const ruleOf = rule(ints[i++]!);
        offences.push({ blocktype: bt, rule: ruleOf, ip: address() });
      }
    }
    const rejectedRule = ints[i++]!;
    let rejected: RejectedAddress | undefined;
    if (rejectedRule >= 0) {
      const reason = strs[ints[i++]!]!;
      rejected = { rule: rule(rejectedRule), reason, raw: strs[ints[i++]!]! };
    }
    if (good) verdict = { kind: 'good', ip: good.ip, rule: good.rule };
    else if (offences) verdict = rejected ? { kind: 'bad', offences, rejected } : { kind: 'bad', offences };
    else verdict = rejected ? { kind: 'none', rejected } : { kind: 'none' };
    const nPid = ints[i++]!;
    let byPid: { blocktype: string; session: string; rule: Rule }[] | undefined;
    for (let k = 0; k < nPid; k++) {
      const bt = blocktype(ints[i++]!);
      const ruleOf = rule(ints[i++]!);
      (byPid ??= []).push({ blocktype: bt, rule: ruleOf, session: strs[ints[i++]!]! });
    }
    const seenSession = ints[i++]!;
    let seen: { session: string; ip: ParsedIp; start: boolean } | undefined;
    if (seenSession >= 0) {
      const first = good ? good.ip : offences?.[0]?.ip;
      const how = ints[i++];
      if (how === 1 && first === undefined) throw new Error(`match results give line ${line} the verdict's address as its session's, but the verdict has none`);
      const session = strs[seenSession]!;
      seen = how === 1 ? { session, ip: first!, start: false } : { session, ip: address(), start: how === 2 };
    }
    const result: MatchResult = seen ? { verdict, byPid, seen } : byPid ? { verdict, byPid } : { verdict };
    each({ line, cut, found: result });
  }
}
