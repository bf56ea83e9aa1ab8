/**
 * One ordered list of rules (the goodpatterns, the sessionpatterns, or one
 * blocktype's patterns) and the one question the matcher asks of it: which
 * is the first rule whose pattern matches this line with a usable capture?
 * Pure.
 *
 * Which rules a line is asked: those whose message words (prefilter.ts,
 * messageWords) hold the line's message key, and those that have none, in
 * list order. A rule left out cannot match the line, so the first of the
 * others to match is the first of all. The units (below) of each key are
 * made the first time a line with that key comes: a config names a few
 * dozen keys, and a host logs few of them; any other key is the
 * ANY_MESSAGE one, so what a line can make is bounded by the config.
 *
 * Why the rules are joined: a line that concerns a list is usually tried
 * against several of its rules before one matches, and each try is a regex
 * call plus the prefilter's string searches (measured: with every preset,
 * 25 sshd rules cost 1.1 µs per sshd line in `includes` alone). So runs of
 * consecutive rules that allow it are joined into one expression (a run of
 * one too: with its other groups made non-capturing and no named groups,
 * a match costs less; measured 13% less matching time with the 10-pattern
 * config, whose one good pattern is such a run),
 *
 *     ^(?:A|B|C)              A, B, C: the rules' patterns without their `^`
 *
 * or, when they all start with the same fixed head H (`sshd\[\d+\]: `, one
 * way to match it at most: regex-source.ts, `fixedHead`), `^H(?:A'|B'|C')`
 * with H matched once instead of once per alternative (measured on the sshd
 * preset's 25 rules: 0.39-0.57 µs per sshd line joined, 0.23 factored),
 * and asked once. Anchored at the start, a backtracking engine tries A, then
 * B, then C at position 0, each exactly as it would alone, so the first
 * alternative that matches is the first rule that matches, with the same
 * captures. Each alternative keeps one capturing group, its `ip` (or `pid`;
 * a plain `(?<pid>\d+)` becomes `\d+` and an empty group at the end, since
 * only the tag is read of such a line, so that these rules share the
 * others' head). Which alternative matched is the one whose group took part
 * in the match; where the group may not (it is optional, or inside another
 * group), an empty group closing the alternative (A()) tells instead: its
 * capture is '' when, and only when, that alternative matched.
 *
 * A rule is joined only when that cannot change an outcome or weaken a
 * guarantee:
 *   - it starts with `^` and has no top-level `|` (else `^` would not apply
 *     to the whole of it);
 *   - V8's linear-time engine can run it (Rule.linear, found when the
 *     config was loaded; regex-engine.ts): that excludes backreferences,
 *     whose numbers joining would shift, lookaround, and the `i` flag; and
 *     the joined expression must be linear too, so the fallback that
 *     protects against crafted lines keeps covering every rule.
 * Its groups are found by their opening parentheses (regex-source.ts,
 * `captureGroups`), as JavaScript numbers them; the unit tests hold that
 * count against V8's for every shipped pattern.
 * Any other rule is asked alone, after its literal prefix and required
 * literal (prefilter.ts) are found in the line.
 *
 * When the first rule to match captures no usable address, that is noted
 * (the caller reports it) and the rules after it are asked one by one, as
 * they would be without joining.
 */
import type { Rule } from '../config/schema.js';
import { parseIp, type Parsed, type ParsedIp } from '../lib/ip.js';
import type { RejectedAddress } from '../pipeline.js';
import { messageCode, messageStart, ruleLiterals } from './prefilter.js';
import { runsInLinearTime } from './regex-engine.js';
import { captureGroups, fixedHead, groupEnd, hasTopLevelAlternation, isQuantifier, syntaxChars } from './regex-source.js';

/**
 * The process of a line, `prog[pid]` (as `^([^\s[\]:]+\[\d+\]): ` would
 * capture it), or undefined when its text does not start so. `msgAt`:
 * where its message starts (prefilter.ts, messageStart). Read by character
 * codes: it runs for every line that names an address when sessions are
 * kept.
 */
