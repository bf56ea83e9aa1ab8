import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseConfig, type LoadOverrides } from '../../src/config/load.js';
import { ConfigError, formatProblem, type ConfigProblem } from '../../src/config/problems.js';
import { DEFAULTS, FIELDS } from '../../src/config/schema.js';
import { parseIp } from '../../src/lib/ip.js';
import { resolveGroup, resolveUser } from '../../src/lib/passwd.js';

// dist/test/unit -> repo root: fixtures are not copied by tsc, so read them from the source tree
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/configs');

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\n# comment\n+nisuser::::::\nsyslog:x:104:110::/home/syslog:/usr/sbin/nologin\n1234:x:5000:5000::/:/bin/false\n';
const GROUP = 'root:x:0:\nadm:x:4:syslog\nsyslog:x:110:\n';
const HOST: LoadOverrides = { passwdText: PASSWD, groupText: GROUP };

/** One argument per line, so a test's line numbers can be read off its arguments. */
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** The smallest valid config: line 1 ignorenets, 2 blocktypes, 3 ssh, 4 patterns, 5 the pattern. */
const MINIMAL = yaml('ignorenets: [127.0.0.0/8]', 'blocktypes:', '  ssh:', '    patterns:', String.raw`      - 'from (?<ip>\S+)'`);

function load(text: string, overrides: LoadOverrides = HOST) {
  return parseConfig(text, '/etc/banban.yml', overrides);
}

/** The problems of a config that must be refused. */
function problems(text: string, overrides: LoadOverrides = HOST): ConfigProblem[] {
  try {
    load(text, overrides);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return [...e.problems];
  }
  assert.fail('expected the config to be refused');
}

/** The one error with this key; fails listing all problems if there is not exactly one. */
function errorAt(ps: ConfigProblem[], key: string): ConfigProblem {
  const hits = ps.filter((p) => p.key === key && p.severity === 'error');
  assert.equal(hits.length, 1, `expected one error at ${key}, got:\n${ps.map((p) => formatProblem(p)).join('\n')}`);
  return hits[0]!;
}

function assertError(text: string, key: string, line: number, fragment: RegExp, overrides?: LoadOverrides): ConfigProblem {
  const p = errorAt(problems(text, overrides), key);
  assert.equal(p.line, line, `line of ${key}: ${p.message}`);
  assert.match(p.message, fragment);
  return p;
}

/** A config with one ssh blocktype whose body lines (indented 4) are given; body starts on line 4. */
function withSsh(...body: string[]): string {
  return yaml('ignorenets: [127.0.0.0/8]', 'blocktypes:', '  ssh:', ...body.map((l) => `    ${l}`));
}
const PATTERN = String.raw`  - 'from (?<ip>\S+)'`;

// ---- the Perl banban's config --------------------------------------------

test("a config in the Perl banban's style loads unchanged", () => {
  const { config, warnings } = loadConfig(path.join(FIXTURES, 'perl-banban.yml'), HOST);
  // It loads; the remarks are advice: its sshd patterns miss OpenSSH 9.8's sshd-session lines, and
  // V8's linear-time engine cannot run its (?i) pattern.
  const kind = (m: string) => (/\(\?i\) flag/.test(m) ? '(?i)' : /sshd-session/.test(m) ? 'sshd-session' : m);
  assert.deepEqual(
    warnings.map((w) => [w.key, kind(w.message)]),
    [
      ['goodpatterns[0]', 'sshd-session'],
      ['blocktypes.ssh.patterns[0]', 'sshd-session'],
      ['blocktypes.ssh.patterns[1]', 'sshd-session'],
      ['blocktypes.ssh.patterns[2]', 'sshd-session'],
      ['blocktypes.ssh.patterns[2]', '(?i)'],
    ],
  );
  assert.equal(config.file, path.join(FIXTURES, 'perl-banban.yml'));
  assert.equal(config.socket, '/var/run/banban.sock');
  assert.equal(config.socketOwner, 0);
  assert.equal(config.socketGroup, 4);
  assert.deepEqual(config.ignorenetsText, ['127.0.0.0/8', '::1/128', '192.168.1.0/24', '2001:db8:1234::/48']);
  assert.equal(config.procDir, DEFAULTS.procDir);
  assert.equal(config.maxTracked, DEFAULTS.maxTracked);
  assert.deepEqual(
    config.blocktypes.map((b) => [b.name, b.target, b.minocc, b.interval, b.resetconns, b.patterns.length]),
    [
      ['ssh', 'BLOCKER', 3, 60, true, 3],
      ['mail', 'MAILBLOCK', 5, 3600, false, 2],
    ],
  );
  assert.deepEqual(config.blocktypes[0]!.patterns.map((r) => r.where), ['blocktypes.ssh.patterns[0]', 'blocktypes.ssh.patterns[1]', 'blocktypes.ssh.patterns[2]']);
  assert.equal(config.goodpatterns[0]!.where, 'goodpatterns[0]');
});

