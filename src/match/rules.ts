/**
 * Pattern text (written for Perl, by banban users) to a JavaScript RegExp.
 *
 * Why a scanner before `new RegExp`: the patterns are compiled without the `u`
 * flag, so that banban's own patterns with Perl-style identity escapes such as
 * `\:` `\@` `\ ` `\-` keep working. Without `u`, however, JavaScript is
 * lenient in exactly the wrong way: it reads most unknown escapes as the bare
 * letter (`\A` matches "A", `\z` matches "z", `\p{L}` matches "p{L}"), and
 * several Perl constructs parse as something else rather than failing
 * (`[]a]`, `{,3}`, `[[:alpha:]]`). A pattern that silently means something
 * else either never matches (attackers go unblocked) or matches too much
 * (innocent addresses get blocked). So every construct whose meaning differs
 * between Perl and JavaScript is refused up front, with the JS spelling when
 * there is one.
 */
import type { Rule } from '../config/schema.js';
import { lintPattern } from './pattern-lint.js';
import { captureGroups } from './regex-source.js';

export type CompiledRule =
  | { ok: true; rule: Rule; warnings: string[] }
  /** `index`: offset in `source` of the offending construct, when known */
  | { ok: false; reason: string; index?: number };

/** Escapes JavaScript gives a meaning to outside a class (besides digits and identity escapes of punctuation). */
const JS_ESCAPES = new Set(['d', 'D', 'w', 'W', 's', 'S', 'b', 'B', 'n', 'r', 't', 'f', 'v', '0', 'c', 'x', 'u', 'k']);
/** Inside `[...]`: `\b` is backspace, `\B` and `\k` mean nothing. */
const JS_CLASS_ESCAPES = new Set(['d', 'D', 'w', 'W', 's', 'S', 'b', 'n', 'r', 't', 'f', 'v', '0', 'c', 'x', 'u']);

/** Perl escapes with no JS meaning, and how to write them instead. */
const PERL_ESCAPES: Readonly<Record<string, string>> = {
  A: '\\A (Perl start of string) is not JavaScript, which reads it as the letter "A"; write ^',
  z: '\\z (Perl end of string) is not JavaScript, which reads it as the letter "z"; write $',
  Z: '\\Z (Perl end of string) is not JavaScript, which reads it as the letter "Z"; write $ (log lines carry no trailing newline)',
  G: '\\G (Perl end of previous match) has no JavaScript equivalent',
  K: '\\K (Perl keep-left) has no JavaScript equivalent; use a lookbehind (?<=...) or rely on the (?<ip>...) group',
  h: '\\h (Perl horizontal whitespace) is not JavaScript; write [ \\t]',
  H: '\\H (Perl non-horizontal-whitespace) is not JavaScript; write [^ \\t]',
  R: '\\R (Perl line break) is not JavaScript; write (?:\\r\\n|\\n|\\r) (log lines carry no line breaks)',
  X: '\\X (Perl grapheme cluster) has no JavaScript equivalent without the u flag',
  Q: '\\Q...\\E (Perl quoting) is not JavaScript; escape each metacharacter with a backslash instead',
  E: '\\E (end of Perl \\Q quoting) is not JavaScript; escape each metacharacter with a backslash instead',
  N: '\\N (Perl non-newline / named character) is not JavaScript; write . or the character itself',
  p: '\\p{...} (Unicode property) needs the u flag, which banban does not use; write a character class such as [A-Za-z]',
  P: '\\P{...} (Unicode property) needs the u flag, which banban does not use; write a negated character class such as [^A-Za-z]',
  o: '\\o{...} (Perl octal) is not JavaScript; write \\xHH',
  g: '\\g (Perl backreference) is not JavaScript; write \\1 or \\k<name>',
  e: '\\e (Perl escape character) is not JavaScript; write \\x1b',
  a: '\\a (Perl bell character) is not JavaScript; write \\x07',
  l: '\\l (Perl lower-case next) is not JavaScript; write the character class instead',
  L: '\\L (Perl lower-case) is not JavaScript; write the character class instead',
  U: '\\U (Perl upper-case) is not JavaScript; write the character class instead',
  C: '\\C (Perl single byte) is not JavaScript; write .',
};

