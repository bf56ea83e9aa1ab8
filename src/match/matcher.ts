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
 * A line is asked only the rules it can concern, found by two literal
 * keys, without changing the outcome (prefilter.ts):
 *   - its program: the first characters of its text pick a `Route`, which
 *     holds, of each list (goodpatterns, sessionpatterns, a blocktype),
 *     the rules whose literal prefix starts so, and those that have none;
 *     a line no pattern concerns costs one Map lookup. A route is made
 *     the first time a line of its key comes: with every preset included,
 *     making them all took 18 ms of each start (cold code reading ~70
 *     patterns), 9.5 made this way, and the keys of services the host does
 *     not run are never made;
 *   - its message: in each list of the route, a RuleList (rule-list.ts),
 *     the first characters after the tag (`sshd[42]: Failed ...`) pick
 *     the rules whose message can start so, asked as few expressions as
 *     it can.
 * A blocktype that defers to others (`deferTo`: pam-generic to sshd,
 * dovecot, vsftpd) is not asked the lines of the programs they have
 * patterns for: the lines that start with a literal prefix of one of their
 * patterns (`sshd`), which they count in their own words. Decided when the
 * route is made: where such a prefix is the whole key, the blocktype is
 * left out of the route; where it is longer, each line is checked for it.
 * With every preset included, an sshd line is asked 1 to 4 expressions,
 * each of the few rules its message can concern (measured on the bench
 * corpus: 182 000 expressions asked for 300 000 lines, 245 000 before the
 * message key).
 *
 * Some programs name the client on one line and report its failure on a
 * later line of the same process without it (sshd: `Connection from ADDR`,
 * then `fatal: ... [preauth]`). A blocktype pattern that captures `pid`
 * instead of `ip` is returned unresolved, keyed by `prog[pid]`, and
 * `seen` says which address the line's process showed (a sessionpattern, or
 * any pattern that captured an address); the engine keeps that memory, and
 * with it which blocktypes counted the end of that process's connection
 * (Rule.perProcess). A sessionpattern marks where a connection starts
 * (`seen.start`): a process that serves one client after another (postfix's
 * smtpd) may end each.
 */
import type { Rule } from '../config/schema.js';
import type { ParsedIp } from '../lib/ip.js';
import type { Offence, RejectedAddress, Verdict } from '../pipeline.js';
import { keyCode, keyLengthFor, messageStart, ruleLiterals } from './prefilter.js';
import { RuleList, sessionTag } from './rule-list.js';

const NONE: Verdict = { kind: 'none' };

/** What the matcher found; the engine turns it into the final Verdict. */
export interface MatchResult {
  readonly verdict: Verdict;
  /** blocktype patterns that matched by process id: their address is the one `session` showed before */
  readonly byPid?: readonly { blocktype: string; session: string; rule: Rule }[];
  /** this line's process (`prog[pid]`) and the address it named; `start`: named by a sessionpattern, where a connection starts */
  readonly seen?: { session: string; ip: ParsedIp; start: boolean };
}

const NOTHING: MatchResult = { verdict: NONE, byPid: undefined, seen: undefined };

/** What a matcher is built from: the rules of a config, and the names of its blocktypes. */
export interface MatcherConfig {
  readonly goodpatterns: readonly Rule[];
  readonly sessionpatterns?: readonly Rule[];
  /** `deferTo`: blocktypes whose programs' lines this one is not asked (deferredPrefixes) */
  readonly blocktypes: readonly { readonly name: string; readonly patterns: readonly Rule[]; readonly deferTo?: readonly string[] }[];
}

/**
 * Of each blocktype that `b` defers to and the config has, the literal
 * prefixes of its patterns (`sshd`; prefilter.ts, literalPrefixes): `b` is
 * not asked a line that starts with one. A pattern with no such prefix
 * (one that starts with a class or a group, or has the `i` flag) adds none.
 * Pure.
 */
export function deferredPrefixes(
  blocktypes: MatcherConfig['blocktypes'],
  b: MatcherConfig['blocktypes'][number],
): { blocktype: string; prefixes: string[] }[] {
  return (b.deferTo ?? []).flatMap((name) => {
    const other = blocktypes.find((x) => x.name === name && x !== b);
    if (other === undefined) return [];
    return [{ blocktype: name, prefixes: [...new Set(other.patterns.flatMap((r) => ruleLiterals(r).prefixes ?? []))].sort() }];
  });
}