test("the Perl config's patterns capture the address from real log lines", () => {
  const { config } = loadConfig(path.join(FIXTURES, 'perl-banban.yml'), HOST);
  const ip = (rules: readonly { regex: RegExp }[], line: string) => rules.map((r) => r.regex.exec(line)?.groups?.['ip']).find((x) => x !== undefined);
  const [ssh, mail] = config.blocktypes;
  assert.equal(ip(config.goodpatterns, 'sshd[812]: Accepted publickey for alice from 2001:db8::7 port 50022 ssh2: ED25519 SHA256:abc'), '2001:db8::7');
  assert.equal(ip(ssh!.patterns, 'sshd[901]: Failed password for invalid user oracle from 198.51.100.23 port 41234 ssh2'), '198.51.100.23');
  assert.equal(ip(ssh!.patterns, 'SSHD[902]: did not receive identification string from 198.51.100.24 port 1'), '198.51.100.24');
  assert.equal(ip(mail!.patterns, 'postfix/submission/smtpd[3301]: warning: unknown[203.0.113.50]: SASL LOGIN authentication failed: UGFzc3dvcmQ6'), '203.0.113.50');
  assert.equal(
    ip(mail!.patterns, 'dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, rip=203.0.113.51, lip=192.0.2.1'),
    '203.0.113.51',
  );
  const lan = parseIp('192.168.1.77');
  assert.ok(lan.ok && config.ignorenets.contains(lan.value));
});

test('every key listed in FIELDS is accepted by the loader', () => {
  const { config } = load(
    yaml(
      'socket: /run/b.sock',
      'socket_owner: root',
      'socket_group: adm',
      'goodpatterns: []',
      'ignorenets: [10.0.0.0/8]',
      'proc_dir: /tmp/xt',
      'max_tracked: 10',
      'state_file: /tmp/state.json',
      'max_line: 4096',
      'ipv6_prefix: 64',
      'blocktypes:',
      '  ssh:',
      '    target: T',
      '    minocc: 2',
      '    interval: 5',
      '    resetconns: true',
      '    defer_to: [other]',
      '    bantime: 7200',
      '    patterns:',
      String.raw`      - 'from (?<ip>\S+)'`,
      '    endpatterns:',
      String.raw`      - '^d\[\d+\]: gone (?<ip>\S+)$'`,
    ),
  );
  assert.equal(config.maxTracked, 10);
  assert.equal(config.stateFile, '/tmp/state.json');
  assert.equal(config.maxLine, 4096);
  assert.equal(config.ipv6Prefix, 64);
  assert.equal(config.blocktypes[0]!.bantime, 7200);
  assert.deepEqual(config.blocktypes[0]!.deferTo, ['other']);
  assert.deepEqual(config.blocktypes[0]!.patterns.map((r) => [r.where, r.perProcess === true]), [['blocktypes.ssh.patterns[0]', false], ['blocktypes.ssh.endpatterns[0]', true]]);
  const keys = FIELDS.map((f) => f.key.replace('blocktypes.<name>.', ''));
  assert.deepEqual(keys.sort(), ['bantime', 'blocktypes', 'defer_to', 'endpatterns', 'goodpatterns', 'ignorenets', 'include', 'interval', 'ipv6_prefix', 'max_line', 'max_tracked', 'minocc', 'patterns', 'proc_dir', 'resetconns', 'sessionpatterns', 'socket', 'socket_group', 'socket_owner', 'state_file', 'target']);
});

test('defaults fill every optional key', () => {
  const { config, warnings } = load(MINIMAL);
  assert.deepEqual(warnings, []);
  assert.equal(config.socket, DEFAULTS.socket);
  assert.equal(config.socketOwner, undefined);
  assert.equal(config.socketGroup, undefined);
  assert.deepEqual(config.goodpatterns, []);
  assert.equal(config.procDir, DEFAULTS.procDir);
  assert.equal(config.maxTracked, DEFAULTS.maxTracked);
  const [bt] = config.blocktypes;
  assert.deepEqual([bt!.target, bt!.minocc, bt!.interval, bt!.resetconns], [DEFAULTS.target, DEFAULTS.minocc, DEFAULTS.interval, DEFAULTS.resetconns]);
});

test('blocktypes keep their file order', () => {
  const names = ['zeta', 'alpha', 'mid.dle', 'x-1'];
  const text = yaml('ignorenets: [127.0.0.1]', 'blocktypes:', ...names.flatMap((n) => [`  ${n}:`, '    patterns:', String.raw`      - '(?<ip>\S+)'`]));
  assert.deepEqual(load(text).config.blocktypes.map((b) => b.name), names);
});

test('a YAML alias can share a pattern list between blocktypes', () => {
  const { config } = load(
    yaml('ignorenets: [127.0.0.1]', 'blocktypes:', '  a:', '    patterns: &pats', String.raw`      - 'from (?<ip>\S+)'`, '  b:', '    patterns: *pats'),
  );
  assert.deepEqual(config.blocktypes.map((b) => b.patterns[0]!.source), [String.raw`from (?<ip>\S+)`, String.raw`from (?<ip>\S+)`]);
});

// ---- reading the file -----------------------------------------------------

test('a relative file name is resolved to an absolute path', () => {
  const rel = path.relative(process.cwd(), path.join(FIXTURES, 'perl-banban.yml'));
  assert.equal(loadConfig(rel, HOST).config.file, path.join(FIXTURES, 'perl-banban.yml'));
});

test('a missing file is a ConfigError that says what to do', () => {
  assert.throws(
    () => loadConfig('/nonexistent/banban.yml'),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, '/nonexistent/banban.yml: 1 error');
      assert.equal(e.problems[0]!.file, '/nonexistent/banban.yml');
      assert.equal(e.problems[0]!.line, 0);
      assert.match(e.problems[0]!.message, /does not exist.*examples\/banban\.yml.*-c FILE/);
      return true;
    },
  );
});

test('a directory given as the config file is a ConfigError', () => {
  assert.throws(() => loadConfig(FIXTURES), (e: unknown) => e instanceof ConfigError && /is a directory/.test(e.problems[0]!.message));
});