export function sessionTag(text: string, msgAt = messageStart(text)): string | undefined {
  const end = msgAt - 2; // the `:`
  if (end < 4 || text.charCodeAt(end - 1) !== 93) return undefined; // `]`
  let i = end - 2;
  while (i > 0 && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i--;
  if (i === end - 2 || text.charCodeAt(i) !== 91 || i === 0) return undefined; // `[`, after one digit at least and a name
  for (let j = 0; j < i; j++) if (!isTagChar(text.charCodeAt(j))) return undefined;
  return text.slice(0, end);
}

/** a character of a program's name: not `[`, `]`, `:` or any character `\s` matches */
function isTagChar(c: number): boolean {
  if (c === 91 || c === 93 || c === 58 || c === 32 || (c >= 9 && c <= 13)) return false;
  if (c < 160) return true;
  return !(c === 160 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff);
}

/** What a list found: an address, or (for a rule that captures `pid`) the process whose address counts. */
export type Hit = { ip: ParsedIp; rule: Rule } | { session: string; rule: Rule };

/** A rule asked alone, behind its literal filters. */
interface Single {
  readonly rule: Rule;
  readonly prefix: string | undefined;
  readonly infix: string | undefined;
}

/** Consecutive rules asked as one expression (`join`). */
interface Joined {
  readonly regex: RegExp;
  readonly rules: readonly Rule[];
  /** per rule: the group of its capture, and of its closing empty group (0: it has none, its capture tells) */
  readonly captures: readonly number[];
  readonly markers: readonly number[];
  /** a literal every rule's matches contain, when the routes say little about them (units): pam-generic's, postfix's `reject: ` */
  readonly infix: string | undefined;
}

type Unit = Single | Joined;

/** the message key of a line whose key no rule names (messageCode is never negative but for -1) */
const ANY_MESSAGE = -1;

export class RuleList {
  readonly rules: readonly Rule[];
  /** per rule: the literal its matches start with */
  readonly #prefixes: readonly (string | undefined)[];
  /** per rule: the message keys (messageCode) of the words its matches' messages start with (prefilter.ts, messageWords), or undefined: any message */
  readonly #keys: readonly (readonly number[] | undefined)[];
  /** the message keys some rule names */
  readonly #named: ReadonlySet<number>;
  /**
   * By message key: what a line with that key is asked (null: not made
   * yet), for every key some rule names; ANY_MESSAGE once made: a line
   * whose message key no rule names. Made as keys are met: a config names
   * few keys, and most are never met on a given host.
   */
  readonly #byMessage: Map<number, readonly Unit[] | null>;
  /** #byMessage's ANY_MESSAGE units, for the lines of most messages without a lookup */
  #any: readonly Unit[] | undefined;
  /** the same rules (by their indexes) are cut into units once, whichever keys share them */
  readonly #made = new Map<string, readonly Unit[]>();

  /** `byMessage: false`: every line is asked the same units (tests of the joining alone) */
  constructor(rules: readonly Rule[], opts: { byMessage?: boolean } = {}) {
    this.rules = rules;
    this.#prefixes = rules.map((r) => ruleLiterals(r).prefix);
    this.#keys = rules.map((r) => (opts.byMessage === false ? undefined : ruleLiterals(r).words?.map((w) => messageCode(w, 0))));
    this.#named = new Set(this.#keys.flatMap((k) => k ?? []));
    // every key some rule names, null until made: one lookup a line tells a named key from any other and finds its units
    this.#byMessage = new Map([...this.#named].map((code) => [code, null]));
  }

  /** how many expressions the line that concerns the most rules is asked against (tests) */
  get expressions(): number {
    return Math.max(...this.#everyUnits().map((u) => u.length));
  }

  /** the joined expressions' sources, each once (tests) */
  get joinedSources(): string[] {
    return [...new Set(this.#everyUnits().flat())].flatMap((u) => ('regex' in u ? [u.regex.source] : []));
  }

  #everyUnits(): (readonly Unit[])[] {
    return [ANY_MESSAGE, ...this.#named].map((code) => this.#unitsFor(code));
  }

  /** What a line with this message key (one of #named, or ANY_MESSAGE) is asked. */
  #unitsFor(code: number): readonly Unit[] {
    const made = this.#byMessage.get(code);
    if (made) return made;
    const at = this.rules.flatMap((_, i) => {
      const keys = this.#keys[i];
      return keys === undefined || keys.includes(code) ? [i] : [];
    });
    const id = at.join(',');
    let u = this.#made.get(id);
    if (u === undefined) {
      u = units(at.map((i) => this.rules[i]!), at.map((i) => this.#prefixes[i]), at.map((i) => this.#keys[i] !== undefined));
      this.#made.set(id, u);
    }
    this.#byMessage.set(code, u);
    return u;
  }

  /**
   * The first rule that matches with a usable address (or process); rules that match without one are `note`d.
   * `msgAt`: the text's messageStart (prefilter.ts), when the caller has it already.
   */
  first(text: string, note: (r: RejectedAddress) => void, msgAt = messageStart(text)): Hit | undefined {
    const code = msgAt < 0 ? ANY_MESSAGE : messageCode(text, msgAt);
    const named = this.#byMessage.get(code);
    const units = named === undefined ? (this.#any ??= this.#unitsFor(ANY_MESSAGE)) : (named ?? this.#unitsFor(code));
    for (const u of units) {
      if (!('regex' in u)) {
        const hit = askFiltered(u, text, note);
        if (hit !== undefined) return hit;
        continue;
      }
      if (u.infix !== undefined && !text.includes(u.infix)) continue;
      const m = u.regex.exec(text);
      if (m === null) continue;
      // The alternative that matched: the one whose capture, or closing empty group, took part.
      let k = 0;
      while (k < u.rules.length && m[u.captures[k]!] === undefined && (u.markers[k] === 0 || m[u.markers[k]!] === undefined)) k++;
      if (k < u.rules.length) {
        const hit = hitOf(u.rules[k]!, m[u.captures[k]!], text, note);
        if (hit !== undefined) return hit;
      } else {
        k = -1; // cannot happen (unless a group judged sure did not take part): ask them all, one by one
      }
      for (let j = k + 1; j < u.rules.length; j++) {
        const next = ask(u.rules[j]!, text, note);
        if (next !== undefined) return next;
      }
    }
    return undefined;
  }
}

function askFiltered(s: Single, text: string, note: (r: RejectedAddress) => void): Hit | undefined {
  if (s.prefix !== undefined && !text.startsWith(s.prefix)) return undefined;
  if (s.infix !== undefined && !text.includes(s.infix)) return undefined;
  return ask(s.rule, text, note);
}

/** One rule on its own. */
function ask(rule: Rule, text: string, note: (r: RejectedAddress) => void): Hit | undefined {
  const m = rule.regex.exec(text);
  if (m === null) return undefined;
  return hitOf(rule, rule.byPid ? m.groups?.['pid'] : m.groups?.['ip'], text, note);
}

/** `rule` matched and its group captured `raw`: the hit, or undefined (noted when the address is unusable). */
function hitOf(rule: Rule, raw: string | undefined, text: string, note: (r: RejectedAddress) => void): Hit | undefined {
  if (rule.byPid) {
    const session = sessionTag(text);
    return session === undefined ? undefined : { session, rule };
  }
  if (raw === undefined) {
    note({ raw: text, reason: `the ip group of ${rule.where} took part in no match`, rule });
    return undefined;
  }
  const ip = parseCaptured(raw);
  if (ip.ok) return { ip: ip.value, rule };
  note({ raw: text, reason: `${ip.reason}: '${truncate(raw)}'`, rule });
  return undefined;
}

/**
 * parseIp of the address a pattern captured, the same object again when the
 * text is the one captured last: the lines of one connection, and an
 * attacker's tries, name one address in a row (on the bench corpus, 69% of
 * the captures with every preset, 52% with the 10-pattern config). A
 * ParsedIp is never changed once made, so sharing it is safe.
 */
let lastRaw = '';
let lastParsed: Parsed<ParsedIp> = { ok: false, reason: 'empty address' };
function parseCaptured(raw: string): Parsed<ParsedIp> {
  if (raw !== lastRaw) {
    lastParsed = parseIp(raw);
    lastRaw = raw;
  }
  return lastParsed;
}

function truncate(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

/** The rules cut into units, in order: maximal runs of joinable rules, and the others alone. */
function units(rules: readonly Rule[], prefixes: readonly (string | undefined)[], keyed: readonly boolean[]): Unit[] {
  const out: Unit[] = [];
  let run: (Alternative & { rule: Rule; i: number })[] = [];
  const single = (rule: Rule, i: number): Single => {
    const prefix = prefixes[i];
    const inf = ruleLiterals(rule).required;
    // The required literal is worth a search only where it says more than the prefix.
    const infix = inf !== undefined && (prefix === undefined || !prefix.includes(inf)) && inf.length > (prefix === undefined ? 0 : 4) ? inf : undefined;
    return { rule, prefix, infix };
  };
  const close = () => {
    // A run the routes say little about (no prefix, or no message words: every line of its program is
    // asked it) is asked only of lines that hold a literal all its rules require, if there is one.
    const unrouted = run.every((r) => prefixes[r.i] === undefined || !keyed[r.i]);
    const infix = unrouted ? sharedLiteral(run.map((r) => r.rule)) : undefined;
    const joined = run.length > 0 ? join(run, infix !== undefined && !run.some((r) => prefixes[r.i]?.includes(infix)) ? infix : undefined) : undefined;
    if (joined !== undefined) out.push(joined);
    else for (const r of run) out.push(single(r.rule, r.i));
    run = [];
  };
  rules.forEach((rule, i) => {
    const alt = alternative(rule);
    if (alt === undefined) {
      close();
      out.push(single(rule, i));
    } else {
      run.push({ ...alt, rule, i });
    }
  });
  close();
  return out;
}

/** A rule's pattern as one alternative of a joined expression. */
interface Alternative {
  /** the pattern without its `^`, with one capturing group: its `ip` (or `pid`) group */
  readonly alt: string;
  /** whether that group takes part in every match of it (it is outside every other group, and not optional) */
  readonly sure: boolean;
}

/**
 * A rule's pattern as an alternative of a joined expression: its groups
 * other than `ip` (or `pid`) become non-capturing (nothing refers to them:
 * a linear pattern has no backreferences), so a match fills one or two
 * slots per alternative, not one per group of every rule (measured on
 * sshd's 25 rules: 0.19 µs per line with one slot each, 0.25 with two).
 */
function alternative(rule: Rule): Alternative | undefined {
  const src = rule.regex.source;
  if (rule.linear !== true || rule.regex.flags !== '' || !src.startsWith('^') || hasTopLevelAlternation(src)) return undefined;
  const name = rule.byPid ? 'pid' : 'ip';
  const groups = captureGroups(src);
  if (!groups.some((g) => g.name === name)) return undefined;
  let body = '';
  let from = 1;
  let placeholder = false;
  let sure = false;
  for (const g of groups) {
    if (rule.byPid && g.name === 'pid' && src.startsWith(PLAIN_PID, g.i) && !isQuantifier(src[g.i + PLAIN_PID.length])) {
      // What the pid group captures is never read (hitOf takes the process from the tag), only that
      // the rule matched: as plain `\d+`, the rule starts like the others (`sshd\[\d+\]: `), and they
      // share that head (join). An empty group at the end keeps the capture's place.
      body += `${src.slice(from, g.i)}\\d+`;
      from = g.i + PLAIN_PID.length;
      placeholder = true;
      continue;
    }
    if (g.name === name) sure = groupDepth(src, g.i) === 0 && !isQuantifier(src[groupEnd(src, g.i)]);
    body += `${src.slice(from, g.i)}${g.name === name ? '(' : '(?:'}`;
    from = g.name === undefined ? g.i + 1 : g.i + 4 + g.name.length; // past `(` or `(?<name>`
  }
  // The placeholder closes the pattern: it takes part in every match.
  return { alt: body + src.slice(from) + (placeholder ? '()' : ''), sure: sure || placeholder };
}

/** how many groups are open at the `(` at `i` (0: it is at the top level of the pattern) */
function groupDepth(src: string, i: number): number {
  for (const s of syntaxChars(src)) if (s.i === i) return s.depth;
  return -1;
}

/** the pid group as the presets write it */
const PLAIN_PID = '(?<pid>\\d+)';

/**
 * The alternatives' groups are numbered in order: each one's capture, then
 * its closing empty group if it has one. V8 counts the groups of the joined
 * expression too: if its count is not the one expected (a construct the
 * scan in regex-source.ts reads otherwise than V8 does, a repeated group
 * name where V8 allows them), the rules are asked one by one instead.
 */
function join(run: readonly (Alternative & { rule: Rule })[], infix: string | undefined): Joined | undefined {
  const head = commonHead(run.map((r) => r.alt));
  const captures: number[] = [];
  const markers: number[] = [];
  let group = 1;
  for (const r of run) {
    captures.push(group++);
    markers.push(r.sure ? 0 : group++);
  }
  const source = `^${head}(?:${run.map((r) => `${r.alt.slice(head.length)}${r.sure ? '' : '()'}`).join('|')})`;
  if (runsInLinearTime(source, '') !== true || groupCount(source) !== group - 1) return undefined;
  return { regex: new RegExp(source), rules: run.map((r) => r.rule), captures, markers, infix };
}

/**
 * The longest fixed head (regex-source.ts, `fixedHead`) that every
 * alternative starts with, '' if none: matched once, before them, instead
 * of once per alternative. A cut in the middle of a piece of a head (`x\d+`
 * of `x\d+\]`) is no longer fixed, and fixedHead drops that piece.
 */
function commonHead(alts: readonly string[]): string {
  let common = fixedHead(alts[0]!);
  for (const a of alts) {
    const head = fixedHead(a);
    let n = 0;
    while (n < common.length && n < head.length && common[n] === head[n]) n++;
    common = common.slice(0, n);
  }
  return fixedHead(common);
}

/**
 * V8's count of an expression's capturing groups (it matches the empty string through the added
 * `|`). Counted by the linear engine (`l`), which `join` has made sure can run it: both read the
 * same parse, and the linear engine compiles about ten times faster (0.5 against 5 ms for the
 * joined expressions of every preset, made as the corpus's first lines come).
 */
function groupCount(source: string): number {
  try {
    return new RegExp(`(?:${source})|`, 'l').exec('')!.length - 1;
  } catch {
    return -1; // not expected (runsInLinearTime said yes); the rules are then asked one by one
  }
}

/** The literal that every rule requires, when they all require the same one (prefilter.ts). */
function sharedLiteral(rules: readonly Rule[]): string | undefined {
  const lits = new Set(rules.map((r) => ruleLiterals(r).required));
  return lits.size === 1 ? [...lits][0] : undefined;
}
