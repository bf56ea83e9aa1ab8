/**
 * Walking a pattern's source text: the one place that knows how escapes and
 * character classes hide characters from the pattern's structure. The lint
 * and the prefilter read patterns through it.
 */

export interface SyntaxChar {
  readonly c: string;
  readonly i: number;
  /** groups open before this character (for a `)`, counting the group it closes) */
  readonly depth: number;
}

/**
 * Each character that is syntax, i.e. not escaped and not inside a `[...]`
 * class, from `from` on. A class starts at its `[`; a `]` right after
 * `[` or `[^` belongs to the class, as Perl reads it (JavaScript reads `[]`
 * and `[^]` as whole classes; rules.ts refuses patterns where the two differ,
 * so no compiled rule has one).
 */
export function* syntaxChars(src: string, from = 0): Generator<SyntaxChar> {
  let depth = 0;
  for (let i = from; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      i = classEnd(src, i) - 1;
      continue;
    }
    yield { c, i, depth };
    if (c === '(') depth++;
    else if (c === ')') depth--;
  }
}

/** index after the `]` closing the class that opens at `i` */
export function classEnd(src: string, i: number): number {
  let j = i + 1;
  if (src[j] === '^') j++;
  if (src[j] === ']') j++;
  for (; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === ']') return j + 1;
  }
  return src.length;
}

/** index after the `)` closing the group that opens at `i` */
export function groupEnd(src: string, i: number): number {
  for (const s of syntaxChars(src, i)) if (s.c === ')' && s.depth === 1) return s.i + 1;
  return src.length;
}

export function hasTopLevelAlternation(src: string): boolean {
  for (const s of syntaxChars(src)) if (s.c === '|' && s.depth === 0) return true;
  return false;
}

/** One capturing group of a pattern: where its `(` is, and its name if it has one. */
export interface CaptureGroup {
  readonly i: number;
  readonly name: string | undefined;
}

/** The capturing groups, in the order JavaScript numbers them (by their opening parenthesis). */
export function captureGroups(src: string): CaptureGroup[] {
  const out: CaptureGroup[] = [];
  for (const { c, i } of syntaxChars(src)) {
    if (c !== '(') continue;
    if (src[i + 1] !== '?') {
      out.push({ i, name: undefined });
    } else if (src[i + 2] === '<' && src[i + 3] !== '=' && src[i + 3] !== '!') {
      const close = src.indexOf('>', i + 3);
      out.push({ i, name: src.slice(i + 3, close < 0 ? src.length : close) });
    }
  }
  return out;
}

/** the characters `\d`, `\w` and `\s` stand for, as tests on one character */
const CLASS_ESCAPES: Record<string, (c: string) => boolean> = {
  d: (c) => c >= '0' && c <= '9',
  w: (c) => /\w/.test(c),
  s: (c) => /\s/.test(c),
};

/**
 * The longest start of a pattern body (no leading `^`) that can match a
 * given text in one way at most: literal characters; `\d+` (or `\w+`,
 * `\s+`, with `*` too) followed by a literal character the class does not
 * hold, like `sshd\[\d+\]: `; and an optional group of literal characters
 * followed by a literal character its first one is not, like the
 * `(?:-session)?\[` of `sshd(?:-session)?\[\d+\]: ` (OpenSSH 9.8 and later
 * log as `sshd-session`). Greedy repetition cannot give back characters
 * there without the literal after it failing, nor can the group be left
 * out where it matched, so no backtracking ever re-enters the head:
 * `^H(?:A|B)` then finds exactly what `^(?:HA|HB)` finds, with the same
 * groups (the head has none). rule-list.ts joins rules that share one this
 * way. Returns '' when there is no such start.
 */