test('a file that is not UTF-8 is refused', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'banban-cfg-'));
  try {
    const file = path.join(dir, 'latin1.yml');
    writeFileSync(file, Buffer.from([0x23, 0x20, 0xe9, 0x0a]));
    assert.throws(() => loadConfig(file), (e: unknown) => e instanceof ConfigError && /UTF-8/.test(e.problems[0]!.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- document shape ---------------------------------------------------------

test('an empty file is refused', () => {
  for (const text of ['', '# only a comment\n', '---\n']) {
    const [p] = problems(text);
    assert.match(p!.message, /file is empty/);
  }
});

test('a top level that is not a map is refused', () => {
  assertError(yaml('- socket: /x'), '', 1, /top level must be a map.*not a list/);
  assertError(yaml('just a string'), '', 1, /top level must be a map/);
});

test('a YAML syntax error is a problem with its line, and hides follow-on errors', () => {
  const ps = problems(yaml('ignorenets: [127.0.0.1', 'blocktypes:', '  ssh: {'));
  assert.ok(ps.length >= 1);
  assert.ok(ps.every((p) => /YAML syntax error/.test(p.message)), ps.map((p) => p.message).join('\n'));
  assert.ok(ps.every((p) => p.line >= 1));
});

test('a regex in double quotes with a Perl escape gets a hint to use single quotes', () => {
  const ps = problems(withSsh('patterns:', String.raw`  - "from \S+ (?<ip>x)"`));
  assert.equal(ps.length, 1);
  assert.equal(ps[0]!.line, 5);
  assert.match(ps[0]!.message, /Invalid escape sequence.*single quotes/);
});

test('a quote never closed is reported where it opens, not where the file ends', () => {
  for (const [line, q] of [
    [String.raw`  - "^sshd\\[\\d+\\]: Failed from (?<ip>\\S+)$`, 'double'],
    [String.raw`  - '^sshd\[\d+\]: Failed from (?<ip>\S+)$`, 'single'],
    [String.raw`  - "^sshd\\[\\d+\\]: Failed from (?<ip>\\S+)$\"`, 'double'], // the last quote escaped
  ] as const) {
    const ps = problems(withSsh('patterns:', line, 'minocc: 3'));
    const p = ps.find((x) => /never closed/.test(x.message));
    assert.ok(p, ps.map((x) => `${x.line}:${x.col}: ${x.message}`).join('\n'));
    assert.deepEqual([p.line, p.col], [5, 9]);
    assert.match(p.message, new RegExp(`this ${q} quote is never closed`));
  }
});

test('a bad indentation is reported at its line', () => {
  const ps = problems(yaml('blocktypes:', '  ssh:', '    patterns:', '  - x', ' minocc: 3'));
  assert.ok(ps.some((p) => p.line === 5 && /YAML syntax error/.test(p.message)), ps.map((p) => `${p.line}: ${p.message}`).join('\n'));
});

test('a second YAML document in the file is refused', () => {
  const ps = problems(`${MINIMAL}---\nsocket: /x\n`);
  assert.ok(ps.some((p) => p.line === 6 && /more than one YAML document/.test(p.message)));
});

test('a duplicate top-level key is an error naming the key and the first line', () => {
  assertError(yaml('socket: /a', 'socket: /b', ...MINIMAL.trimEnd().split('\n')), 'socket', 2, /duplicate key; 'socket' was already given on line 1/);
});

test('a duplicate key inside a blocktype names its full key path', () => {
  assertError(withSsh('minocc: 3', 'minocc: 4', 'patterns:', PATTERN), 'blocktypes.ssh.minocc', 5, /duplicate key.*line 4/);
});

test('a duplicate blocktype name is an error', () => {
  assertError(`${MINIMAL}  ssh:\n    patterns: ['(?<ip>x)']\n`, 'blocktypes.ssh', 6, /duplicate key/);
});

test('duplicate keys yaml finds where the loader does not look are still reported', () => {
  const p = errorAt(problems(withSsh('patterns:', "  - {a: 1, a: 2}")), '');
  assert.match(p.message, /duplicate key 'a'/);
  assert.equal(p.line, 5);
});

// ---- unknown keys -------------------------------------------------------------

test('an unknown top-level key is an error suggesting the nearest known key', () => {
  assertError(yaml('ignorenet: [127.0.0.1]', ...MINIMAL.trimEnd().split('\n').slice(1)), 'ignorenet', 1, /unknown key 'ignorenet' at the top level; did you mean 'ignorenets'\?/);
});

test('an unknown blocktype key is an error suggesting the nearest key', () => {
  assertError(withSsh('minoc: 3', 'patterns:', PATTERN), 'blocktypes.ssh.minoc', 4, /unknown key 'minoc' in blocktypes\.ssh; did you mean 'minocc'\?/);
});

test('suggestions ignore case and dash-versus-underscore', () => {
  assertError(yaml('Socket-Owner: root', ...MINIMAL.trimEnd().split('\n')), 'Socket-Owner', 1, /did you mean 'socket_owner'/);
  assertError(withSsh('Intervall: 3', 'patterns:', PATTERN), 'blocktypes.ssh.Intervall', 4, /did you mean 'interval'/);
});

test('an unknown key far from every known key gets no suggestion', () => {
  const p = assertError(yaml('colour: blue', ...MINIMAL.trimEnd().split('\n')), 'colour', 1, /unknown key 'colour' at the top level$/);
  assert.equal(p.col, 1);
});

test('a blocktype key at the top level is told where it belongs', () => {
  assertError(yaml('minocc: 3', ...MINIMAL.trimEnd().split('\n')), 'minocc', 1, /belongs inside a blocktype \(blocktypes\.NAME\.minocc\)/);
});

test('a top-level key inside a blocktype is told where it belongs', () => {
  assertError(withSsh('socket: /x', 'patterns:', PATTERN), 'blocktypes.ssh.socket', 4, /belongs at the top level/);
});

test('a blocktype written at the top level is told to go under blocktypes', () => {
  assertError(yaml('web:', '  patterns:', "    - '(?<ip>x)'", ...MINIMAL.trimEnd().split('\n')), 'web', 1, /looks like a blocktype: put it under blocktypes:/);
});

// ---- socket ---------------------------------------------------------------------

test('socket must be an absolute path', () => {
  assertError(yaml('socket: run/banban.sock', ...MINIMAL.trimEnd().split('\n')), 'socket', 1, /absolute path.*'run\/banban\.sock'/);
});

test('socket must not end in a slash', () => {
  assertError(yaml('socket: /run/banban/', ...MINIMAL.trimEnd().split('\n')), 'socket', 1, /not a directory ending in '\/'/);
});

test('socket may have 107 bytes, not 108 (sun_path)', () => {
  const ok = `/${'s'.repeat(106)}`;
  assert.equal(load(yaml(`socket: ${ok}`, ...MINIMAL.trimEnd().split('\n'))).config.socket, ok);
  assertError(yaml(`socket: /${'s'.repeat(107)}`, ...MINIMAL.trimEnd().split('\n')), 'socket', 1, /108 bytes long.*at most 107/);
  // bytes, not characters: '/' and 54 two-byte letters are 109 bytes, 53 are 107
  assertError(yaml(`socket: /${'é'.repeat(54)}`, ...MINIMAL.trimEnd().split('\n')), 'socket', 1, /109 bytes long/);
  assert.equal(load(yaml(`socket: /${'é'.repeat(53)}`, ...MINIMAL.trimEnd().split('\n'))).config.socket, `/${'é'.repeat(53)}`);
});

test('socket must be a string', () => {
  assertError(yaml('socket: [a]', ...MINIMAL.trimEnd().split('\n')), 'socket', 1, /must be an absolute path.*not a list/);
  assertError(yaml('socket:', ...MINIMAL.trimEnd().split('\n')), 'socket', 1, /has no value/);
});

// ---- socket_owner / socket_group ------------------------------------------------

test('socket_owner and socket_group names are resolved through passwd and group', () => {
  const { config } = load(yaml('socket_owner: syslog', 'socket_group: syslog', ...MINIMAL.trimEnd().split('\n')));
  assert.equal(config.socketOwner, 104);
  assert.equal(config.socketGroup, 110);
});

test('numeric socket_owner and socket_group are taken as ids', () => {
  const { config } = load(yaml('socket_owner: 0', 'socket_group: 4242', ...MINIMAL.trimEnd().split('\n')));
  assert.equal(config.socketOwner, 0);
  assert.equal(config.socketGroup, 4242);
});

test('an unknown user or group name is an error naming it', () => {
  const ps = problems(yaml('socket_owner: nobody2', 'socket_group: wheel2', ...MINIMAL.trimEnd().split('\n')));
  const owner = errorAt(ps, 'socket_owner');
  assert.equal(owner.line, 1);
  assert.match(owner.message, /no user named 'nobody2' in \/etc\/passwd.*numeric uid/);
  const group = errorAt(ps, 'socket_group');
  assert.equal(group.line, 2);
  assert.match(group.message, /no group named 'wheel2' in \/etc\/group/);
});

test('an id out of range is refused', () => {
  assertError(yaml('socket_owner: 4294967295', ...MINIMAL.trimEnd().split('\n')), 'socket_owner', 1, /not a valid uid.*0 to 4294967294/);
  assertError(yaml('socket_group: -1', ...MINIMAL.trimEnd().split('\n')), 'socket_group', 1, /not a valid gid/);
  assertError(yaml('socket_owner: true', ...MINIMAL.trimEnd().split('\n')), 'socket_owner', 1, /user name or numeric id, not true/);
});

test('resolveUser and resolveGroup read injected passwd and group text', () => {
  assert.equal(resolveUser('root', PASSWD), 0);
  assert.equal(resolveUser('syslog', PASSWD), 104);
  assert.equal(resolveUser('1234', PASSWD), 5000, 'an all-digit name is a name first');
  assert.equal(resolveUser('77', PASSWD), 77, 'then a decimal id');
  assert.equal(resolveUser('077', PASSWD), undefined, 'a leading zero is a typo, not an id');
  assert.equal(resolveUser('nisuser', PASSWD), undefined, 'NIS compat lines are not local users');
  assert.equal(resolveUser(4294967294, PASSWD), 4294967294);
  assert.equal(resolveUser(4294967295, PASSWD), undefined);
  assert.equal(resolveUser(1.5, PASSWD), undefined);
  assert.equal(resolveUser('', PASSWD), undefined);
  assert.equal(resolveGroup('adm', GROUP), 4);
  assert.equal(resolveGroup('nogroup', GROUP), undefined);
});

// ---- goodpatterns ---------------------------------------------------------------

test('goodpatterns may be absent, empty or null', () => {
  for (const g of ['', 'goodpatterns: []', 'goodpatterns:']) {
    assert.deepEqual(load(`${g}\n${MINIMAL}`).config.goodpatterns, []);
  }
});

test('a pattern without an ip group is refused with its key and line', () => {
  const text = yaml('goodpatterns:', String.raw`  - 'Accepted for \S+ from (?<ip>\S+)'`, String.raw`  - 'Accepted for \S+ from (\S+)'`, ...MINIMAL.trimEnd().split('\n'));
  const p = assertError(text, 'goodpatterns[1]', 3, /no named group \(\?<ip>\.\.\.\) to capture the address/);
  assert.equal(p.col, 5);
});

test('a Perl-only construct is reported at its column when the scalar is written plainly', () => {
  const p = assertError(yaml('goodpatterns:', String.raw`  - 'abc\Adef(?<ip>x)'`, ...MINIMAL.trimEnd().split('\n')), 'goodpatterns[0]', 2, /\\A .*write \^/);
  assert.equal(p.col, 9, 'the column of the backslash');
});

test('goodpatterns must be a list of strings', () => {
  assertError(yaml(String.raw`goodpatterns: 'from (?<ip>\S+)'`, ...MINIMAL.trimEnd().split('\n')), 'goodpatterns', 1, /must be a list.*on its own line starting with '- '/);
  assertError(yaml('goodpatterns:', '  - [a]', ...MINIMAL.trimEnd().split('\n')), 'goodpatterns[0]', 2, /must be a regular expression as a string, not a list/);
});

test('the same goodpattern twice is a warning', () => {
  const { warnings } = load(yaml('goodpatterns:', "  - '(?<ip>x)'", "  - '(?<ip>x)'", ...MINIMAL.trimEnd().split('\n')));
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.key, 'goodpatterns[1]');
  assert.equal(warnings[0]!.severity, 'warning');
});

test("an endpattern that matches no process id in the tag is a warning: its lines could not be told apart by process", () => {
  const config = (end: string) =>
    load(yaml('ignorenets: [127.0.0.0/8]', 'blocktypes:', '  scan:', '    endpatterns:', `      - '${end}'`));
  const { warnings } = config(String.raw`^scand: gone (?<ip>\S+)$`);
  assert.deepEqual(warnings.map((w) => w.key), ['blocktypes.scan.endpatterns[0]']);
  assert.match(warnings[0]!.message, /no process id in its tag.*prog\\\[\\d\+\\\]: /);
  assert.deepEqual(config(String.raw`^scand\[\d+\]: gone (?<ip>\S+)$`).warnings, []);
  assert.deepEqual(config(String.raw`^scand\[(?<pid>\d+)\]: gone$`).warnings, []);
});

// ---- ignorenets -------------------------------------------------------------------

test('ignorenets are parsed into canonical CIDR texts and a NetSet', () => {
  const { config } = load(yaml('ignorenets:', '  - 127.0.0.1', '  - 10.0.0.0/8', '  - "2001:DB8::/32"', ...MINIMAL.trimEnd().split('\n').slice(1)));
  assert.deepEqual(config.ignorenetsText, ['127.0.0.1/32', '10.0.0.0/8', '2001:db8::/32']);
  const ip = parseIp('10.20.30.40');
  assert.ok(ip.ok && config.ignorenets.contains(ip.value));
});

test('a bad ignorenets entry is an error naming the entry', () => {
  const ps = problems(yaml('ignorenets:', '  - 127.0.0.0/8', '  - 10.0.0.0/33', '  - localhost', ...MINIMAL.trimEnd().split('\n').slice(1)));
  const a = errorAt(ps, 'ignorenets[1]');
  assert.equal(a.line, 3);
  assert.match(a.message, /'10\.0\.0\.0\/33' is not a network: prefix length '33'/);
  const b = errorAt(ps, 'ignorenets[2]');
  assert.equal(b.line, 4);
  assert.match(b.message, /'localhost' is not a network/);
});

test('ignorenets must be a list', () => {
  assertError(yaml('ignorenets: 127.0.0.1', ...MINIMAL.trimEnd().split('\n').slice(1)), 'ignorenets', 1, /must be a list of networks/);
  assertError(yaml('ignorenets:', '  - {a: 1}', ...MINIMAL.trimEnd().split('\n').slice(1)), 'ignorenets[0]', 2, /address or network.*not a map/);
});

test('an empty or missing ignorenets is a warning suggesting loopback and admin networks', () => {
  for (const text of [MINIMAL.replace('ignorenets: [127.0.0.0/8]', 'ignorenets: []'), MINIMAL.replace('ignorenets: [127.0.0.0/8]', '')]) {
    const { warnings } = load(text);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.key, 'ignorenets');
    assert.equal(warnings[0]!.severity, 'warning');
    assert.match(warnings[0]!.message, /127\.0\.0\.0\/8 and ::1.*admin networks/);
  }
});

test('an ignorenets entry with host bits set is a warning saying what it means', () => {
  const { warnings, config } = load(MINIMAL.replace('[127.0.0.0/8]', '[10.1.2.3/8]'));
  assert.deepEqual(config.ignorenetsText, ['10.0.0.0/8']);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.key, 'ignorenets[0]');
  assert.match(warnings[0]!.message, /host bits set; it means 10\.0\.0\.0\/8/);
});

