/**
 * Line text to verdict: which good pattern or which blocktypes' patterns match,
 * and the address each captured. Pure.
 *
 * Order: good patterns first. A line that matches a good pattern is a good
 * line, whatever else it matches (a successful login must never count as a
 * failure). Otherwise each blocktype is asked in config order; within a
 * blocktype the first matching pattern wins, so a line is at most one offence
 * per blocktype.
 *
 * The captured text is parsed strictly (lib/ip.ts). A capture that is not a
 * literal address makes that match void; the line's other matches still count.
 *
 * prefilter.ts skips the patterns that cannot match a line, without changing
 * the outcome: a line no pattern concerns costs a few Set lookups.
 *
 * Some programs name the client on one line and report its failure on a
 * later line of the same process without it (sshd: `Connection from ADDR`,
 * then `fatal: ... [preauth]`). A blocktype pattern that captures `pid`
 * instead of `ip` is returned unresolved, keyed by `prog[pid]`, and
 * `seen` says which address the line's process showed (a sessionpattern, or
 * any pattern that captured an address); the engine keeps that memory.
 */
import type { Rule } from '../config/schema.js';
import { parseIp, type ParsedIp } from '../lib/ip.js';
import type { Offence, RejectedAddress, Verdict } from '../pipeline.js';
import { FilteredRules, keyLengthFor } from './prefilter.js';

const NONE: Verdict = { kind: 'none' };

/** What the matcher found; the engine turns it into the final Verdict. */
export interface MatchResult {
  readonly verdict: Verdict;
  /** blocktype patterns that matched by process id: their address is the one `session` showed before */
  readonly byPid?: readonly { blocktype: string; session: string; rule: Rule }[];
  /** this line's process (`prog[pid]`) and the address it named */
  readonly seen?: { session: string; ip: ParsedIp };
}

const NOTHING: MatchResult = { verdict: NONE };

/** What a matcher is built from: the rules of a config, and the names of its blocktypes. */
export interface MatcherConfig {
  readonly goodpatterns: readonly Rule[];
  readonly sessionpatterns?: readonly Rule[];
  readonly blocktypes: readonly { readonly name: string; readonly patterns: readonly Rule[] }[];
}
/** `prog[pid]: ` at the start of a line's text */
const TAG_RE = /^([^\s[\]:]+\[\d+\]): /;

type Hit = { ip: ParsedIp; rule: Rule } | { session: string; rule: Rule };