export function fixedHead(body: string): string {
  let end = 0;
  let i = 0;
  const quantified = (at: number) => isQuantifier(body[at]);
  for (;;) {
    const lit = literalAt(body, i);
    if (lit !== undefined) {
      if (quantified(i + lit.len)) break;
      i += lit.len;
      end = i;
      continue;
    }
    const optional = optionalLiterals(body, i);
    if (optional !== undefined) {
      const next = literalAt(body, optional.end);
      if (next === undefined || quantified(optional.end + next.len) || next.ch === optional.first) break;
      i = optional.end + next.len;
      end = i;
      continue;
    }
    const inClass = body[i] === '\\' ? CLASS_ESCAPES[body[i + 1] ?? ''] : undefined;
    if (inClass === undefined || (body[i + 2] !== '+' && body[i + 2] !== '*')) break;
    const next = literalAt(body, i + 3);
    if (next === undefined || quantified(i + 3 + next.len) || inClass(next.ch)) break;
    i += 3 + next.len;
    end = i;
  }
  return body.slice(0, end);
}

/** `(?:LITERALS)?` at `at`, non-empty and not lazy: its first character and where the source goes on past it; or undefined. */
function optionalLiterals(src: string, at: number): { first: string; end: number } | undefined {
  if (!src.startsWith('(?:', at)) return undefined;
  let i = at + 3;
  let first: string | undefined;
  for (let lit = literalAt(src, i); lit !== undefined && !isQuantifier(src[i + lit.len]); lit = literalAt(src, i)) {
    first ??= lit.ch;
    i += lit.len;
  }
  if (first === undefined || src[i] !== ')' || src[i + 1] !== '?' || isQuantifier(src[i + 2])) return undefined;
  return { first, end: i + 2 };
}

/** The literal character at `at` (a plain one, or escaped punctuation) and its length in the source, or undefined. */
export function literalAt(src: string, at: number): { len: number; ch: string } | undefined {
  const c = src[at];
  if (c === undefined) return undefined;
  if (c === '\\') {
    const e = src[at + 1];
    return e === undefined || /[A-Za-z0-9]/.test(e) ? undefined : { len: 2, ch: e };
  }
  return '.[](){}*+?|^$'.includes(c) ? undefined : { len: 1, ch: c };
}

/** whether `c` starts a quantifier (`?`, `*`, `+`, `{`) */
export function isQuantifier(c: string | undefined): boolean {
  return c !== undefined && '?*+{'.includes(c);
}

/**
 * A pattern read as a tree, as far as the prefilter needs it: what one
 * character may be, groups of alternatives, repeats. Anything it does not
 * model (anchors, lookaround, backreferences, `\b`, `\p{...}`, `\x41`) is
 * `other`, and the prefilter then assumes nothing about that pattern.
 */
export type PatternNode =
  /** one character: the ones it may be (undefined: too many to list), and whether `:` is one of them */
  | { readonly k: 'char'; readonly chars: readonly string[] | undefined; readonly colon: boolean }
  | { readonly k: 'group'; readonly alts: readonly (readonly PatternNode[])[] }
  | { readonly k: 'repeat'; readonly node: PatternNode; readonly min: number; readonly max: number }
  | { readonly k: 'other' };

/** classes listed character by character up to this many; a larger one is "too many to list" */
const LISTED_CLASS = 8;

/** `src` (a pattern body, flags '') as a sequence of nodes; a top-level `|` gives one group. */
export function parsePattern(src: string): PatternNode[] {
  const p = { i: 0 };
  const alts = parseAlternatives(src, p);
  if (p.i < src.length) return [OTHER]; // a `)` that closes nothing: not a pattern this reads
  return alts.length === 1 ? alts[0]! : [{ k: 'group', alts }];
}

function parseAlternatives(src: string, p: { i: number }): PatternNode[][] {
  const alts: PatternNode[][] = [[]];
  while (p.i < src.length) {
    const c = src[p.i]!;
    if (c === ')') break;
    if (c === '|') {
      p.i++;
      alts.push([]);
      continue;
    }
    const atom = parseAtom(src, p);
    alts[alts.length - 1]!.push(parseQuantifier(src, p, atom));
  }
  return alts;
}