/** POSIX class names to their JS spelling, for the refusal message. */
const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', space: '\\s', blank: ' \\t',
  xdigit: '0-9A-Fa-f', word: '\\w', punct: '!-\\/:-@\\[-`{-~', cntrl: '\\x00-\\x1f\\x7f', print: '\\x20-\\x7e', graph: '\\x21-\\x7e',
};

type ScanResult = { ok: true; groupNames: string[] } | { ok: false; reason: string; index: number };

/**
 * Compiles one pattern. `where` names it in messages and in the Rule
 * (`goodpatterns[2]`, `blocktypes.ssh.patterns[0]`). `allowPid`: it may
 * capture `pid` instead of `ip`; `perProcess`: it counts once per connection of a process
 * (a blocktype's endpatterns).
 */
export function compileRule(source: string, where: string, opts: { allowPid?: boolean; perProcess?: boolean } = {}): CompiledRule {
  if (source.includes('\n') || source.includes('\r')) {
    // Usually a YAML block scalar (`|` or `>`) keeping its final newline; a
    // syslog line never contains one, so the pattern could never match.
    return { ok: false, reason: "pattern contains a line break, so it can never match a log line (in YAML, write '|-' or '>-' rather than '|' or '>')", index: source.search(/[\r\n]/) };
  }
  let flags = '';
  let body = source;
  let offset = 0;
  // Perl users switch on case-insensitivity with a leading (?i); JS has the i flag.
  if (body.startsWith('(?i)')) {
    flags = 'i';
    body = body.slice(4);
    offset = 4;
  }
  const scan = scanPattern(body);
  if (!scan.ok) return { ok: false, reason: scan.reason, index: scan.index + offset };

  let regex: RegExp;
  try {
    regex = new RegExp(body, flags);
  } catch (e) {
    return { ok: false, reason: `not a valid regular expression: ${(e as Error).message}` };
  }

  // A blocktype pattern may instead capture the process id: the address is the one that process logged last.
  const byPid = opts.allowPid === true && !scan.groupNames.includes('ip') && scan.groupNames.includes('pid');
  if (!scan.groupNames.includes('ip') && !byPid) {
    const near = scan.groupNames.find((n) => n.toLowerCase() === 'ip');
    const hint = near !== undefined ? ` (it has (?<${near}>...); the name must be exactly 'ip', lower case)` : '';
    const alt = opts.allowPid === true ? ', or (?<pid>...) to take the address that process logged before' : '';
    return { ok: false, reason: `pattern has no named group (?<ip>...) to capture the address${alt}${hint}` };
  }
  const lint = lintPattern(body, flags);
  if (lint.refuse !== undefined) return { ok: false, reason: lint.refuse };
  const rule: Rule = {
    source,
    regex,
    where,
    ...(byPid ? { byPid } : {}),
    ...(opts.perProcess === true ? { perProcess: true as const } : {}),
    ...(lint.linear ? { linear: true as const } : {}),
  };
  const warnings = opts.perProcess === true && !PROCESS_TAG_RE.test(body) ? [...lint.warnings, NO_PROCESS_TAG] : lint.warnings;
  return { ok: true, rule, warnings };
}

/** `\[\d+\]` or `\[(?<pid>\d+)\]` in a pattern: it matches the process id of a `prog[pid]: ` tag */
const PROCESS_TAG_RE = /\\\[(?:\(\?<pid>)?\\d\+\)?\\\]/;
const NO_PROCESS_TAG =
  "has no process id in its tag (write it as prog\\[\\d+\\]: ): endpatterns count once per connection of a process, told apart by that id, so each line this pattern matches would count";

/**
 * Walks the pattern once, tracking escapes and whether we are inside a
 * `[...]` class, and refuses Perl-only constructs. It does not validate
 * everything (the RegExp constructor does that next); it only catches what
 * JavaScript would accept with a different meaning, or reject with an
 * unhelpful message.
 */
