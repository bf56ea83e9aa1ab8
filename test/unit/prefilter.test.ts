import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import type { Config, Rule } from '../../src/config/schema.js';
import { parseIp } from '../../src/lib/ip.js';
import { deferredPrefixes, Matcher } from '../../src/match/matcher.js';
import { literalPrefix, literalPrefixes, messageCode, messageStart, messageWords, requiredLiteral } from '../../src/match/prefilter.js';
import { parseSyslogLine } from '../../src/source/syslog-line.js';

const CASES: [string, string | undefined][] = [
  [String.raw`^sshd\[\d+\]: Failed`, 'sshd['],
  [String.raw`^postfix/(?:submission/)?smtpd\[`, 'postfix/'],
  [String.raw`^dovecot: imap-login: `, 'dovecot: imap-login: '],
  [String.raw`^pure-ftpd: \(`, 'pure-ftpd: ('],
  [String.raw`^sshd?\[`, 'ssh'],
  [String.raw`^ab*c`, 'a'],
  [String.raw`^ab+c`, 'ab'],
  [String.raw`^a{0,2}b`, undefined],
  [String.raw`^ab{00}c`, 'a'],
  [String.raw`^ab{0}c`, 'a'],
  [String.raw`^ab{2}c`, 'ab'],
  [String.raw`^\S+ sshd`, undefined],
  [String.raw`sshd\[\d+\]`, undefined],
  [String.raw`^sshd: x|^dovecot: y`, undefined],
  [String.raw`^(?:sshd|dovecot): x`, undefined],
  [String.raw`^a|b`, undefined],
  [String.raw`^sshd[0-9]`, 'sshd'],
];
for (const [src, want] of CASES) {
  test(`the literal prefix of ${src} is ${JSON.stringify(want)}`, () => assert.equal(literalPrefix(src, ''), want));
}
test('a case-insensitive pattern has no prefix', () => assert.equal(literalPrefix('^sshd', 'i'), undefined));

const STARTS: [string, string[] | undefined][] = [
  [String.raw`^sshd\[\d+\]: x`, ['sshd[']],
  [String.raw`^(?:apache2|httpd)(?:/[-\w.]+)?: x`, ['apache2', 'httpd']],
  [String.raw`^(?:auth|dovecot-auth|dovecot)(?:\[\d+\])?: `, ['auth', 'dovecot-auth', 'dovecot']],
  [String.raw`^(?:a\.b|c\[)x`, ['a.b', 'c[']],
  [String.raw`^(?:apache2|httpd)?: x`, undefined],
  [String.raw`^(?:apache2|httpd)*x`, undefined],
  [String.raw`^(?:apache2|httpd){0,1}x`, undefined],
  [String.raw`^(?:apache2|)x`, undefined],
  [String.raw`^(?:apache\d|httpd)x`, undefined],
  [String.raw`^(?:ap(?:a)che|httpd)x`, undefined],
  [String.raw`^(?:[ab]|httpd)x`, undefined],
  [String.raw`^(?:a|b)x|^y`, undefined],
  [String.raw`^(?:a|b`, undefined],
];
for (const [src, want] of STARTS) {
  test(`every match of ${src} starts with one of ${JSON.stringify(want)}`, () => assert.deepEqual(literalPrefixes(src, ''), want));
}
test('a case-insensitive pattern has no starting words', () => assert.equal(literalPrefixes('^(?:apache2|httpd)', 'i'), undefined));