function parseAtom(src: string, p: { i: number }): PatternNode {
  const c = src[p.i]!;
  if (c === '(') {
    const open = p.i;
    const lookaround = src.startsWith('(?=', open) || src.startsWith('(?!', open) || src.startsWith('(?<=', open) || src.startsWith('(?<!', open);
    p.i = src.startsWith('(?:', open) ? open + 3 : src.startsWith('(?<', open) && !lookaround ? src.indexOf('>', open) + 1 : open + 1;
    if (lookaround || p.i === 0) {
      p.i = groupEnd(src, open);
      return OTHER;
    }
    const alts = parseAlternatives(src, p);
    p.i++; // the `)`
    return { k: 'group', alts };
  }
  if (c === '[') {
    const end = classEnd(src, p.i);
    const node = classNode(src.slice(p.i + 1, end - 1));
    p.i = end;
    return node;
  }
  if (c === '\\') {
    const e = src[p.i + 1] ?? '';
    p.i += 2;
    const named = ESCAPE_CLASSES[e];
    if (named !== undefined) return named;
    if (CONTROL_ESCAPES[e] !== undefined) return one(CONTROL_ESCAPES[e]);
    return /[A-Za-z0-9]/.test(e) || e === '' ? OTHER : one(e);
  }
  p.i++;
  if (c === '.') return ANY_CHAR;
  if (c === '^' || c === '$') return OTHER;
  return one(c);
}

function parseQuantifier(src: string, p: { i: number }, node: PatternNode): PatternNode {
  const c = src[p.i];
  let min: number;
  let max: number;
  if (c === '?' || c === '*' || c === '+') {
    p.i++;
    [min, max] = c === '?' ? [0, 1] : c === '*' ? [0, Infinity] : [1, Infinity];
  } else if (c === '{') {
    // JavaScript reads a `{` that opens no valid count as a literal: the next atom.
    const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(p.i));
    if (m === null) return node;
    p.i += m[0].length;
    min = Number(m[1]);
    max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
  } else {
    return node;
  }
  if (src[p.i] === '?') p.i++; // lazy: the same characters, in another order
  return { k: 'repeat', node, min, max };
}

const OTHER: PatternNode = { k: 'other' };
const ANY_CHAR: PatternNode = { k: 'char', chars: undefined, colon: true };
const one = (c: string): PatternNode => ({ k: 'char', chars: [c], colon: c === ':' });
const DIGITS = '0123456789'.split('');
const ESCAPE_CLASSES: Record<string, PatternNode> = {
  d: { k: 'char', chars: DIGITS, colon: false },
  w: { k: 'char', chars: undefined, colon: false },
  s: { k: 'char', chars: undefined, colon: false },
  D: ANY_CHAR,
  W: ANY_CHAR,
  S: ANY_CHAR,
};
const CONTROL_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', f: '\f', v: '\v' };

/** The inside of `[...]`. */
function classNode(body: string): PatternNode {
  const negated = body.startsWith('^');
  const members: string[] = [];
  let wide = false; // holds a range or a class escape: not listed
  let colon = false;
  for (let i = negated ? 1 : 0; i < body.length; ) {
    let ch: string;
    if (body[i] === '\\') {
      const e = body[i + 1] ?? '';
      i += 2;
      if ('dws'.includes(e)) {
        wide = true;
        continue;
      }
      if ('DWS'.includes(e)) {
        wide = true;
        colon = true;
        continue;
      }
      if (/[A-Za-z0-9]/.test(e) && CONTROL_ESCAPES[e] === undefined) return negated ? { k: 'char', chars: undefined, colon: true } : ANY_CHAR; // \x41, \u0041, \b...: not modelled
      ch = CONTROL_ESCAPES[e] ?? e;
    } else {
      ch = body[i]!;
      i++;
    }
    if (body[i] === '-' && i + 1 < body.length) {
      // a range ch-to; `to` may be escaped punctuation
      let to = body[i + 1]!;
      let len = 2;
      if (to === '\\') {
        to = body[i + 2] ?? '';
        len = 3;
        if (/[A-Za-z0-9]/.test(to) || to === '') return ANY_CHAR;
      }
      i += len;
      wide = true;
      if (ch <= ':' && ':' <= to) colon = true;
      continue;
    }
    members.push(ch);
    if (ch === ':') colon = true;
  }
  if (negated) return { k: 'char', chars: undefined, colon: !colon };
  return { k: 'char', chars: wide || members.length > LISTED_CLASS ? undefined : [...new Set(members)], colon };
}
