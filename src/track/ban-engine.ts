/**
 * The decision core: what the matcher found in a line, and the time, in;
 * decisions out. The daemon (with what its matching thread found) and
 * `banban test` (with what the same BatchMatcher found in each line of the
 * file) both call `apply`, so a replay shows exactly what the daemon does.
 * `handle` matches a line's text here first: for tests and small tools.
 *
 *   - good line: unblock the address in every target, forget its windows;
 *   - bad line: one offence per matching blocktype; an address inside
 *     `ignorenets` is reported as ignored and never counted;
 *   - with `ipv6_prefix` below 128, an IPv6 address is counted, blocked and
 *     unblocked as its network (lib/ip.ts, ipv6Network), and a network that
 *     holds an ignorenets address is ignored whole;
 *   - minocc offences within interval: one block decision, window emptied,
 *     so a persistent attacker is re-blocked (refreshing the kernel entry)
 *     every minocc further offences, not on every line;
 *   - a pattern that matched by process id counts against the address that
 *     process (`prog[pid]`) named last, if it did so within SESSION_TTL_MS;
 *     that memory holds at most SESSION_CAP processes, oldest dropped first;
 *   - a blocktype's endpatterns (Rule.perProcess) count once per process,
 *     connection and blocktype: the first such line of a process counts,
 *     the ones after it are returned as `repeated`, until a sessionpattern
 *     line of the process starts another connection (sshd ends one with
 *     `Received disconnect ...` and then `Disconnected from ...`, or with
 *     `kex_exchange_identification: ...` and then `Connection closed by ...`:
 *     one end, one offence).
 */
import type { Blocktype, Config } from '../config/schema.js';
import { ipv6Network, type ParsedIp } from '../lib/ip.js';
import { Matcher, type MatchResult } from '../match/matcher.js';
import type { Decision, Offence, Outcome, Verdict } from '../pipeline.js';
import { OffenceWindows } from './offence-windows.js';
import { SessionMemory } from './session-memory.js';

/** how long a process's address is remembered: sshd's LoginGraceTime is 2 minutes */
export const SESSION_TTL_MS = 10 * 60_000;
export const SESSION_CAP = 20_000;

export class BanEngine {
  /** `prog[pid]` -> the address that process named last, and when */
  readonly sessions: SessionMemory;
  /** made by the first `handle`: the daemon and `banban test` match elsewhere */
  #matcher: Matcher | undefined;
  readonly windows: OffenceWindows;
  readonly targets: readonly string[];
  readonly #config: Config;
  readonly #byName: ReadonlyMap<string, Blocktype>;
  readonly #names: readonly string[];
  /**
   * blocktype -> its bit in the session memory's record of counted ends.
   * Past the 32nd blocktype bits are shared, and a reload that reorders
   * blocktypes hands the records of live processes to others: either way at
   * most one end of a process counts once too often or too rarely.
   */
  readonly #endBits: ReadonlyMap<string, number>;
  /** config.ipv6Prefix */
  readonly #v6prefix: number;
  /** the address last given to #counted, and what it gave (an attacker's lines name one address in a row) */
  #lastIp: ParsedIp | undefined;
  #lastCounted: ParsedIp | undefined;

  /** `windows` and `sessions` carry counts and processes over from a previous engine (a reload). */
  constructor(config: Config, windows?: OffenceWindows, sessions?: SessionMemory) {
    this.#config = config;
    this.windows = windows ?? new OffenceWindows(config.maxTracked);
    this.sessions = sessions ?? new SessionMemory(SESSION_CAP, SESSION_TTL_MS);
    this.#byName = new Map(config.blocktypes.map((bt) => [bt.name, bt]));
    this.#names = config.blocktypes.map((bt) => bt.name);
    this.#endBits = new Map(config.blocktypes.map((bt, i) => [bt.name, (1 << (i % 32)) >>> 0]));
    this.targets = [...new Set(config.blocktypes.map((bt) => bt.target))];
    this.#v6prefix = config.ipv6Prefix;
  }

  /** What an address is counted and blocked as: itself, or its IPv6 network (ipv6_prefix). */
  #counted(ip: ParsedIp): ParsedIp {
    if (ip.family === 4 || this.#v6prefix >= 128) return ip;
    if (ip !== this.#lastIp) {
      this.#lastIp = ip;
      this.#lastCounted = ipv6Network(ip, this.#v6prefix);
    }
    return this.#lastCounted!;
  }

  get config(): Config {
    return this.#config;
  }

