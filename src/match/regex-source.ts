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