// ---- blocktypes ---------------------------------------------------------------------

test('blocktypes is required', () => {
  assertError(yaml('socket: /run/b.sock'), 'blocktypes', 1, /is required/);
});

test('blocktypes must be a non-empty map', () => {
  assertError(yaml('blocktypes: {}'), 'blocktypes', 1, /is empty; define at least one blocktype/);
  assertError(yaml('blocktypes:'), 'blocktypes', 1, /is empty/);
  assertError(yaml('blocktypes:', '  - ssh'), 'blocktypes', 2, /must be a map.*not a list/);
});

test('a blocktype name must be 1 to 64 safe characters', () => {
  assertError(MINIMAL.replace('  ssh:', '  "ssh daemon":'), 'blocktypes.ssh daemon', 3, /blocktype name 'ssh daemon' must be 1 to 64 letters/);
  assertError(MINIMAL.replace('  ssh:', `  ${'a'.repeat(65)}:`), `blocktypes.${'a'.repeat(65)}`, 3, /1 to 64/);
  assert.equal(load(MINIMAL.replace('  ssh:', `  ${'a'.repeat(64)}:`)).config.blocktypes[0]!.name, 'a'.repeat(64));
});

test('an empty blocktype or one that is not a map is refused', () => {
  assertError(yaml('blocktypes:', '  ssh:'), 'blocktypes.ssh', 2, /blocktype is empty; it needs at least patterns/);
  assertError(yaml('blocktypes:', '  ssh: 3'), 'blocktypes.ssh', 2, /must be a map of settings/);
});