  /** `now` in milliseconds on any clock that does not go backwards much. */
  handle(text: string, now: number): Outcome {
    this.#matcher ??= new Matcher(this.#config);
    return this.apply(this.#matcher.find(text), now);
  }

  /**
   * The second half of `handle`: what this config's matcher found in a line
   * (here or on the matching thread, match/match-thread.ts), counted and
   * decided. Offences of a blocktype this config no longer has (found
   * before a reload, applied after it) are dropped.
   */
  apply(found: MatchResult, now: number): Outcome {
    let verdict = found.verdict;
    if (found.seen) this.sessions.note(found.seen.session, found.seen.ip, now, found.seen.start);
    if (found.byPid) verdict = this.#resolveByPid(verdict, found.byPid, now);
    if (verdict.kind === 'none') return { verdict, ignored: NO_IPS, decisions: NO_DECISIONS, repeated: NO_OFFENCES };
    if (verdict.kind === 'good') {
      if (this.#config.ignorenets.touches(verdict.ip, this.#v6prefix)) return { verdict, ignored: [verdict.ip], decisions: NO_DECISIONS, repeated: NO_OFFENCES };
      const ip = this.#counted(verdict.ip);
      this.windows.forget(ip, this.#names);
      return { verdict, ignored: NO_IPS, decisions: [{ kind: 'unblock', ip, targets: this.targets }], repeated: NO_OFFENCES };
    }
    let ignored: ParsedIp[] | undefined;
    let decisions: Decision[] | undefined;
    let repeated: Offence[] | undefined;
    for (const off of verdict.offences) {
      if (this.#config.ignorenets.touches(off.ip, this.#v6prefix)) {
        (ignored ??= []).push(off.ip);
        continue;
      }
      const bt = this.#byName.get(off.blocktype);
      if (bt === undefined) continue;
      if (off.rule.perProcess && !this.#firstEnd(found, bt.name, now)) {
        (repeated ??= []).push(off);
        continue;
      }
      const ip = this.#counted(off.ip);
      const count = this.windows.record(bt.name, ip, now, bt.interval * 1000, bt.minocc);
      if (count >= bt.minocc) {
        (decisions ??= []).push({
          kind: 'block',
          ip,
          target: bt.target,
          blocktype: bt.name,
          resetconns: bt.resetconns,
          bantime: bt.bantime,
          offences: count,
        });
      }
    }
    if (repeated !== undefined) verdict = withoutOffences(verdict, repeated);
    return { verdict, ignored: ignored ?? NO_IPS, decisions: decisions ?? NO_DECISIONS, repeated: repeated ?? NO_OFFENCES };
  }

  /**
   * Whether this line, a connection's end (Rule.perProcess), is the first
   * its process (the line's `prog[pid]`, which `seen` and `byPid` both
   * carry) writes for the blocktype. A line of no known process counts.
   */
  #firstEnd(found: MatchResult, blocktype: string, now: number): boolean {
    const session = found.seen?.session ?? found.byPid?.[0]?.session;
    return session === undefined || this.sessions.claimEnd(session, this.#endBits.get(blocktype)!, now);
  }

  /** Adds the offences of patterns that matched by process id, for blocktypes that have none yet. */
  #resolveByPid(verdict: Verdict, byPid: readonly { blocktype: string; session: string; rule: Offence['rule'] }[], now: number): Verdict {
    if (verdict.kind === 'good') return verdict;
    const offences: Offence[] = verdict.kind === 'bad' ? [...verdict.offences] : [];
    for (const p of byPid) {
      if (offences.some((o) => o.blocktype === p.blocktype)) continue;
      const ip = this.sessions.get(p.session, now);
      if (ip !== undefined) offences.push({ blocktype: p.blocktype, ip, rule: p.rule });
    }
    if (offences.length === 0) return verdict;
    return verdict.rejected ? { kind: 'bad', offences, rejected: verdict.rejected } : { kind: 'bad', offences };
  }

  /** Drops quiet windows; the daemon calls it now and then. */
  prune(now: number): number {
    return this.windows.prune(now, (name) => {
      const bt = this.#byName.get(name);
      return bt === undefined ? undefined : bt.interval * 1000;
    });
  }
}

/** `verdict` less the offences of `drop`, some of its own (a 'none' verdict when none is left) */
function withoutOffences(verdict: Verdict & { kind: 'bad' }, drop: readonly Offence[]): Verdict {
  // All of them, mostly: a line is one connection's end, for one blocktype.
  const offences = drop.length === verdict.offences.length ? NO_OFFENCES : verdict.offences.filter((o) => !drop.includes(o));
  if (offences.length > 0) return verdict.rejected ? { kind: 'bad', offences, rejected: verdict.rejected } : { kind: 'bad', offences };
  return verdict.rejected ? { kind: 'none', rejected: verdict.rejected } : NOTHING_LEFT;
}

const NOTHING_LEFT: Verdict = { kind: 'none' };

const NO_IPS: readonly ParsedIp[] = [];
const NO_DECISIONS: readonly Decision[] = [];
const NO_OFFENCES: readonly Offence[] = [];