export class Matcher {
  readonly #good: FilteredRules;
  readonly #sessions: FilteredRules;
  readonly #blocktypes: readonly { name: string; rules: FilteredRules }[];
  readonly #keyLength: number;
  /** whether any rule works by process id: only then are sessions noted */
  readonly #trackSessions: boolean;
  /** the programs those rules are for (their literal prefixes), or undefined: any program */
  readonly #sessionPrograms: readonly string[] | undefined;
  /** the first rule of this line that matched without a usable address (reset by every find) */
  #rejected: RejectedAddress | undefined;
  readonly #note = (r: RejectedAddress): void => {
    this.#rejected ??= r;
  };

  constructor(config: MatcherConfig) {
    const sessionpatterns = config.sessionpatterns ?? [];
    this.#keyLength = keyLengthFor([...config.goodpatterns, ...sessionpatterns, ...config.blocktypes.flatMap((b) => b.patterns)]);
    this.#good = new FilteredRules(config.goodpatterns, this.#keyLength);
    this.#sessions = new FilteredRules(sessionpatterns, this.#keyLength);
    this.#blocktypes = config.blocktypes.map((b) => ({ name: b.name, rules: new FilteredRules(b.patterns, this.#keyLength) }));
    this.#trackSessions = config.blocktypes.some((b) => b.patterns.some((r) => r.byPid));
    const prefixes = this.#blocktypes.flatMap((b) => b.rules.rules.map((r, i) => (r.byPid ? b.rules.prefixes[i] ?? '' : undefined)).filter((p) => p !== undefined));
    this.#sessionPrograms = prefixes.includes('') ? undefined : [...new Set(prefixes)];
  }

  /** The verdict alone, for callers that keep no session memory. */
  match(text: string): Verdict {
    return this.find(text).verdict;
  }

  find(text: string): MatchResult {
    const key = text.slice(0, this.#keyLength);
    this.#rejected = undefined;
    const note = this.#note;
    const good = this.#good.mayMatch(key) ? firstMatch(this.#good, text, note) : undefined;
    if (good && 'ip' in good) return this.#withSeen({ verdict: { kind: 'good', ip: good.ip, rule: good.rule } }, text, good.ip);
    let offences: Offence[] | undefined;
    let byPid: { blocktype: string; session: string; rule: Rule }[] | undefined;
    for (const bt of this.#blocktypes) {
      if (!bt.rules.mayMatch(key)) continue;
      const hit = firstMatch(bt.rules, text, note);
      if (hit === undefined) continue;
      if ('ip' in hit) (offences ??= []).push({ blocktype: bt.name, ip: hit.ip, rule: hit.rule });
      else (byPid ??= []).push({ blocktype: bt.name, session: hit.session, rule: hit.rule });
    }
    const rejected = this.#rejected;
    let verdict: Verdict;
    if (offences) verdict = rejected ? { kind: 'bad', offences, rejected } : { kind: 'bad', offences };
    else verdict = rejected ? { kind: 'none', rejected } : NONE;
    if (!this.#trackSessions) return verdict === NONE ? NOTHING : { verdict };
    let seenIp = offences?.[0]?.ip;
    if (seenIp === undefined && this.#sessions.mayMatch(key)) {
      const s = firstMatch(this.#sessions, text, note);
      if (s && 'ip' in s) seenIp = s.ip;
    }
    const result = byPid ? { verdict, byPid } : { verdict };
    return seenIp ? this.#withSeen(result, text, seenIp) : result;
  }

  #withSeen(result: MatchResult, text: string, ip: ParsedIp): MatchResult {
    if (!this.#trackSessions || (this.#sessionPrograms !== undefined && !this.#sessionPrograms.some((p) => text.startsWith(p)))) return result;
    const tag = TAG_RE.exec(text);
    return tag ? { verdict: result.verdict, byPid: result.byPid, seen: { session: tag[1]!, ip } } : result;
  }
}

/** The first rule of the list that matches with a usable address (or a process id); rules that match without one are noted. */
function firstMatch(list: FilteredRules, text: string, note: (r: RejectedAddress) => void): Hit | undefined {
  for (let i = 0; i < list.rules.length; i++) {
    const p = list.prefixes[i];
    if (p !== undefined && !text.startsWith(p)) continue;
    const inf = list.infixes[i];
    if (inf !== undefined && !text.includes(inf)) continue;
    const rule = list.rules[i]!;
    if (rule.byPid) {
      const m = rule.regex.exec(text);
      const tag = m === null ? null : TAG_RE.exec(text);
      if (tag) return { session: tag[1]!, rule };
      continue;
    }
    const got = capture(rule, text);
    if (got === undefined) continue;
    if (typeof got === 'string') {
      note({ raw: text, reason: got, rule });
      continue;
    }
    return { ip: got, rule };
  }
  return undefined;
}

/** undefined: no match; string: matched but the capture is not an address (why); else the address */
function capture(rule: Rule, text: string): ParsedIp | string | undefined {
  const m = rule.regex.exec(text);
  if (m === null) return undefined;
  const raw = m.groups?.['ip'];
  if (raw === undefined) return `the ip group of ${rule.where} took part in no match`;
  const ip = parseIp(raw);
  return ip.ok ? ip.value : `${ip.reason}: '${truncate(raw)}'`;
}

function truncate(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}