test('target defaults to BLOCKER and must be a usable xt_recent name', () => {
  assertError(withSsh('target: a/b', 'patterns:', PATTERN), 'blocktypes.ssh.target', 4, /'a\/b' is not a usable xt_recent list name/);
  assertError(withSsh('target: -x', 'patterns:', PATTERN), 'blocktypes.ssh.target', 4, /not starting with '\.' or '-'/);
  assertError(withSsh('target: ..', 'patterns:', PATTERN), 'blocktypes.ssh.target', 4, /not a usable/);
  assertError(withSsh(`target: ${'T'.repeat(200)}`, 'patterns:', PATTERN), 'blocktypes.ssh.target', 4, /1 to 199/);
  assert.equal(load(withSsh(`target: ${'T'.repeat(199)}`, 'patterns:', PATTERN)).config.blocktypes[0]!.target, 'T'.repeat(199));
  assertError(withSsh('target: [a]', 'patterns:', PATTERN), 'blocktypes.ssh.target', 4, /xt_recent list name.*not a list/);
});

test('a target that YAML reads as a number is taken as written', () => {
  assert.equal(load(withSsh('target: 0042', 'patterns:', PATTERN)).config.blocktypes[0]!.target, '0042');
});

test('minocc must be a whole number from 1 to 1000', () => {
  assertError(withSsh('minocc: 0', 'patterns:', PATTERN), 'blocktypes.ssh.minocc', 4, /whole number from 1 to 1000, not 0/);
  assertError(withSsh('minocc: 1001', 'patterns:', PATTERN), 'blocktypes.ssh.minocc', 4, /not 1001/);
  assertError(withSsh('minocc: 2.5', 'patterns:', PATTERN), 'blocktypes.ssh.minocc', 4, /whole number/);
  assertError(withSsh('minocc: many', 'patterns:', PATTERN), 'blocktypes.ssh.minocc', 4, /must be a whole number from 1 to 1000, not the string 'many'/);
  assert.equal(load(withSsh('minocc: 1000', 'patterns:', PATTERN)).config.blocktypes[0]!.minocc, 1000);
});