/** Which lines of a route start with a prefix: all (`all`), those that start with one of `some`, or none (neither). */
interface Coverage {
  readonly all: boolean;
  readonly some: readonly string[];
}
const NO_PREFIXES: readonly string[] = [];

/**
 * Which lines of a route start with one of `prefixes` (undefined: any
 * line does). `key`: the route's, the first `k` characters of its lines;
 * undefined for the route of keys no rule names, whose lines no prefix of
 * a rule can start.
 */
function coverage(prefixes: readonly string[] | undefined, key: string | undefined, k: number): Coverage {
  if (prefixes === undefined) return { all: true, some: NO_PREFIXES };
  const mine = key === undefined ? [] : prefixes.filter((p) => p.slice(0, k) === key);
  return mine.some((p) => p.length === k) ? { all: true, some: NO_PREFIXES } : { all: false, some: mine.length > 0 ? mine : NO_PREFIXES };
}

/** whether `text` starts with one of `prefixes` */
function startsWithAny(text: string, prefixes: readonly string[]): boolean {
  for (let i = 0; i < prefixes.length; i++) if (text.startsWith(prefixes[i]!)) return true;
  return false;
}

/**
 * What a line is asked, by the first keyLength characters of its text: of
 * each list, the rules whose literal prefixes (prefilter.ts,
 * literalPrefixes) have that key, and those that have none. A list with
 * no such rule is left out; a rule left out cannot match such a line, so
 * the outcome is the one of asking every rule.
 */
interface Route {
  readonly good: RuleList | undefined;
  readonly sessions: RuleList | undefined;
  /** in config order; `unless`: lines that start with one of these are left to blocktypes this one defers to (mostly none) */
  readonly blocktypes: readonly { name: string; rules: RuleList; unless: readonly string[] }[];
  /** which of its lines the process's memory is noted for: those of the programs of the rules that need it (Rule.byPid, Rule.perProcess) */
  readonly notes: Coverage;
  /** no list at all: the line is none of the config's business */
  readonly empty: boolean;
}

