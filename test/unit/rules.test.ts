import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRule } from '../../src/match/rules.js';

const SSHD_FAILED = 'sshd[4711]: Failed password for invalid user admin from 203.0.113.9 port 52100 ssh2';

function ok(source: string) {
  const r = compileRule(source, 'blocktypes.ssh.patterns[0]');
  if (!r.ok) assert.fail(`expected ${JSON.stringify(source)} to compile, got: ${r.reason}`);
  return r.rule;
}

function refused(source: string): string {
  const r = compileRule(source, 'blocktypes.ssh.patterns[0]');
  assert.equal(r.ok, false, `expected ${JSON.stringify(source)} to be refused`);
  return r.ok ? '' : r.reason;
}

test('the ip group is captured from a real sshd line', () => {
  const rule = ok('sshd\\[\\d+\\]: Failed password for (?:invalid user )?\\S+ from (?<ip>[0-9a-fA-F.:]+) port \\d+');
  assert.equal(rule.regex.exec(SSHD_FAILED)?.groups?.['ip'], '203.0.113.9');
  assert.equal(rule.where, 'blocktypes.ssh.patterns[0]');
  assert.equal(rule.source, 'sshd\\[\\d+\\]: Failed password for (?:invalid user )?\\S+ from (?<ip>[0-9a-fA-F.:]+) port \\d+');
});

test('the regex has no u, g or y flag, so it is reusable and Perl identity escapes stay legal', () => {
  const rule = ok('from (?<ip>\\S+)');
  assert.equal(rule.regex.flags, '');
  assert.equal(rule.regex.exec('from 192.0.2.1')?.groups?.['ip'], '192.0.2.1');
  assert.equal(rule.regex.exec('from 192.0.2.1')?.groups?.['ip'], '192.0.2.1');
});

test('Perl identity escapes such as \\: \\@ \\- \\  and \\< are accepted and match the character itself', () => {
  const rule = ok('user\\@host\\:\\ x\\-y \\<(?<ip>[\\d.]+)\\>');
  assert.equal(rule.regex.exec('user@host: x-y <192.0.2.7>')?.groups?.['ip'], '192.0.2.7');
});

test('a leading (?i) becomes the i flag and matches case-insensitively', () => {
  const rule = ok('(?i)FAILED PASSWORD for .* from (?<ip>\\S+)');
  assert.equal(rule.regex.flags, 'i');
  assert.equal(rule.regex.exec(SSHD_FAILED)?.groups?.['ip'], '203.0.113.9');
  // the source keeps what the admin wrote
  assert.equal(rule.source, '(?i)FAILED PASSWORD for .* from (?<ip>\\S+)');
});

test('without (?i) matching is case-sensitive', () => {
  const rule = ok('FAILED PASSWORD for .* from (?<ip>\\S+)');
  assert.equal(rule.regex.exec(SSHD_FAILED), null);
});