test('a number written as a quoted string is refused with the way to write it', () => {
  assertError(withSsh('minocc: "3"', 'patterns:', PATTERN), 'blocktypes.ssh.minocc', 4, /not the string '3'; write 3 without quotes/);
  assertError(withSsh("interval: '60'", 'patterns:', PATTERN), 'blocktypes.ssh.interval', 4, /write 60 without quotes/);
});

test('interval must be seconds greater than 0 and at most 31 days', () => {
  assertError(withSsh('interval: 0', 'patterns:', PATTERN), 'blocktypes.ssh.interval', 4, /greater than 0 and at most 2678400/);
  assertError(withSsh('interval: -5', 'patterns:', PATTERN), 'blocktypes.ssh.interval', 4, /greater than 0/);
  assertError(withSsh('interval: 2678401', 'patterns:', PATTERN), 'blocktypes.ssh.interval', 4, /31 days/);
  assertError(withSsh('interval: .inf', 'patterns:', PATTERN), 'blocktypes.ssh.interval', 4, /not Infinity/);
  assertError(withSsh('interval: .nan', 'patterns:', PATTERN), 'blocktypes.ssh.interval', 4, /not \.nan/);
  assert.equal(load(withSsh('interval: 2678400', 'patterns:', PATTERN)).config.blocktypes[0]!.interval, 2678400);
  assert.equal(load(withSsh('interval: 0.5', 'patterns:', PATTERN)).config.blocktypes[0]!.interval, 0.5);
});

test('minocc 1 with a very large interval is accepted without a warning', () => {
  const { warnings } = load(withSsh('minocc: 1', 'interval: 2678400', 'patterns:', PATTERN));
  assert.deepEqual(warnings, []);
});

test('resetconns takes true/false or Perl-style 1/0', () => {
  for (const [v, want] of [['true', true], ['false', false], ['1', true], ['0', false]] as const) {
    assert.equal(load(withSsh(`resetconns: ${v}`, 'patterns:', PATTERN)).config.blocktypes[0]!.resetconns, want, v);
  }
});

test('resetconns refuses anything else', () => {
  assertError(withSsh('resetconns: 2', 'patterns:', PATTERN), 'blocktypes.ssh.resetconns', 4, /true or false \(or 1 or 0\), not the number 2/);
  assertError(withSsh('resetconns: yes', 'patterns:', PATTERN), 'blocktypes.ssh.resetconns', 4, /'yes' is a string in YAML 1\.2/);
  assertError(withSsh('resetconns: "1"', 'patterns:', PATTERN), 'blocktypes.ssh.resetconns', 4, /remove the quotes/);
});

