/**
 * Cheap tests that let the matcher skip patterns that cannot match a line.
 *
 * Most syslog lines concern no pattern (cron, systemd, the kernel), and an
 * admin who includes every preset has a hundred patterns. Nearly all of
 * them start `^prog\[` or `^prog: `: a literal the line must begin with. So:
 *   - `literalPrefix` finds that literal in a pattern's source
 *     (`literalPrefixes`: or the words of a leading `(?:apache2|httpd)`);
 *   - a pattern that has them is asked only of lines whose first
 *     `keyLength` characters start one of them (the matcher's routes,
 *     matcher.ts);
 *   - `messageWords`: the first MESSAGE_KEY characters that the message
 *     (what follows the tag, `messageStart`) of a match can have, as in
 *     `Fail`, `erro` for `^sshd\[\d+\]: (?:error: )?Failed`; a pattern
 *     that has them is asked only of lines whose message starts with one
 *     (rule-list.ts);
 *   - a pattern asked on its own (one that cannot be joined with its
 *     neighbours, rule-list.ts), or one the two keys say little about, is
 *     tried only on lines that contain the longest literal it requires
 *     anywhere (`requiredLiteral`, at least 4 characters), e.g.
 *     ` authentication failure; logname=`.
 * A pattern with none of them (a top-level `|`, the `i` flag) is always tried.
 * The filter never changes what matches, only how fast.
 */
import type { Rule, RuleLiterals } from '../config/schema.js';
import { classEnd, groupEnd, hasTopLevelAlternation, literalAt, parsePattern, type PatternNode } from './regex-source.js';

/** A pattern's literals, each of the functions below, worked out once. */
export function patternLiterals(source: string, flags: string): RuleLiterals {
  const prefix = literalPrefix(source, flags);
  const prefixes = prefix !== undefined ? [prefix] : literalPrefixes(source, flags);
  const words = messageWords(source, flags);
  const required = requiredLiteral(source, flags);
  return {
    ...(prefix !== undefined ? { prefix } : {}),
    ...(prefixes !== undefined ? { prefixes } : {}),
    ...(words !== undefined ? { words } : {}),
    ...(required !== undefined ? { required } : {}),
  };
}

const literalsMade = new WeakMap<Rule, RuleLiterals>();

/**
 * A rule's literals: those it carries (Rule.literals, from the presets' cache), or worked out from
 * its pattern once per rule (the matcher asks for them per program key, and a rule without a
 * prefix is in every key's list).
 */
export function ruleLiterals(rule: Rule): RuleLiterals {
  if (rule.literals !== undefined) return rule.literals;
  let l = literalsMade.get(rule);
  if (l === undefined) {
    l = patternLiterals(rule.regex.source, rule.regex.flags);
    literalsMade.set(rule, l);
  }
  return l;
}

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
    for (const p of ruleLiterals(r).prefixes ?? []) k = Math.min(k, p.length);
  }
  return Math.max(1, k);
}

/**
 * Where a line's message starts: after its first `: ` (the end of the tag,
 * `sshd[42]: `), or -1 when it has none.
 */
export function messageStart(text: string): number {
  const i = text.indexOf(': ');
  return i < 0 ? -1 : i + 2;
}

/** the length of a message key: the first characters of a line's message (messageStart) */
export const MESSAGE_KEY = 4;
/** more words than this, and a pattern is asked on every message */
const MAX_WORDS = 64;

/**
 * The first MESSAGE_KEY characters that every match's message can start
 * with, or undefined when they cannot be listed. For a pattern
 * `^HEAD: MESSAGE` whose HEAD cannot match a `:` (`sshd\[\d+\]`,
 * `[-\w.]+(?:\[\d+\])?`), the first `: ` of a matching line is the one
 * after HEAD, so its message (messageStart) is where MESSAGE matched; the
 * words are then MESSAGE's possible starts, optional groups and
 * alternatives spelled out: `(?:error: )?Failed` gives `erro` and `Fail`.
 * A line whose message starts with none of them cannot match the pattern.
 */
export function messageWords(source: string, flags: string): string[] | undefined {
  if (flags !== '' || !source.startsWith('^')) return undefined;
  try {
    return wordsOf(parsePattern(source.slice(1)));
  } catch {
    return undefined; // a pattern nested too deeply to read here (RangeError): asked on every message
  }
}

function wordsOf(seq: readonly PatternNode[]): string[] | undefined {
  let at = 0;
  while (at < seq.length && !isChar(seq[at], ':')) {
    if (mayMatchColon(seq[at]!)) return undefined;
    at++;
  }
  if (!isChar(seq[at + 1], ' ')) return undefined;
  const words = new Set<string>();
  let budget = 2_000; // steps (and so the depth of the walk): a pattern that needs more is asked on every message instead
  const walk = (rest: Cons | undefined, acc: string): boolean => {
    if (--budget < 0) return false;
    if (acc.length === MESSAGE_KEY) {
      words.add(acc);
      return words.size <= MAX_WORDS;
    }
    if (rest === undefined) return false; // a match may end (or the pattern stop saying) before MESSAGE_KEY characters
    const { node, next } = rest;
    switch (node.k) {
      case 'char':
        return node.chars !== undefined && node.chars.every((c) => c.charCodeAt(0) > 0 && c.charCodeAt(0) < 128 && walk(next, acc + c));
      case 'group':
        return node.alts.every((alt) => walk(prepend(alt, next), acc));
      case 'repeat': {
        const once: Cons = { node: node.node, next: node.max > 1 ? { node: { k: 'repeat', node: node.node, min: Math.max(0, node.min - 1), max: node.max - 1 }, next } : next };
        if (node.min > 0) return walk(once, acc);
        return walk(next, acc) && (node.max === 0 || walk(once, acc));
      }
      default:
        return false;
    }
  };
  return walk(prepend(seq.slice(at + 2), undefined), '') ? [...words] : undefined;
}

interface Cons {
  readonly node: PatternNode;
  readonly next: Cons | undefined;
}

function prepend(nodes: readonly PatternNode[], next: Cons | undefined): Cons | undefined {
  let out = next;
  for (let i = nodes.length - 1; i >= 0; i--) out = { node: nodes[i]!, next: out };
  return out;
}

/** `node` is the one character `c`, not repeated */
function isChar(node: PatternNode | undefined, c: string): boolean {
  return node?.k === 'char' && node.chars?.length === 1 && node.chars[0] === c;
}

function mayMatchColon(node: PatternNode): boolean {
  switch (node.k) {
    case 'char':
      return node.colon;
    case 'group':
      return node.alts.some((alt) => alt.some(mayMatchColon));
    case 'repeat':
      return mayMatchColon(node.node);
    default:
      return true;
  }
}

/**
 * `length` (at most 4) characters of `s` from `at` as one number, 7 bits
 * each, or -1 when there are fewer, or one is not plain ASCII (or is NUL).
 * Keys (a program's, a message's) are looked up by it: no substring is
 * made per line.
 */
export function keyCode(s: string, at: number, length: number): number {
  if (s.length < at + length) return -1;
  let code = 0;
  for (let i = at; i < at + length; i++) {
    const c = s.charCodeAt(i);
    if (!(c > 0 && c < 128)) return -1;
    code = (code << 7) | c;
  }
  return code;
}

/**
 * A message's key (messageStart, MESSAGE_KEY characters), or -1 when it
 * has none as a number (too short, not plain ASCII): no word
 * (messageWords) has such a character, so no rule keyed by words can
 * match such a line.
 */
export const messageCode = (s: string, at: number): number => keyCode(s, at, MESSAGE_KEY);