const WORDS: [string, string[] | undefined][] = [
  [String.raw`^sshd\[\d+\]: (?:error: )?Failed (?<ip>\S+)`, ['erro', 'Fail']],
  [String.raw`^[-\w.]+(?:\[\d+\])?: (?:pam_unix|\(pam_unix\)) x`, ['pam_', '(pam']],
  [String.raw`^postfix(?:-[-\w]+)?\/(?:[-\w]+\/)?smtpd\[\d+\]: warning: x`, ['warn']],
  [String.raw`^a: [Ii]nvalid`, ['Inva', 'inva']],
  [String.raw`^a: (?:x{2}|y)zzz`, ['xxzz', 'yzzz']],
  [String.raw`^a: b?c*defg`, ['bdef', 'bcde', 'bccd', 'bccc', 'defg', 'cdef', 'ccde', 'cccd', 'cccc']],
  [String.raw`^a: \d{2}\.\d`, undefined], // 100 words: too many to list
  [String.raw`^a: \[ID \d+`, ['[ID ']],
  [String.raw`^a\tb: Fail`, ['Fail']],
  [String.raw`^a\[\d+\]: \nxyz`, ['\nxyz']],
  // the head may match a `:`: the first `: ` of a line need not be the head's
  [String.raw`^\S+: Failed`, undefined],
  [String.raw`^.*: Failed`, undefined],
  [String.raw`^a(?:b|:)?: Failed`, undefined],
  [String.raw`^a[!-~]: Failed`, undefined],
  [String.raw`^a[^\]]: Failed`, undefined],
  [String.raw`^a\D: Failed`, undefined],
  [String.raw`^a[\W]: Failed`, undefined],
  [String.raw`^a:x: Failed`, undefined],
  [String.raw`^a[^\s:]+: Failed`, ['Fail']],
  [String.raw`^a[\w.-]+: Failed`, ['Fail']],
  // the message may be shorter than a key, or start with what cannot be listed
  [String.raw`^a: Fa`, undefined],
  [String.raw`^a: Fa$`, undefined],
  [String.raw`^a: \w+ x`, undefined],
  [String.raw`^a: (?=F)Failed`, undefined],
  [String.raw`^a: (?:x|)yzzz`, ['xyzz', 'yzzz']],
  [String.raw`^a: (x)\1abc`, undefined],
  [String.raw`^a: \x41bcd`, undefined],
  [String.raw`^a: é123`, undefined], // not plain ASCII: such keys are never looked up
  [String.raw`^a: x{2,}yz`, ['xxyz', 'xxxy', 'xxxx']],
  [String.raw`^a: x{2,}`, undefined], // `a: xx` matches: its message is shorter than a key
  [String.raw`^a: {2}x`, undefined], // `{` at the start of an atom: JavaScript reads a literal there, we need not
  [String.raw`a: Failed`, undefined],
  [String.raw`^a: Failed|^b: Failed`, undefined],
];
for (const [src, want] of WORDS) {
  test(`the messages matched by ${src} start with ${JSON.stringify(want)}`, () => assert.deepEqual(messageWords(src, '')?.sort(), want?.slice().sort()));
}
test('a pattern that would take long to read, or that is nested deeply, has no message words (and throws nothing)', () => {
  assert.equal(messageWords(String.raw`^a: (?:(?:)*)*x`, ''), undefined);
  assert.equal(messageWords(`^a: ${'(?:'.repeat(20_000)}x${')'.repeat(20_000)}`, ''), undefined);
  assert.equal(messageWords(`^a: ${'(?:x|y)'.repeat(4)}`, '')?.length, 16);
});
test('a case-insensitive pattern has no message words', () => assert.equal(messageWords(String.raw`^a: Failed`, 'i'), undefined));
test('the message starts after the first ": "', () => {
  assert.equal(messageStart('sshd[1]: Failed x: y'), 9);
  assert.equal(messageStart('sshd[1]:Failed'), -1);
  assert.equal(messageCode('sshd[1]: Fai', 9), -1);
  assert.equal(messageCode('sshd[1]: Fäil', 9), -1);
  assert.equal(messageCode('sshd[1]: Fail', 9), messageCode('Fail', 0));
});

const REQUIRED: [string, string | undefined][] = [
  [String.raw`^[-\w.]+(?:\[\d+\])?: (?:pam_unix|x) authentication failure; logname=\S* uid`, ' authentication failure; logname='],
  [String.raw`^(?:apache2|httpd): \[client (?<ip>\S+)\] user \S+ not found`, ': [client '],
  [String.raw`x(?:abcdefgh)?yz`, undefined],
  [String.raw`abcd?efgh`, 'efgh'],
  [String.raw`abcde+fgh`, 'abcde'],
  [String.raw`[abcdef]{2}ghij`, 'ghij'],
  [String.raw`one|two three four`, undefined],
];
for (const [src, want] of REQUIRED) {
  test(`the literal required by ${src} is ${JSON.stringify(want)}`, () => assert.equal(requiredLiteral(src, ''), want));
}