test('defer_to is a list of other blocktypes; a typo is warned about, a blocktype naming itself or a circle is refused', () => {
  assert.deepEqual(load(withSsh('patterns:', PATTERN)).config.blocktypes[0]!.deferTo, []);
  // ssh's setting on line 4, pam's on line 8
  const two = (ssh: string, pam: string) => yaml('ignorenets: [127.0.0.0/8]', 'blocktypes:', '  ssh:', `    ${ssh}`, '    patterns:', `  ${PATTERN}`, '  pam:', `    ${pam}`, '    patterns:', `  ${PATTERN}`);
  const ok = load(two('minocc: 3', 'defer_to: [ssh, ssh]'));
  assert.deepEqual(ok.warnings, []);
  assert.deepEqual(ok.config.blocktypes[1]!.deferTo, ['ssh']);
  const typo = load(two('minocc: 3', 'defer_to: [shh]'));
  assert.equal(typo.warnings.length, 1);
  assert.equal(typo.warnings[0]!.key, 'blocktypes.pam.defer_to');
  assert.match(typo.warnings[0]!.message, /names no blocktype of this config: 'shh' \(the blocktypes are ssh, pam\)/);
  assertError(two('minocc: 3', 'defer_to: [pam]'), 'blocktypes.pam.defer_to[0]', 8, /is this blocktype itself/);
  assertError(two('minocc: 3', 'defer_to: ssh'), 'blocktypes.pam.defer_to', 8, /must be a list of blocktype names/);
  assertError(two('minocc: 3', 'defer_to: [3]'), 'blocktypes.pam.defer_to[0]', 8, /must be a blocktype name/);
  assertError(two('minocc: 3', 'defer_to:'), 'blocktypes.pam.defer_to', 8, /has no value; give a list of blocktype names such as \[sshd\], or \[\] to defer to none/);
  assert.deepEqual(load(two('minocc: 3', 'defer_to: []')).config.blocktypes[1]!.deferTo, []);
  assertError(two('defer_to: [pam]', 'defer_to: [ssh]'), 'blocktypes.ssh.defer_to', 4, /blocktypes defer to each other \(ssh -> pam -> ssh; ssh at .*:3, pam at .*:7\)/);
});

test('patterns is required and must be a non-empty list', () => {
  assertError(withSsh('minocc: 3'), 'blocktypes.ssh.patterns', 3, /is required/);
  assertError(withSsh('patterns: []'), 'blocktypes.ssh.patterns', 4, /is empty; a blocktype needs at least one pattern/);
  assertError(withSsh('patterns:'), 'blocktypes.ssh.patterns', 4, /is empty/);
  assertError(withSsh('patterns: {a: b}'), 'blocktypes.ssh.patterns', 4, /must be a list of regular expressions/);
});

test('a bad blocktype pattern is reported with its index and line', () => {
  const text = withSsh('patterns:', PATTERN, String.raw`  - 'from (?P<ip>\S+)'`);
  const p = assertError(text, 'blocktypes.ssh.patterns[1]', 6, /\(\?P<name>\.\.\.\).*write \(\?<name>\.\.\.\)/);
  assert.equal(p.col, 15, 'the column of the (?P');
});

test('a pattern in a block scalar that keeps its newline is refused', () => {
  assertError(withSsh('patterns:', '  - |', String.raw`    from (?<ip>\S+)`), 'blocktypes.ssh.patterns[0]', 5, /line break.*'\|-'/);
  assert.equal(load(withSsh('patterns:', '  - |-', String.raw`    from (?<ip>\S+)`)).config.blocktypes[0]!.patterns.length, 1);
});

test('the same pattern twice in one blocktype is a warning, not an error', () => {
  const { warnings, config } = load(withSsh('patterns:', PATTERN, String.raw`  - "from (?<ip>\\S+)"`));
  assert.equal(config.blocktypes[0]!.patterns.length, 2);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.key, 'blocktypes.ssh.patterns[1]');
  assert.equal(warnings[0]!.line, 6);
  assert.match(warnings[0]!.message, /same pattern as blocktypes\.ssh\.patterns\[0\]/);
});

test('the same pattern in two different blocktypes is fine', () => {
  const { warnings } = load(`${MINIMAL}  scan:\n    patterns:\n${String.raw`      - 'from (?<ip>\S+)'`}\n`);
  assert.deepEqual(warnings, []);
});

// ---- proc_dir and max_tracked --------------------------------------------------------

test('proc_dir must be an absolute path, and the procDir override wins', () => {
  assert.equal(load(yaml('proc_dir: /tmp/xt', ...MINIMAL.trimEnd().split('\n'))).config.procDir, '/tmp/xt');
  assertError(yaml('proc_dir: tmp/xt', ...MINIMAL.trimEnd().split('\n')), 'proc_dir', 1, /absolute path/);
  assert.equal(load(yaml('proc_dir: /tmp/xt', ...MINIMAL.trimEnd().split('\n')), { ...HOST, procDir: '/srv/fake' }).config.procDir, '/srv/fake');
  assert.equal(load(MINIMAL, { ...HOST, procDir: '/srv/fake' }).config.procDir, '/srv/fake');
});

test('max_tracked must be a whole number from 1 to 50 million', () => {
  assertError(yaml('max_tracked: 0', ...MINIMAL.trimEnd().split('\n')), 'max_tracked', 1, /from 1 to 50000000, not 0/);
  assertError(yaml('max_tracked: 50000001', ...MINIMAL.trimEnd().split('\n')), 'max_tracked', 1, /not 50000001/);
  assert.equal(load(yaml('max_tracked: 50000000', ...MINIMAL.trimEnd().split('\n'))).config.maxTracked, 50_000_000);
});