test('a pattern without a named group ip is refused', () => {
  assert.match(refused('Failed password for .* from (\\S+)'), /no named group \(\?<ip>\.\.\.\)/);
  assert.match(refused('from (?<addr>\\S+)'), /no named group \(\?<ip>/);
});

test('a group named IP in the wrong case is refused with a hint about the name', () => {
  assert.match(refused('from (?<IP>\\S+)'), /exactly 'ip'/);
});

test('an (?<ip>...) written inside a character class does not count as a group', () => {
  assert.match(refused('from [(?<ip>)]+'), /no named group/);
});

test('an invalid regex is refused with the engine message', () => {
  assert.match(refused('from (?<ip>\\S+'), /not a valid regular expression: .*Unterminated group/);
  assert.match(refused('(?<ip>x)(?<ip>y)'), /not a valid regular expression: .*Duplicate capture group name/);
});

test('Perl anchors \\A \\z \\Z \\G are refused, naming the JS spelling', () => {
  assert.match(refused('\\Asshd (?<ip>\\S+)'), /\\A .*write \^/);
  assert.match(refused('sshd (?<ip>\\S+)\\z'), /\\z .*write \$/);
  assert.match(refused('sshd (?<ip>\\S+)\\Z'), /\\Z .*write \$/);
  assert.match(refused('\\Gsshd (?<ip>\\S+)'), /\\G /);
});

test('Perl-only escapes \\K \\h \\H \\R \\X \\Q \\E \\N \\e are refused, each naming itself', () => {
  const cases: [string, RegExp][] = [
    ['from \\K(?<ip>\\S+)', /\\K .*lookbehind/],
    ['from\\h(?<ip>\\S+)', /\\h .*\[ \\t\]/],
    ['from\\H(?<ip>\\S+)', /\\H /],
    ['from (?<ip>\\S+)\\R', /\\R /],
    ['\\X from (?<ip>\\S+)', /\\X /],
    ['\\Q[x]\\E from (?<ip>\\S+)', /\\Q\.\.\.\\E/],
    ['\\E from (?<ip>\\S+)', /\\E /],
    ['from\\N(?<ip>\\S+)', /\\N /],
    ['\\e from (?<ip>\\S+)', /\\e .*\\x1b/],
  ];
  for (const [src, want] of cases) assert.match(refused(src), want, src);
});

test('any other backslash-letter JS does not know is refused as read-as-a-letter', () => {
  assert.match(refused('\\y from (?<ip>\\S+)'), /\\y is not a JavaScript escape .*letter "y"/);
});

test('\\p{..} \\P{..} \\x{..} \\o{..} \\u{..} and \\g backreferences are refused', () => {
  assert.match(refused('\\p{L}+ from (?<ip>\\S+)'), /\\p\{\.\.\.\}/);
  assert.match(refused('\\P{L}+ from (?<ip>\\S+)'), /\\P\{\.\.\.\}/);
  assert.match(refused('\\x{41} from (?<ip>\\S+)'), /\\x\{\.\.\.\} .*\\xHH/);
  assert.match(refused('\\o{101} from (?<ip>\\S+)'), /\\o\{\.\.\.\}/);
  assert.match(refused('\\u{41} from (?<ip>\\S+)'), /\\u\{\.\.\.\}.*\\uHHHH/);
  assert.match(refused('(a)\\g1 from (?<ip>\\S+)'), /\\g .*\\1/);
  assert.match(refused('(a)\\g{1} from (?<ip>\\S+)'), /\\g /);
  assert.match(refused('(?<u>a)\\k{u} from (?<ip>\\S+)'), /\\k<name>/);
});

test('valid JS escapes are accepted: \\d \\w \\s \\b \\n \\t \\v \\0 \\cJ \\x41 \\u0041 \\k<name> and backreferences', () => {
  const rule = ok('\\b(?<w>\\w)\\k<w>\\1\\x41\\u0042\\s\\d\\t?\\v?\\n?\\0?\\cJ? from (?<ip>\\S+)');
  assert.equal(rule.regex.exec('xxxAB 1 from 192.0.2.1')?.groups?.['ip'], '192.0.2.1');
});

test('\\x and \\u with too few hex digits, and \\c without a letter, are refused', () => {
  assert.match(refused('\\x4 from (?<ip>\\S+)'), /two hex digits/);
  assert.match(refused('\\u41 from (?<ip>\\S+)'), /four hex digits/);
  assert.match(refused('\\c1 from (?<ip>\\S+)'), /\\c must be followed by a letter/);
});

test('a backreference to a group that does not exist is refused instead of read as octal', () => {
  assert.match(refused('(?<ip>\\S+) \\2'), /\\2 refers to capture group 2 but the pattern has 1/);
});

test('inside a class \\b is backspace and allowed, \\B is refused', () => {
  ok('[\\b\\d] from (?<ip>\\S+)');
  assert.match(refused('[\\B] from (?<ip>\\S+)'), /\\B has no meaning inside \[\.\.\.\]/);
});

test('Perl-only escapes are refused inside a class too', () => {
  assert.match(refused('[\\h] from (?<ip>\\S+)'), /\\h /);
});

test('escaped brackets do not open or close a class for the scanner', () => {
  // "\[" is a literal, so "\A" after it is outside any class and refused...
  assert.match(refused('\\[\\A (?<ip>\\S+)'), /\\A /);
  // ...and "\]" inside a class does not end it
  ok('[\\]x] from (?<ip>\\S+)');
});

test('possessive quantifiers are refused', () => {
  for (const q of ['*+', '++', '?+', '{2}+', '{1,3}+']) {
    assert.match(refused(`a${q} from (?<ip>\\S+)`), /possessive quantifier/, q);
  }
});

test('lazy quantifiers are accepted', () => {
  ok('a*? b+? c?? d{1,2}? from (?<ip>\\S+)');
});

test('a Perl {,n} quantifier is refused because JS reads it literally', () => {
  assert.match(refused('a{,3} from (?<ip>\\S+)'), /\{,3\}.*\{0,3\}/);
});

test('atomic groups, comments, conditionals, branch reset and verbs are refused', () => {
  assert.match(refused('(?>a+) from (?<ip>\\S+)'), /atomic group \(\?>/);
  assert.match(refused('(?#note) from (?<ip>\\S+)'), /comment group \(\?#/);
  assert.match(refused('(a)?(?(1)b|c) from (?<ip>\\S+)'), /conditional \(\?\(/);
  assert.match(refused('(?|(a)|(b)) from (?<ip>\\S+)'), /branch reset/);
  assert.match(refused('a(*SKIP) from (?<ip>\\S+)'), /control verbs/);
});

test('recursion and subroutine calls are refused', () => {
  assert.match(refused('(a(?R)?b) from (?<ip>\\S+)'), /\(\?R\)/);
  assert.match(refused('(a(?1)?b) from (?<ip>\\S+)'), /\(\?1\)/);
  assert.match(refused('(?<x>a(?&x)?b) from (?<ip>\\S+)'), /\(\?&x\)/);
  assert.match(refused('(?<x>a)(?P>x) from (?<ip>\\S+)'), /\(\?P>name\)/);
});

test('Python-style (?P<name>...) is refused with the JS spelling', () => {
  assert.match(refused('from (?P<ip>\\S+)'), /\(\?P<name>\.\.\.\).*write \(\?<name>\.\.\.\)/);
  assert.match(refused("from (?'ip'\\S+)"), /write \(\?<name>/);
});

test('inline modifiers other than a leading (?i) are refused', () => {
  assert.match(refused('(?i:failed) from (?<ip>\\S+)'), /inline modifier \(\?i:\.\.\.\)/);
  assert.match(refused('(?s)from (?<ip>\\S+)'), /inline modifier \(\?s\)/);
  assert.match(refused('(?x)from (?<ip>\\S+)'), /inline modifier \(\?x\)/);
  assert.match(refused('(?m)from (?<ip>\\S+)'), /inline modifier \(\?m\)/);
  assert.match(refused('(?^i:a) from (?<ip>\\S+)'), /inline modifier \(\?\^i:/);
  assert.match(refused('from (?i)(?<ip>\\S+)'), /\(\?i\) is only understood at the very start/);
});

test('lookarounds, non-capturing and named groups are accepted', () => {
  const rule = ok('(?<=from )(?<ip>[\\d.]+)(?= port)(?!x)(?<!y)(?:z)?');
  assert.equal(rule.regex.exec('from 192.0.2.5 port 22')?.groups?.['ip'], '192.0.2.5');
});

test('POSIX classes are refused with the JS class to write', () => {
  assert.match(refused('[[:alpha:]]+ from (?<ip>\\S+)'), /POSIX class \[:alpha:\].*A-Za-z/);
  assert.match(refused('[^[:digit:]] from (?<ip>\\S+)'), /POSIX class \[:digit:\]/);
  assert.match(refused('[:space:] from (?<ip>\\S+)'), /\[:space:\] outside brackets/);
});

test('a ] right after [ or [^ is refused because JS reads an empty class there', () => {
  assert.match(refused('[]a] from (?<ip>\\S+)'), /escape it as \\\]/);
  assert.match(refused('[^]a] from (?<ip>\\S+)'), /'\[\^'/);
});

test('a line break in a pattern is refused, since it comes from a YAML block scalar and never matches', () => {
  assert.match(refused('from (?<ip>\\S+)\n'), /line break/);
});

test('a refusal says where in the pattern the construct is', () => {
  const r = compileRule('abc\\Adef(?<ip>x)', 'goodpatterns[0]');
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.index, 3);
    assert.match(r.reason, /at character 4 of the pattern/);
  }
  const i = compileRule('(?i)ab\\z(?<ip>x)', 'goodpatterns[0]');
  assert.equal(!i.ok && i.index, 6, 'the index counts the stripped (?i)');
});

test("a pattern for sshd's old tag alone is warned about: OpenSSH 9.8 and later log as sshd-session", () => {
  const warned = (source: string) => {
    const r = compileRule(source, 'blocktypes.ssh.patterns[0]');
    assert.ok(r.ok, source);
    return r.ok && r.warnings.some((w) => w.includes('sshd-session'));
  };
  assert.equal(warned(String.raw`^sshd\[\d+\]: Failed password for \S+ from (?<ip>[0-9a-f.:]+) port \d+ ssh2$`), true);
  assert.equal(warned(String.raw`sshd\[\d+\]\: Invalid user \S* from (?<ip>[0-9a-f.:]+)`), true);
  assert.equal(warned(String.raw`^(?:x|sshd\[\d+\]): from (?<ip>\S+)$`), true);
  for (const fine of [
    String.raw`^sshd(?:-session)?\[\d+\]: Failed password for \S+ from (?<ip>[0-9a-f.:]+) port \d+ ssh2$`,
    String.raw`^(?:sshd|sshd-session)\[\d+\]: from (?<ip>[0-9a-f.:]+)$`,
    String.raw`^xsshd\[\d+\]: from (?<ip>[0-9a-f.:]+)$`,
    String.raw`^my-sshd\[\d+\]: from (?<ip>[0-9a-f.:]+)$`,
  ]) assert.equal(warned(fine), false, fine);
});
