/**
 * Warnings (and one refusal) about patterns that compile but are unsafe
 * against the people who write the log lines. Heuristic, on the pattern text:
 * it catches the common mistakes, not every possible one.
 *
 *   - Log injection: an attacker chooses the user name in
 *     `Failed password for <user> from <addr> port <n> ssh2`. If the `ip`
 *     group follows a `.*` / `.+` and the pattern is not anchored at the end
 *     with `$`, text after the real address can supply it; after a lazy
 *     `.*?` the first `from <addr>` wins, and the user name comes first.
 *   - Regex denial of service: a group with a quantifier inside and one
 *     outside, `(?:[^x]+ )*`, backtracks exponentially on a crafted line.
 *     V8's linear-time engine takes over when that happens, but only for
 *     patterns it can run; such a pattern that it cannot run is refused.
 *     Any pattern it cannot run gets a warning.
 *   - A tag that no longer comes: OpenSSH 9.8 and later log a connection's
 *     lines as `sshd-session[PID]`, so a pattern written for `sshd\[`
 *     alone misses every failure on such a host, silently.
 */
import { runsInLinearTime } from './regex-engine.js';
import { syntaxChars } from './regex-source.js';

export interface LintResult {
  warnings: string[];
  /** a reason to refuse the pattern outright */
  refuse?: string;
  /** V8's linear-time engine can run it: a crafted line cannot make it backtrack for long */
  linear: boolean;
}

export function lintPattern(body: string, flags: string): LintResult {
  const warnings: string[] = [];
  const tokens = tokenize(body);
  const ipAt = body.indexOf('(?<ip>');
  const anchoredEnd = tokens.some((t) => t.kind === 'end-anchor' && t.index === body.length - 1);
  if (ipAt >= 0) {
    const before = tokens.filter((t) => t.index < ipAt && t.kind === 'wildcard-repeat');
    if (before.some((t) => t.lazy)) {
      warnings.push(
        "the ip group follows a lazy '.*?' or '.+?': the first address-like text in the line is captured, and fields an attacker chooses (user names) come before the real address; use a greedy '.*' and anchor the pattern with '$'",
      );
    } else if (before.length > 0 && !anchoredEnd) {
      warnings.push(
        "the ip group follows an unanchored '.*' or '.+': text after the real address, which an attacker may control, can supply the captured address; anchor the pattern at the end of the line with '$'",
      );
    }
  }
  if (OLD_SSHD_TAG.test(body)) {
    warnings.push(
      "OpenSSH 9.8 and later log a connection's lines as sshd-session[PID], which 'sshd\\[' does not match; write 'sshd(?:-session)?\\[' to take both",
    );
  }
  const linear = runsInLinearTime(body, flags);
  if (linear === false) {
    if (hasNestedQuantifier(tokens)) {
      return {
        warnings,
        linear: false,
        refuse:
          'pattern repeats a group that itself holds a repeat (like (?:[^x]+ )*), which can take exponential time on a crafted line, and it cannot run on the linear-time engine (lookaround, backreference, or a counted repeat above 16); rewrite it without the nesting',
      };
    }
    warnings.push(
      flags.includes('i') && runsInLinearTime(body, '') === true
        ? "the (?i) flag keeps this pattern off V8's linear-time engine, so a crafted line's cost is bounded only by max_line; spell the case variants with classes such as [Ff]ailed instead"
        : "pattern cannot run on V8's linear-time engine (lookaround, backreference, or a counted repeat such as {0,100}), so a crafted line's cost is bounded only by max_line; prefer '+' and '*' with specific character classes",
    );
  }
  return { warnings, linear: linear === true };
}

/** `sshd\[` as a tag of its own: not the end of a longer name, not already `sshd(?:-session)?\[` */
const OLD_SSHD_TAG = /(?:^|[^-\w])sshd\\\[/;

interface Token {
  kind: 'wildcard-repeat' | 'end-anchor' | 'group-open' | 'group-close' | 'quantifier';
  index: number;
  lazy?: boolean;
}

/** The few structural tokens the checks need, outside character classes and escapes. */
function tokenize(src: string): Token[] {
  const out: Token[] = [];
  for (const { c, i } of syntaxChars(src)) {
    if (c === '(') out.push({ kind: 'group-open', index: i });
    else if (c === ')') out.push({ kind: 'group-close', index: i });
    else if (c === '$') out.push({ kind: 'end-anchor', index: i });
    else if (c === '*' || c === '+' || (c === '{' && /^\{\d+(?:,\d*)?\}/.test(src.slice(i)))) {
      if (c === '+' && out.length && out[out.length - 1]!.kind === 'quantifier' && out[out.length - 1]!.index === i - 1) continue;
      out.push({ kind: 'quantifier', index: i });
      if (c !== '{' && src[i - 1] === '.' && src[i - 2] !== '\\') out.push({ kind: 'wildcard-repeat', index: i - 1, lazy: src[i + 1] === '?' });
    } else if (c === '?' && i > 0 && src[i - 1] !== '(' && !/[*+?}]/.test(src[i - 1]!)) {
      out.push({ kind: 'quantifier', index: i });
    }
  }
  return out;
}

/** A group followed by * + or {n,} whose body holds a quantifier. */
function hasNestedQuantifier(tokens: Token[]): boolean {
  const stack: { open: number; inner: boolean }[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind === 'group-open') stack.push({ open: t.index, inner: false });
    else if (t.kind === 'quantifier' && stack.length) stack[stack.length - 1]!.inner = true;
    else if (t.kind === 'group-close') {
      const g = stack.pop();
      const next = tokens[k + 1];
      const repeated = next !== undefined && next.kind === 'quantifier' && next.index === t.index + 1;
      if (g?.inner && repeated) return true;
      if (g?.inner && stack.length) stack[stack.length - 1]!.inner = true;
    }
  }
  return false;
}