/** Every rule, tried in order, no filter: what the matcher must agree with. */
function naive(config: Config, text: string): string {
  const cap = (r: Rule) => {
    const m = r.regex.exec(text);
    if (!m) return undefined;
    const ip = parseIp(m.groups?.['ip'] ?? '');
    return ip.ok ? ip.value.text : undefined;
  };
  for (const r of config.goodpatterns) {
    const ip = cap(r);
    if (ip) return `good ${ip}`;
  }
  const out: string[] = [];
  for (const bt of config.blocktypes) {
    if (deferredPrefixes(config.blocktypes, bt).some((d) => d.prefixes.some((p) => text.startsWith(p)))) continue;
    for (const r of bt.patterns) {
      const ip = cap(r);
      if (ip) {
        out.push(`${bt.name} ${ip}`);
        break;
      }
    }
  }
  return out.length ? `bad ${out.join(',')}` : 'none';
}

test('with every preset included, the prefiltered matcher agrees with trying every rule on real log lines', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const presets = readdirSync(join(root, 'presets')).filter((f) => f.endsWith('.yml')).map((f) => f.slice(0, -4));
  const config = parseConfig(`include: [${presets.join(', ')}]\n`, join(root, 'all.yml')).config;
  const lines: string[] = [];
  const f2b = ['/opt/banban-test/fail2ban/usr/lib/python3/dist-packages/fail2ban/tests/files/logs', '/usr/lib/python3/dist-packages/fail2ban/tests/files/logs'].find((d) => existsSync(d));
  if (f2b) for (const f of readdirSync(f2b, { withFileTypes: true }).filter((e) => e.isFile())) lines.push(...readFileSync(join(f2b, f.name), 'latin1').split('\n'));
  for (const l of readFileSync(join(root, 'test', 'corpus', 'injection.jsonl'), 'utf8').split('\n').filter(Boolean)) lines.push((JSON.parse(l) as { line: string }).line);
  lines.push('Nov 22 06:25:01 h CRON[1]: (root) CMD (true)', 'Nov 22 06:25:01 h kernel: [1.0] x', '');
  const m = new Matcher(config);
  let matched = 0;
  for (const line of lines) {
    const text = parseSyslogLine(line).text;
    const v = m.match(text);
    const got = v.kind === 'good' ? `good ${v.ip.text}` : v.kind === 'bad' ? `bad ${v.offences.map((o) => `${o.blocktype} ${o.ip.text}`).join(',')}` : 'none';
    assert.equal(got, naive(config, text), line);
    if (got !== 'none') matched++;
  }
  assert.ok(matched > 50, `only ${matched} lines matched: the comparison says little`);
});

test("a program's route is made when its first line comes: the presets of services the host does not run cost nothing", () => {
  const yaml = String.raw`blocktypes:
  ssh: {target: B, patterns: ['^sshd\[\d+\]: Failed password for \S+ from (?<ip>\S+) port']}
  mail: {target: B, patterns: ['^postfix/smtpd\[\d+\]: warning: \S+\[(?<ip>[^\]]+)\]: SASL']}
  any: {target: B, patterns: ['^[-\w.]+: pam_unix: authentication failure; rhost=(?<ip>\S+)$']}
`;
  const { config } = parseConfig(yaml, 'lazy.yml');
  const m = new Matcher(config);
  assert.equal(m.routesMade, 0);
  assert.equal(m.match('CRON[1]: (root) CMD (true)').kind, 'none');
  assert.equal(m.routesMade, 0, 'a program no rule names has no route of its own');
  const ssh = m.match('sshd[7]: Failed password for root from 192.0.2.1 port 22 ssh2');
  assert.deepEqual(ssh.kind === 'bad' ? ssh.offences.map((o) => `${o.blocktype} ${o.ip.text}`) : ssh.kind, ['ssh 192.0.2.1']);
  assert.equal(m.routesMade, 1);
  m.match('sshd[8]: Failed password for root from 192.0.2.2 port 22 ssh2');
  assert.equal(m.routesMade, 1, 'made once');
  const pam = m.match('sshd: pam_unix: authentication failure; rhost=192.0.2.3');
  assert.deepEqual(pam.kind === 'bad' ? pam.offences.map((o) => `${o.blocktype} ${o.ip.text}`) : pam.kind, ['any 192.0.2.3'], "a rule with no program prefix is in every program's route");
  const mail = m.match('postfix/smtpd[9]: warning: x[192.0.2.4]: SASL LOGIN authentication failed: x');
  assert.deepEqual(mail.kind === 'bad' ? mail.offences.map((o) => `${o.blocktype} ${o.ip.text}`) : mail.kind, ['mail 192.0.2.4']);
  assert.equal(m.routesMade, 2);
});

