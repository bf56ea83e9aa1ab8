/**
 * Cheap tests that let the matcher skip patterns that cannot match a line.
 *
 * Most syslog lines concern no pattern (cron, systemd, the kernel), and an
 * admin who includes every preset has a hundred patterns. Nearly all of
 * them start `^prog\[` or `^prog: `: a literal the line must begin with. So:
 *   - `literalPrefix` finds that literal in a pattern's source
 *     (`literalPrefixes`: or the words of a leading `(?:apache2|httpd)`);
 *   - a list of patterns (goodpatterns, a blocktype) whose every pattern has
 *     them is skipped at once when the line's first `keyLength` characters
 *     start none of them (the matcher's routes, matcher.ts);
 *   - a pattern asked on its own (one that cannot be joined with its
 *     neighbours, rule-list.ts) is tried only on lines that start with its
 *     prefix and contain the longest literal it requires anywhere
 *     (`requiredLiteral`, at least 4 characters), e.g.
 *     ` authentication failure; logname=`.
 * A pattern with neither (a top-level `|`, the `i` flag) is always tried.
 * The filter never changes what matches, only how fast.
 */
import type { Rule } from '../config/schema.js';
import { classEnd, groupEnd, hasTopLevelAlternation, literalAt } from './regex-source.js';

/** The literal text every match must start with, or undefined. */
export function literalPrefix(source: string, flags: string): string | undefined {
  if (flags.includes('i') || !source.startsWith('^') || hasTopLevelAlternation(source)) return undefined;
  let out = '';
  for (let i = 1; ; ) {
    const lit = literalAt(source, i); // \d \S \1, classes, groups: not a literal
    if (lit === undefined) break;
    const next = i + lit.len;
    const q = source[next];
    if (q === '?' || q === '*' || (q === '{' && /^\{0*[,}]/.test(source.slice(next)))) break; // optional ({0}, {00}, {0,n}): not part of every match
    out += lit.ch;
    i = next;
    if (q === '+' || q === '{') break; // repeated: what follows is not at a fixed place
  }
  return out.length > 0 ? out : undefined;
}

/**
 * The literals every match starts with one of: the literal prefix, or, for
 * a pattern that opens with a group of plain words, `^(?:apache2|httpd)...`,
 * those words. Undefined when there are none (the list is then asked on
 * every line).
 */
export function literalPrefixes(source: string, flags: string): string[] | undefined {
  const one = literalPrefix(source, flags);
  if (one !== undefined) return [one];
  if (flags.includes('i') || !source.startsWith('^(?:') || hasTopLevelAlternation(source)) return undefined;
  const end = groupEnd(source, 1);
  // `(?:a|b)?`, `(?:a|b)*`, `(?:a|b){0,1}`: a match need not start with either.
  if (source[end - 1] !== ')' || (end < source.length && '?*{'.includes(source[end]!))) return undefined;
  const words: string[] = [];
  for (const alt of source.slice(4, end - 1).split('|')) {
    const word = plainWord(alt);
    if (word === undefined || word.length === 0) return undefined;
    words.push(word);
  }
  return words;
}

/** `alt` as the text it matches, if it is nothing but literal characters (escaped punctuation included). */
function plainWord(alt: string): string | undefined {
  let out = '';
  for (let i = 0; i < alt.length; ) {
    const lit = literalAt(alt, i);
    if (lit === undefined) return undefined;
    out += lit.ch;
    i += lit.len;
  }
  return out;
}

/**
 * The longest literal that every match contains, found among the pattern's
 * top-level pieces (not inside groups, classes or optional parts).
 */
export function requiredLiteral(source: string, flags: string): string | undefined {
  if (flags.includes('i') || hasTopLevelAlternation(source)) return undefined;
  let best = '';
  let run = '';
  const end = () => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let i = 0; i < source.length; ) {
    const c = source[i]!;
    let lit: string | undefined;
    let next = i + 1;
    if (c === '\\') {
      const e = source[i + 1];
      if (e !== undefined && !/[A-Za-z0-9]/.test(e)) lit = e;
      next = i + 2;
    } else if (c === '(') {
      next = groupEnd(source, i);
    } else if (c === '[') {
      next = classEnd(source, i);
    } else if (!'.]){}*+?|^$'.includes(c)) {
      lit = c;
    }
    const q = source[next];
    if (lit === undefined) {
      end();
    } else if (q === '?' || q === '*' || q === '{') {
      end();
    } else {
      run += lit;
      if (q === '+') end();
    }
    // a quantifier belongs to the piece before it: step over it
    i = next;
    while (i < source.length && '?*+'.includes(source[i]!)) i++;
    if (source[i] === '{') {
      const close = source.indexOf('}', i);
      i = close < 0 ? source.length : close + 1;
    }
  }
  end();
  return best.length >= 4 ? best : undefined;
}

/** The key length for a set of lists: short enough that every prefix has it, at most 4. */
export function keyLengthFor(rules: readonly Rule[]): number {
  let k = 4;
  for (const r of rules) {
    for (const p of literalPrefixes(r.regex.source, r.regex.flags) ?? []) k = Math.min(k, p.length);
  }
  return Math.max(1, k);
}