function scanPattern(src: string): ScanResult {
  const backrefs: { n: number; index: number }[] = [];
  let inClass = false;
  let i = 0;
  const fail = (reason: string, index: number): ScanResult => ({ ok: false, reason: `${reason} (at character ${index + 1} of the pattern)`, index });

  while (i < src.length) {
    const c = src[i]!;

    if (c === '\\') {
      const e = src[i + 1];
      if (e === undefined) break; // trailing backslash: the RegExp constructor reports it
      const bad = checkEscape(src, i, inClass);
      if (bad !== undefined) return fail(bad, i);
      if (!inClass && e >= '1' && e <= '9') {
        const digits = /^[0-9]+/.exec(src.slice(i + 1))![0];
        backrefs.push({ n: Number(digits), index: i });
        i += 1 + digits.length;
        continue;
      }
      i += 2;
      continue;
    }

    if (inClass) {
      if (c === ']') {
        inClass = false;
      } else if (c === '[') {
        const posix = /^\[([:.=])(\^?)([A-Za-z]*)\1\]/.exec(src.slice(i));
        if (posix) return fail(posixReason(posix[0], posix[3]!, posix[2] === '^'), i);
      }
      i++;
      continue;
    }

    switch (c) {
      case '[': {
        const posix = /^\[:(\^?)([A-Za-z]+):\]/.exec(src.slice(i));
        if (posix) return fail(`${posix[0]} outside brackets is just a set of letters; POSIX classes are not JavaScript either, write [${POSIX_CLASSES[posix[2]!] ?? '...'}]`, i);
        inClass = true;
        let j = i + 1;
        if (src[j] === '^') j++;
        // Perl reads a ']' right after '[' or '[^' as a literal; JS closes an
        // empty class there ([] never matches, [^] matches anything).
        if (src[j] === ']') return fail(`']' right after '${src.slice(i, j)}' is a literal in Perl but ends an empty class in JavaScript; escape it as \\]`, j);
        i = j;
        continue;
      }
      case '(': {
        const bad = checkGroup(src, i);
        if (bad !== undefined) return fail(bad, i);
        // step over "(?" so its '?' is not taken for a quantifier
        i += src[i + 1] === '?' ? 2 : 1;
        continue;
      }
      case '*':
      case '+':
      case '?': {
        if (src[i + 1] === '+') return fail(`possessive quantifier '${c}+' is Perl-only; write '${c}' (or '${c}?' for lazy)`, i);
        i++;
        continue;
      }
      case '{': {
        const q = /^\{([0-9]*)(,?)([0-9]*)\}/.exec(src.slice(i));
        if (q) {
          if (q[1] === '' && q[2] === ',' && q[3] !== '') {
            return fail(`'${q[0]}' (Perl: up to ${q[3]} times) is read literally by JavaScript; write {0,${q[3]}}`, i);
          }
          if (q[1] !== '' && src[i + q[0].length] === '+') {
            return fail(`possessive quantifier '${q[0]}+' is Perl-only; write '${q[0]}'`, i);
          }
        }
        i++;
        continue;
      }
      default:
        i++;
    }
  }

  // Named and numbered as JavaScript will (regex-source.ts), once the pattern is known to read as Perl reads it.
  const captures = captureGroups(src);
  const groups = captures.length;
  const groupNames = captures.flatMap((g) => (g.name === undefined ? [] : [g.name]));
  // Without the u flag, JS reads \N with fewer than N groups as an octal
  // escape (a control character) instead of failing as Perl does.
  for (const ref of backrefs) {
    if (ref.n > groups) {
      return fail(`\\${ref.n} refers to capture group ${ref.n} but the pattern has ${groups}; JavaScript would read it as an octal character escape`, ref.index);
    }
  }
  return { ok: true, groupNames };
}