test('a blocktype is not asked the lines of the programs of the blocktypes it defers to, and only of those', () => {
  const yaml = (deferTo: string) => String.raw`blocktypes:
  ssh: {target: B, patterns: ['^sshd(?:-session)?\[\d+\]: Failed password for \S+ from (?<ip>\S+) port \d+ ssh2$']}
  su: {target: B, patterns: ['^su\[\d+\]: FAILED SU \(to root\) \S+ on (?<ip>\S+)$']}
  web: {target: B, patterns: ['^nginx: \S+ \[error\] user \S+ not found, client: (?<ip>\S+)$']}
  pam: {target: B, defer_to: ${deferTo}, patterns: ['^[-\w.]+(?:\[\d+\])?: pam_unix\(\S+:auth\): authentication failure; rhost=(?<ip>\S+)$']}
`;
  const caught = (m: Matcher, line: string) => {
    const v = m.match(line);
    return v.kind === 'bad' ? v.offences.map((o) => `${o.blocktype} ${o.ip.text}`) : [];
  };
  const on = new Matcher(parseConfig(yaml('[ssh, su, gone]'), 'defer.yml').config);
  const off = new Matcher(parseConfig(yaml('[]'), 'no-defer.yml').config);
  // the routes' keys are 3 characters long (su's prefix 'su['), so the route 'ssh' holds sshd's lines and others'
  for (const [line, deferring, not] of [
    ['sshd[7]: pam_unix(sshd:auth): authentication failure; rhost=192.0.2.1', [], ['pam 192.0.2.1']],
    ['sshd-session[7]: pam_unix(sshd:auth): authentication failure; rhost=192.0.2.1', [], ['pam 192.0.2.1']],
    ['sshd[7]: Failed password for root from 192.0.2.1 port 22 ssh2', ['ssh 192.0.2.1'], ['ssh 192.0.2.1']],
    ['ssh-agent[7]: pam_unix(x:auth): authentication failure; rhost=192.0.2.2', ['pam 192.0.2.2'], ['pam 192.0.2.2']],
    ['su[7]: pam_unix(su:auth): authentication failure; rhost=192.0.2.3', [], ['pam 192.0.2.3']],
    // su's pattern is written for 'su[', not for sudo
    ['sudo[7]: pam_unix(sudo:auth): authentication failure; rhost=192.0.2.4', ['pam 192.0.2.4'], ['pam 192.0.2.4']],
    // web is not in the list: its program's lines are still asked
    ['nginx: pam_unix(nginx:auth): authentication failure; rhost=192.0.2.5', ['pam 192.0.2.5'], ['pam 192.0.2.5']],
    ['cockpit-session: pam_unix(cockpit:auth): authentication failure; rhost=192.0.2.6', ['pam 192.0.2.6'], ['pam 192.0.2.6']],
  ] as const) {
    assert.deepEqual(caught(on, line), deferring, `deferring: ${line}`);
    assert.deepEqual(caught(off, line), not, `not deferring: ${line}`);
  }
  const { config } = parseConfig(yaml('[ssh, su, gone]'), 'defer.yml');
  assert.deepEqual(deferredPrefixes(config.blocktypes, config.blocktypes[3]!), [
    { blocktype: 'ssh', prefixes: ['sshd'] },
    { blocktype: 'su', prefixes: ['su['] },
  ]);
  // deferring to a blocktype whose patterns name no program leaves it nothing
  const none = new Matcher(parseConfig(String.raw`blocktypes:
  any: {target: B, patterns: ['^\S+: login failed from (?<ip>\S+)$']}
  pam: {target: B, defer_to: [any], patterns: ['^[-\w.]+(?:\[\d+\])?: pam_unix\(\S+:auth\): authentication failure; rhost=(?<ip>\S+)$']}
`, 'none.yml').config);
  assert.deepEqual(caught(none, 'sshd[7]: pam_unix(sshd:auth): authentication failure; rhost=192.0.2.1'), ['pam 192.0.2.1']);
});
