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
 * Each list of rules (goodpatterns, sessionpatterns, a blocktype) is a
 * RuleList (rule-list.ts), which asks its rules as few expressions as it
 * can. The lists a line can concern at all are found by the first
 * characters of its text (`Route`), without changing the outcome: a line no
 * pattern concerns costs one Map lookup.
 *
 * Some programs name the client on one line and report its failure on a
 * later line of the same process without it (sshd: `Connection from ADDR`,
 * then `fatal: ... [preauth]`). A blocktype pattern that captures `pid`
 * instead of `ip` is returned unresolved, keyed by `prog[pid]`, and
 * `seen` says which address the line's process showed (a sessionpattern, or
 * any pattern that captured an address); the engine keeps that memory.
 */
import type { Rule } from '../config/schema.js';
import type { ParsedIp } from '../lib/ip.js';
import type { Offence, RejectedAddress, Verdict } from '../pipeline.js';
import { keyLengthFor } from './prefilter.js';
import { RuleList, TAG_RE } from './rule-list.js';

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
/**
 * The lists a line may concern, by the first keyLength characters of its
 * text: a list whose every rule has a literal prefix is in the routes of
 * those prefixes' keys only; any other list is in every route.
 */
interface Route {
  readonly good: boolean;
  readonly sessions: boolean;
  /** in config order */
  readonly blocktypes: readonly { name: string; rules: RuleList }[];
}

export class Matcher {
  readonly #good: RuleList;
  readonly #sessions: RuleList;
  readonly #keyLength: number;
  readonly #routes: ReadonlyMap<string, Route>;
  /** the same routes by routeCode, for keys of plain ASCII (all in practice): no substring made per line */
  readonly #routesByCode: ReadonlyMap<number, Route>;
  /** the route of a key no list names */
  readonly #anyRoute: Route;
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
    this.#good = new RuleList(config.goodpatterns, this.#keyLength);
    this.#sessions = new RuleList(sessionpatterns, this.#keyLength);
    const blocktypes = config.blocktypes.map((b) => ({ name: b.name, rules: new RuleList(b.patterns, this.#keyLength) }));
    const route = (key: string | undefined): Route => {
      const may = (l: RuleList) => l.keys === undefined || (key !== undefined && l.keys.has(key));
      return { good: may(this.#good), sessions: may(this.#sessions), blocktypes: blocktypes.filter((b) => may(b.rules)) };
    };
    const keys = new Set([this.#good, this.#sessions, ...blocktypes.map((b) => b.rules)].flatMap((l) => [...(l.keys ?? [])]));
    this.#routes = new Map([...keys].map((k) => [k, route(k)]));
    this.#routesByCode = new Map([...this.#routes].map(([k, r]) => [routeCode(k, this.#keyLength), r] as const).filter(([code]) => code >= 0));
    this.#anyRoute = route(undefined);
    this.#trackSessions = config.blocktypes.some((b) => b.patterns.some((r) => r.byPid));
    const prefixes = blocktypes.flatMap((b) => b.rules.rules.map((r, i) => (r.byPid ? b.rules.prefixes[i] ?? '' : undefined)).filter((p) => p !== undefined));
    this.#sessionPrograms = prefixes.includes('') ? undefined : [...new Set(prefixes)];
  }

  /** The verdict alone, for callers that keep no session memory. */
  match(text: string): Verdict {
    return this.find(text).verdict;
  }

  find(text: string): MatchResult {
    const k = this.#keyLength;
    const code = text.length < k ? -2 : routeCode(text, k);
    const route = (code >= 0 ? this.#routesByCode.get(code) : code === -1 ? this.#routes.get(text.slice(0, k)) : undefined) ?? this.#anyRoute;
    this.#rejected = undefined;
    const note = this.#note;
    const good = route.good ? this.#good.first(text, note) : undefined;
    if (good && 'ip' in good) return this.#withSeen({ verdict: { kind: 'good', ip: good.ip, rule: good.rule } }, text, good.ip);
    let offences: Offence[] | undefined;
    let byPid: { blocktype: string; session: string; rule: Rule }[] | undefined;
    for (const bt of route.blocktypes) {
      const hit = bt.rules.first(text, note);
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
    if (seenIp === undefined && route.sessions) {
      const s = this.#sessions.first(text, note);
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

/**
 * The first `length` (at most 4) characters of `s` as one small
 * integer, 7 bits each, or -1 when one of them is not ASCII (or is NUL): such
 * a key is looked up by its text instead.
 */
function routeCode(s: string, length: number): number {
  let code = 0;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (!(c > 0 && c < 128)) return -1;
    code = (code << 7) | c;
  }
  return code;
}