/** The reason to refuse the escape at `src[i]` (a backslash), or undefined if JS reads it as Perl does. */
function checkEscape(src: string, i: number, inClass: boolean): string | undefined {
  const e = src[i + 1]!;
  const rest = src.slice(i + 2);
  if (/[0-9]/.test(e)) return undefined; // backreference or octal: checked by the caller
  if (!/[A-Za-z]/.test(e)) return undefined; // identity escape of punctuation, space or non-ASCII: same in both

  const valid = inClass ? JS_CLASS_ESCAPES : JS_ESCAPES;
  if (!valid.has(e)) {
    if (inClass && (e === 'B' || e === 'k')) return `\\${e} has no meaning inside [...]`;
    return PERL_ESCAPES[e] ?? `\\${e} is not a JavaScript escape (JavaScript would read it as the letter "${e}")`;
  }
  switch (e) {
    case 'x':
      if (rest.startsWith('{')) return '\\x{...} (Perl) is not JavaScript; write \\xHH or \\uHHHH';
      if (!/^[0-9A-Fa-f]{2}/.test(rest)) return '\\x must be followed by exactly two hex digits (\\xHH)';
      return undefined;
    case 'u':
      if (rest.startsWith('{')) return '\\u{...} needs the u flag, which banban does not use; write \\uHHHH';
      if (!/^[0-9A-Fa-f]{4}/.test(rest)) return '\\u must be followed by four hex digits (\\uHHHH)';
      return undefined;
    case 'c':
      if (!/^[A-Za-z]/.test(rest)) return '\\c must be followed by a letter (\\cA to \\cZ)';
      return undefined;
    case 'k':
      if (!rest.startsWith('<')) return `\\k${rest[0] ?? ''}... (Perl named backreference) is not JavaScript; write \\k<name>`;
      return undefined;
    case 'b':
    case 'B':
      if (!inClass && rest.startsWith('{')) return `\\${e}{...} (Perl Unicode boundary) is not JavaScript; write \\${e}`;
      return undefined;
    default:
      return undefined;
  }
}

/** The reason to refuse the group opening at `src[i]` (a '('), or undefined. */
function checkGroup(src: string, i: number): string | undefined {
  const rest = src.slice(i + 1);
  if (rest.startsWith('*')) return 'backtracking control verbs (*...) are Perl-only';
  if (!rest.startsWith('?')) return undefined;
  const q = rest.slice(1);
  if (q.startsWith(':') || q.startsWith('=') || q.startsWith('!') || q.startsWith('<=') || q.startsWith('<!')) return undefined;
  if (q.startsWith('<')) return undefined; // (?<name>...): names are checked by the RegExp constructor
  if (q.startsWith('P<')) return "Python-style named group (?P<name>...) is not JavaScript; write (?<name>...)";
  if (q.startsWith('P=')) return 'Python-style backreference (?P=name) is not JavaScript; write \\k<name>';
  if (q.startsWith('P>')) return 'recursion (?P>name) is Perl-only and has no JavaScript equivalent';
  if (q.startsWith("'")) return "Perl named group (?'name'...) is not JavaScript; write (?<name>...)";
  if (q.startsWith('>')) return 'atomic group (?>...) is Perl-only; write a plain group (?:...)';
  if (q.startsWith('#')) return 'comment group (?#...) is Perl-only; remove it';
  if (q.startsWith('(')) return 'conditional (?(...)...) is Perl-only and has no JavaScript equivalent';
  if (q.startsWith('|')) return 'branch reset (?|...) is Perl-only; use separate groups';
  if (q.startsWith('{') || q.startsWith('?{')) return 'embedded code (?{...}) is Perl-only';
  if (/^(?:R|[+-]?[0-9]+|&)/.test(q)) return `recursion/subroutine call (?${/^(?:R|[+-]?[0-9]+|&[A-Za-z_]\w*)/.exec(q)![0]}) is Perl-only and has no JavaScript equivalent`;
  const mods = /^\^?[a-zA-Z]*(?:-[a-zA-Z]*)?[:)]/.exec(q);
  if (mods) {
    const text = `(?${mods[0]}`;
    if (text === '(?i)') return "inline modifier (?i) is only understood at the very start of the pattern; move it there";
    return `inline modifier ${text}${text.endsWith(':') ? '...)' : ''} is not supported; only a leading (?i) is (log lines are single lines, so (?s) and (?m) are not needed)`;
  }
  return undefined;
}

function posixReason(text: string, name: string, negated: boolean): string {
  const js = POSIX_CLASSES[name];
  if (js === undefined) return `POSIX class ${text} is not JavaScript; write the characters out`;
  return `POSIX class ${text} is not JavaScript (it would be read as a set of letters); write ${negated ? '[^' + js + ']' : '[' + js + ']'} or put ${js} inside the brackets`;
}