export class Matcher {
  readonly #keyLength: number;
  /**
   * The routes of the keys rules name, by the key's text; `null` until a
   * line with that key comes (#routeOf): a config with every preset names
   * keys of a dozen services, and a host runs a few of them.
   */
  readonly #routes: Map<string, Route | null>;
  /** the same routes by keyCode, for keys of plain ASCII (all in practice): no substring made per line */
  readonly #routesByCode: Map<number, Route | null>;
  /** makes the route of a key (undefined: one no rule names) */
  readonly #route: (key: string | undefined) => Route;
  /** the route of a key no rule names */
  readonly #anyRoute: Route;
  /** whether any rule needs the process's memory (Rule.byPid, Rule.perProcess): only then are sessions noted, for the lines of the programs those rules are for (Route.notes) */
  readonly #trackSessions: boolean;
  /** the first rule of this line that matched without a usable address (reset by every find) */
  #rejected: RejectedAddress | undefined;
  readonly #note = (r: RejectedAddress): void => {
    this.#rejected ??= r;
  };

  constructor(config: MatcherConfig) {
    const sessionpatterns = config.sessionpatterns ?? [];
    const every = [...config.goodpatterns, ...sessionpatterns, ...config.blocktypes.flatMap((b) => b.patterns)];
    const k = keyLengthFor(every);
    this.#keyLength = k;
    const keysOf = new Map(every.map((r) => [r, ruleLiterals(r).prefixes?.map((w) => w.slice(0, k))] as const));
    const deferred = new Map(config.blocktypes.map((b) => [b, deferredPrefixes(config.blocktypes, b).flatMap((d) => d.prefixes)] as const));
    const byProcess = config.blocktypes.flatMap((b) => b.patterns.filter((r) => r.byPid || r.perProcess));
    // the programs those rules are for (their literal prefixes; none without such rules), or undefined: any program
    const sessionPrograms = byProcess.map((r) => ruleLiterals(r).prefix ?? '');
    const noted = sessionPrograms.includes('') ? undefined : [...new Set(sessionPrograms)];
    const route = (key: string | undefined): Route => {
      const list = (rules: readonly Rule[]) => {
        const some = rules.filter((r) => {
          const keys = keysOf.get(r);
          return keys === undefined || (key !== undefined && keys.includes(key));
        });
        return some.length > 0 ? new RuleList(some) : undefined;
      };
      const good = list(config.goodpatterns);
      const sessions = list(sessionpatterns);
      const blocktypes = config.blocktypes.flatMap((b) => {
        // the lines of this key that are left to the blocktypes b defers to
        const left = coverage(deferred.get(b), key, k);
        if (left.all) return [];
        const rules = list(b.patterns);
        return rules ? [{ name: b.name, rules, unless: left.some }] : [];
      });
      return { good, sessions, blocktypes, notes: coverage(noted, key, k), empty: !good && !sessions && blocktypes.length === 0 };
    };
    const keys = new Set([...keysOf.values()].flatMap((ks) => ks ?? []));
    this.#route = route;
    this.#routes = new Map([...keys].map((key) => [key, null]));
    this.#routesByCode = new Map([...keys].map((key) => [keyCode(key, 0, k), null] as const).filter(([code]) => code >= 0));
    this.#anyRoute = route(undefined);
    this.#trackSessions = byProcess.length > 0;
  }

  /** how many keys' routes have been made so far (tests) */
  get routesMade(): number {
    let n = 0;
    for (const r of this.#routes.values()) if (r !== null) n++;
    return n;
  }

  /** The verdict alone, for callers that keep no session memory. */
  match(text: string): Verdict {
    return this.find(text).verdict;
  }

  find(text: string): MatchResult {
    const k = this.#keyLength;
    const code = text.length < k ? -2 : keyCode(text, 0, k); // -1: not plain ASCII, looked up by its text
    let route = code >= 0 ? this.#routesByCode.get(code) : code === -1 ? this.#routes.get(text.slice(0, k)) : undefined;
    if (route === null) route = this.#routeOf(text.slice(0, k), code);
    route ??= this.#anyRoute;
    this.#rejected = undefined;
    const note = this.#note;
    const msgAt = route.empty ? -1 : messageStart(text);
    const good = route.good?.first(text, note, msgAt);
    if (good && 'ip' in good) {
      const verdict: Verdict = { kind: 'good', ip: good.ip, rule: good.rule };
      return { verdict, byPid: undefined, seen: seenOf(route, text, good.ip, msgAt, false) };
    }
    let offences: Offence[] | undefined;
    let byPid: { blocktype: string; session: string; rule: Rule }[] | undefined;
    for (const bt of route.blocktypes) {
      if (bt.unless.length > 0 && startsWithAny(text, bt.unless)) continue;
      const hit = bt.rules.first(text, note, msgAt);
      if (hit === undefined) continue;
      if ('ip' in hit) (offences ??= []).push({ blocktype: bt.name, ip: hit.ip, rule: hit.rule });
      else (byPid ??= []).push({ blocktype: bt.name, session: hit.session, rule: hit.rule });
    }
    const rejected = this.#rejected;
    let verdict: Verdict;
    if (offences) verdict = rejected ? { kind: 'bad', offences, rejected } : { kind: 'bad', offences };
    else verdict = rejected ? { kind: 'none', rejected } : NONE;
    if (!this.#trackSessions) return verdict === NONE ? NOTHING : { verdict, byPid: undefined, seen: undefined };
    let seenIp = offences?.[0]?.ip;
    let start = false;
    if (seenIp === undefined && route.sessions) {
      const s = route.sessions.first(text, note, msgAt);
      if (s && 'ip' in s) {
        seenIp = s.ip;
        start = true;
      }
    }
    const seen = seenIp ? seenOf(route, text, seenIp, msgAt, start) : undefined;
    // one object a line, of one shape
    return seen === undefined && byPid === undefined && verdict === NONE ? NOTHING : { verdict, byPid, seen };
  }

  /** The route of a key some rule names, made the first time a line has it. */
  #routeOf(key: string, code: number): Route {
    const r = this.#route(key);
    this.#routes.set(key, r);
    if (code >= 0) this.#routesByCode.set(code, r);
    return r;
  }

}

/** The process of the line (sessionTag) and the address it named, when the line's route notes them (MatchResult.seen). */
function seenOf(route: Route, text: string, ip: ParsedIp, msgAt: number, start: boolean): MatchResult['seen'] {
  const n = route.notes;
  if (!n.all && (n.some.length === 0 || !startsWithAny(text, n.some))) return undefined;
  const session = sessionTag(text, msgAt);
  if (session === undefined) return undefined;
  return { session, ip, start };
}
