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
 * given text in one way at most: literal characters, and `\d+` (or `\w+`,
 * `\s+`, with `*` too) followed by a literal character the class does not
 * hold, like `sshd\[\d+\]: `. Greedy repetition cannot give back characters
 * there without the literal after it failing, so no backtracking ever
 * re-enters the head: `^H(?:A|B)` then finds exactly what `^(?:HA|HB)`
 * finds, with the same groups (the head has none). rule-list.ts joins
 * rules that share one this way. Returns '' when there is no such start.
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
    const inClass = body[i] === '\\' ? CLASS_ESCAPES[body[i + 1] ?? ''] : undefined;
    if (inClass === undefined || (body[i + 2] !== '+' && body[i + 2] !== '*')) break;
    const next = literalAt(body, i + 3);
    if (next === undefined || quantified(i + 3 + next.len) || inClass(next.ch)) break;
    i += 3 + next.len;
    end = i;
  }
  return body.slice(0, end);
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