test('max_tracked times minocc may not ask for gigabytes of windows', () => {
  const text = (tracked: number, minocc: number) => yaml(`max_tracked: ${tracked}`, 'ignorenets: [127.0.0.0/8]', 'blocktypes:', '  ssh:', `    minocc: ${minocc}`, '    patterns:', `  ${PATTERN}`);
  assertError(text(5_000_000, 1000), 'blocktypes.ssh.minocc', 1, /minocc 1000 with max_tracked 5000000 lets the windows of blocktype ssh grow to 19 GB; lower max_tracked or minocc/);
  assert.equal(load(text(1_000_000, 1000)).config.blocktypes[0]!.minocc, 1000);
  assert.equal(load(text(50_000_000, 5)).config.maxTracked, 50_000_000);
});

test('a number with underscores is refused with the plain spelling', () => {
  assertError(yaml('max_tracked: 100_000', ...MINIMAL.trimEnd().split('\n')), 'max_tracked', 1, /cannot contain '_'; write 100000/);
});

// ---- many problems at once ---------------------------------------------------------

test('a file with several mistakes reports all of them at once, in file order', () => {
  const text = yaml(
    'socket: run/banban.sock', //                               1
    'ignorenets: [300.0.0.1]', //                               2
    'goodpatterns:', //                                         3
    String.raw`  - 'Accepted from (\S+)'`, //                   4
    'blocktypes:', //                                           5
    '  ssh:', //                                                6
    '    target: a/b', //                                       7
    '    minoc: 3', //                                          8
    '    interval: 0', //                                       9
    '    resetconns: maybe', //                                 10
    '    patterns:', //                                         11
    String.raw`      - '\Afrom (?<ip>\S+)'`, //                 12
    '  mail:', //                                               13
    '    minocc: "5"', //                                       14
    'max_tracked: 0', //                                        15
  );
  const ps = problems(text);
  assert.deepEqual(
    ps.map((p) => [p.line, p.key]),
    [
      [1, 'socket'],
      [2, 'ignorenets[0]'],
      [4, 'goodpatterns[0]'],
      [7, 'blocktypes.ssh.target'],
      [8, 'blocktypes.ssh.minoc'],
      [9, 'blocktypes.ssh.interval'],
      [10, 'blocktypes.ssh.resetconns'],
      [12, 'blocktypes.ssh.patterns[0]'],
      [13, 'blocktypes.mail.patterns'],
      [14, 'blocktypes.mail.minocc'],
      [15, 'max_tracked'],
    ],
  );
  assert.ok(ps.every((p) => p.severity === 'error' && p.file === '/etc/banban.yml'));
  assert.throws(() => load(text), { name: 'ConfigError', message: '/etc/banban.yml: 11 errors' });
});

// ---- formatting -----------------------------------------------------------------------

test('formatProblem prints file:line:col, severity, key and message, then the line and a caret', () => {
  const p = errorAt(problems(withSsh('minoc: 3', 'patterns:', PATTERN)), 'blocktypes.ssh.minoc');
  assert.equal(
    formatProblem(p, p.source),
    "/etc/banban.yml:4:5: error: blocktypes.ssh.minoc: unknown key 'minoc' in blocktypes.ssh; did you mean 'minocc'?\n    minoc: 3\n    ^",
  );
  assert.equal(formatProblem(p), "/etc/banban.yml:4:5: error: blocktypes.ssh.minoc: unknown key 'minoc' in blocktypes.ssh; did you mean 'minocc'?");
});

test('formatProblem leaves out an unknown position and an empty key', () => {
  const p: ConfigProblem = { file: '/etc/banban.yml', line: 0, col: 0, key: '', message: 'cannot read', severity: 'error' };
  assert.equal(formatProblem(p, 'whatever'), '/etc/banban.yml: error: cannot read');
  assert.equal(formatProblem({ ...p, severity: 'warning', key: 'ignorenets' }), '/etc/banban.yml: warning: ignorenets: cannot read');
});

test('formatProblem keeps the caret under the column on a long line', () => {
  const line = `${'x'.repeat(150)}Y${'z'.repeat(50)}`;
  const out = formatProblem({ file: 'f', line: 2, col: 151, key: 'k', message: 'm', severity: 'error' }, `first\n${line}\n`).split('\n');
  assert.ok(out[1]!.length <= 80);
  assert.equal(out[1]![out[2]!.indexOf('^')], 'Y');
});

test('a state_file the daemon would write over something else is refused, naming what is there', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'banban-statefile-'));
  try {
    const at = (file: string) => yaml(`state_file: ${file}`, 'socket: /run/banban.sock', ...MINIMAL.trimEnd().split('\n'));
    // the daemon renames what it cannot read there: a folder would be moved away
    assertError(at(tmp), 'state_file', 1, /is a folder, not a file; give the path of a file of its own, such as \/var\/lib\/banban\/state\.json/);
    assertError(at(`${tmp}/`), 'state_file', 1, /names a folder/);
    assertError(at('/etc/banban.yml'), 'state_file', 1, /is this config file/);
    assertError(at('/run/banban.sock'), 'state_file', 1, /is the socket's path too/);
    writeFileSync(path.join(tmp, 'afile'), '');
    assertError(at(path.join(tmp, 'afile', 'state.json')), 'state_file', 1, /a part of the path .*afile\/state\.json is a file, not a folder/);
    // a file, or none yet (made at the first save), is fine
    writeFileSync(path.join(tmp, 'state.json'), '');
    assert.equal(load(at(path.join(tmp, 'state.json'))).config.stateFile, path.join(tmp, 'state.json'));
    assert.equal(load(at(path.join(tmp, 'new', 'state.json'))).config.stateFile, path.join(tmp, 'new', 'state.json'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
