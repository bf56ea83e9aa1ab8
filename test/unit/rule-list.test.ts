import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import type { Rule } from '../../src/config/schema.js';
import { parseIp } from '../../src/lib/ip.js';
import { RuleList, sessionTag } from '../../src/match/rule-list.js';
import { captureGroups, fixedHead } from '../../src/match/regex-source.js';
import { compileRule } from '../../src/match/rules.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function allPresets() {
  const presets = readdirSync(join(ROOT, 'presets')).filter((f) => f.endsWith('.yml')).map((f) => f.slice(0, -4));
  return parseConfig(`include: [${presets.join(', ')}]\n`, join(ROOT, 'all.yml')).config;
}

/** V8's own count of a pattern's capturing groups. */
const v8Groups = (src: string, flags = '') => new RegExp(`(?:${src})|`, flags).exec('')!.length - 1;

test('capturing groups are counted as V8 counts them, for every shipped pattern and some tricky ones', () => {
  const c = allPresets();
  const sources = [...c.goodpatterns, ...c.sessionpatterns, ...c.blocktypes.flatMap((b) => b.patterns)].map((r) => r.regex.source);
  sources.push(
    String.raw`a\(b(c)`,
    String.raw`[(](?<ip>x)[)\]](y)`,
    String.raw`(?<=a)(b)(?<!c)(?=d)(?!e)(?:f)(?<name>g)`,
    String.raw`[^(]]((?:[\(])+)`,
    String.raw`\\((x))`,
    String.raw`[\]((]`,
  );
  assert.ok(sources.length > 60);
  for (const src of sources) assert.equal(captureGroups(src).length, v8Groups(src), src);
  assert.deepEqual(
    captureGroups(String.raw`[(](?<ip>x)\((?<pid>\d+)`).map((g) => g.name),
    ['ip', 'pid'],
  );
});

function rule(src: string, where: string, allowPid = false): Rule {
  const r = compileRule(src, where, { allowPid });
  if (!r.ok) throw new Error(`${src}: ${r.reason}`);
  return r.rule;
}

/** What the list must answer: every rule on its own, in order, the first with a usable capture winning. */
function naive(rules: readonly Rule[], text: string): string {
  const notes: string[] = [];
  for (const r of rules) {
    const m = r.regex.exec(text);
    if (!m) continue;
    if (r.byPid) {
      const tag = /^([^\s[\]:]+\[\d+\]): /.exec(text);
      if (tag) return `${r.where} session ${tag[1]} | ${notes.join(',')}`;
      continue;
    }
    const raw = m.groups?.['ip'];
    const ip = raw === undefined ? undefined : parseIp(raw);
    if (ip?.ok) return `${r.where} ${ip.value.text} | ${notes.join(',')}`;
    notes.push(r.where);
  }
  return `none | ${notes.join(',')}`;
}

function asked(list: RuleList, text: string): string {
  const notes: string[] = [];
  const hit = list.first(text, (x) => notes.push(x.rule.where));
  if (hit === undefined) return `none | ${notes.join(',')}`;
  return 'ip' in hit ? `${hit.rule.where} ${hit.ip.text} | ${notes.join(',')}` : `${hit.rule.where} session ${hit.session} | ${notes.join(',')}`;
}

test('a list of joined and lone rules answers as its rules asked one by one, on 20 000 generated lines', () => {
  const IP = '(?<ip>[0-9A-Fa-f:.]+)';
  // Order matters: r0-r3b and r5-r7 are runs that get joined, r4 and r8 stand alone between them, and
  // r9-r10 (no literal prefix, one shared literal) are joined behind that literal's filter.
  const rules = [
    rule(String.raw`^sshd\[\d+\]: Failed password for (?:invalid user )?\S+ from ${IP} port \d+ ssh2$`, 'r0'),
    // matches many lines, but its capture is often not an address: the rules after it must still be asked
    rule(String.raw`^sshd\[\d+\]: Failed (\w+) for (\S+) from (?<ip>\S+)(?: port (\d+))?`, 'r1'),
    rule(String.raw`^sshd\[(?<pid>\d+)\]: Disconnecting: Too many authentication failures \[preauth\]$`, 'r2', true),
    rule(String.raw`^sshd\[\d+\]: Invalid user .* from ${IP}(?: port \d+)?$`, 'r3'),
    // its address is optional: an empty group must say when it matched
    rule(String.raw`^sshd\[\d+\]: Timeout(?: for ${IP})?(?: port \d+)?$`, 'r3b'),
    // alone: a lookahead keeps it off the linear engine
    rule(String.raw`^sshd\[\d+\]: (?=Connection)Connection closed by ${IP} port \d+$`, 'r4'),
    rule(String.raw`^sshd\[\d+\]: Connection (?:closed|reset) by ${IP}(?: port \d+)?(?: \[preauth\])?$`, 'r5'),
    rule(String.raw`^(?:sshd|ssh2)\[\d+\]: error: maximum authentication attempts exceeded for .* from ${IP} port \d+ ssh2 \[preauth\]$`, 'r6'),
    rule(String.raw`^postfix/smtpd\[\d+\]: warning: [-.\w]+\[${IP}\]: SASL \w+ authentication failed`, 'r7'),
    // no message words (a queue id first): asked only of lines that hold `: reject: RCPT from `
    rule(String.raw`^postfix/smtpd\[\d+\]: [0-9A-F]+: reject: RCPT from [-.\w]+\[${IP}\]: 554`, 'r7b'),
    // alone: the i flag
    rule(String.raw`(?i)^SSHD\[\d+\]: ROOT LOGIN REFUSED FROM ${IP}$`, 'r8'),
    rule(String.raw`^[-\w.]+(?:\[\d+\])?: (?:pam_unix\(\w+:auth\)|\(pam_unix\)) authentication failure; logname= rhost=${IP}$`, 'r9'),
    rule(String.raw`^[-\w.]+(?:\[\d+\])?: \w+ authentication failure; logname= rhost=${IP} user=\S+$`, 'r10'),
  ];
  const whole = new RuleList(rules, { byMessage: false });
  assert.equal(whole.expressions, 5, 'r0-r3b, r4, r5-r7b, r8, r9-r10');
  // By message key: a `Failed ...` line asks r0-r1, r4, r7b, r8, r10 (all but r0-r1 have no words)
  const keyed = new RuleList(rules);
  assert.equal(keyed.expressions, 5);

  let seed = 11;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return Math.floor((seed / 0x80000000) * n);
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const addrs = ['192.0.2.7', '2001:db8::1', '::ffff:198.51.100.3', '999.1.1.1', 'example.org', '192.0.2.7]', '', '10.0.0.1 port 22'];
  const shapes = [
    () => `sshd[${rnd(9999)}]: Failed password for ${pick(['root', 'invalid user bob', 'x from 192.0.2.99'])} from ${pick(addrs)} port ${rnd(65535)} ssh2`,
    () => `sshd[${rnd(9999)}]: Failed ${pick(['publickey', 'none'])} for u from ${pick(addrs)}${pick(['', ' port 22'])}`,
    () => `sshd[${rnd(9999)}]: Disconnecting: Too many authentication failures [preauth]`,
    () => `sshd[${rnd(9999)}]: Invalid user ${pick(['a', 'b c', ''])} from ${pick(addrs)}${pick(['', ' port 2'])}`,
    () => `sshd[${rnd(9999)}]: Timeout${pick(['', ` for ${pick(addrs)}`])}${pick(['', ' port 2'])}`,
    () => `sshd[${rnd(9999)}]: Connection ${pick(['closed', 'reset'])} by ${pick(addrs)}${pick(['', ' port 7'])}${pick(['', ' [preauth]'])}`,
    () => `${pick(['sshd', 'ssh2'])}[${rnd(99)}]: error: maximum authentication attempts exceeded for root from ${pick(addrs)} port 22 ssh2 [preauth]`,
    () => `${pick(['sshd', 'SSHD', 'SsHd'])}[${rnd(99)}]: ${pick(['ROOT LOGIN REFUSED FROM', 'root login refused from'])} ${pick(addrs)}`,
    () => `postfix/smtpd[${rnd(99)}]: warning: ${pick(['unknown', 'a.b'])}[${pick(addrs)}]: SASL LOGIN authentication failed: x`,
    () => `postfix/smtpd[${rnd(99)}]: ${pick(['4F3A2', 'x'])}: ${pick(['reject: RCPT', 'reject: MAIL', 'connect'])} from a.b[${pick(addrs)}]: 554 5.7.1`,
    () => `${pick(['sshd[7]', 'su', 'vsftpd[1]'])}: ${pick(['pam_unix(sshd:auth)', '(pam_unix)', 'x'])} authentication failure; logname= rhost=${pick(addrs)}${pick(['', ' user=root'])}`,
    () => `CRON[${rnd(99)}]: (root) CMD (true)`,
    // message keys: none (no `: `, or a short message), not ASCII, or a `: ` before the tag's
    () => `sshd[${rnd(99)}]:${pick(['', ' ', ' Fai', ' Fäiled password for root from 192.0.2.7 port 2 ssh2'])}`,
    () => `sshd[${rnd(99)}] x: Failed password for root from ${pick(addrs)} port 2 ssh2`,
  ];
  const kinds = new Map<string, number>();
  for (let k = 0; k < 20_000; k++) {
    let text = pick(shapes)();
    if (rnd(10) === 0) {
      const at = rnd(text.length);
      text = text.slice(0, at) + text.slice(at + 1); // a character dropped
    }
    const want = naive(rules, text);
    assert.equal(asked(whole, text), want, text);
    assert.equal(asked(keyed, text), want, text);
    const kind = want.split(' ')[0]!;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  for (const r of rules) assert.ok((kinds.get(r.where) ?? 0) > 0, `some line is answered by ${r.where}`);
});

test('the fixed head of a pattern is the start that can match in one way only', () => {
  const cases: [string, string][] = [
    [String.raw`sshd\[\d+\]: Failed`, String.raw`sshd\[\d+\]: Failed`],
    [String.raw`sshd\[\d+\]: (?:error: )?x`, String.raw`sshd\[\d+\]: (?:error: )?x`],
    [String.raw`sshd\[\d+\]: (?:error: )?`, String.raw`sshd\[\d+\]: `],
    [String.raw`sshd\[\d+\]: (?:error: )?e`, String.raw`sshd\[\d+\]: `],
    [String.raw`sshd\[\d+\]: (?:error: )?[Ii]`, String.raw`sshd\[\d+\]: `],
    [String.raw`sshd\[\d+\]: `, String.raw`sshd\[\d+\]: `],
    [String.raw`ab?c`, 'a'],
    [String.raw`ab*c`, 'a'],
    [String.raw`ab{2}c`, 'a'],
    [String.raw`a\d+1`, 'a'],
    [String.raw`a\d+?b`, 'a'],
    [String.raw`a\d{2}b`, 'a'],
    [String.raw`a\d+`, 'a'],
    [String.raw`a\d*b`, String.raw`a\d*b`],
    [String.raw`a\w+ b`, String.raw`a\w+ b`],
    [String.raw`a\w+ b?`, String.raw`a\w+ `],
    [String.raw`a\w+_`, 'a'],
    [String.raw`a\s+x`, String.raw`a\s+x`],
    [String.raw`a\s+ `, 'a'],
    [String.raw`a\S+ b`, 'a'],
    [String.raw`a\.b(c)`, String.raw`a\.b`],
    [String.raw`[ab]c`, ''],
    [String.raw`.x`, ''],
    ['postfix', 'postfix'],
    // an optional literal group, followed by a literal it cannot start with
    [String.raw`sshd(?:-session)?\[\d+\]: x`, String.raw`sshd(?:-session)?\[\d+\]: x`],
    [String.raw`a(?:b)?b`, 'a'],
    [String.raw`a(?:bc)??d`, 'a'],
    [String.raw`a(?:b|c)?d`, 'a'],
    [String.raw`a(?:b*)?c`, 'a'],
    [String.raw`a(?:b)?`, 'a'],
    [String.raw`a(?:b)?c*`, 'a'],
    [String.raw`a(?:)?c`, 'a'],
    [String.raw`a(b)?c`, 'a'],
  ];
  for (const [body, head] of cases) assert.equal(fixedHead(body), head, body);
});

test('rules that start alike are joined behind their shared head, pid rules included', () => {
  const sshd = allPresets().blocktypes.find((b) => b.name === 'sshd')!;
  const [source, ...more] = new RuleList(sshd.patterns, { byMessage: false }).joinedSources;
  assert.equal(more.length, 0);
  assert.ok(source!.startsWith(String.raw`^sshd(?:-session)?\[\d+\]: (?:`), source);
  assert.ok(sshd.patterns.some((r) => r.byPid));
  // The differential test above has a run like this (r0-r3): it must be factored too, or it tests nothing new.
  const IP = '(?<ip>[0-9A-Fa-f:.]+)';
  const run = new RuleList(
    [
      rule(String.raw`^sshd\[\d+\]: Failed password for \S+ from ${IP} port \d+ ssh2$`, 'a'),
      rule(String.raw`^sshd\[(?<pid>\d+)\]: Disconnecting: Too many authentication failures \[preauth\]$`, 'b', true),
      rule(String.raw`^sshd\[\d+\]: Invalid user .* from ${IP}$`, 'c'),
    ],
    { byMessage: false },
  );
  assert.deepEqual(
    run.joinedSources,
    [String.raw`^sshd\[\d+\]: (?:Failed password for \S+ from ([0-9A-Fa-f:.]+) port \d+ ssh2$|Disconnecting: Too many authentication failures \[preauth\]$()|Invalid user .* from ([0-9A-Fa-f:.]+)$)`],
  );
  assert.equal(asked(run, 'sshd[7]: Disconnecting: Too many authentication failures [preauth]'), 'b session sshd[7] | ');
  assert.equal(asked(run, 'sshd[7]: Invalid user x from 192.0.2.1'), 'c 192.0.2.1 | ');
});

test("the sshd preset joined behind its head `sshd(?:-session)?\\[\\d+\\]: ` answers as its rules asked one by one", () => {
  const sshd = allPresets().blocktypes.find((b) => b.name === 'sshd')!;
  const keyed = new RuleList(sshd.patterns);
  const whole = new RuleList(sshd.patterns, { byMessage: false });
  let seed = 3;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return Math.floor((seed / 0x80000000) * n);
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const tags = ['sshd', 'sshd-session', 'sshd-sessio', 'sshd-session-x', 'sshd-', 'sshd-sshd', 'sshd-session-session'];
  const messages = [
    'Failed password for invalid user admin from 192.0.2.1 port 52311 ssh2',
    'error: Failed password for root from 2001:db8::5 port 22 ssh2',
    'Invalid user admin from 192.0.2.1 port 52311',
    'Connection closed by authenticating user root 192.0.2.1 port 52311 [preauth]',
    'Connection closed by 192.0.2.1 port 52311',
    'Disconnecting: Too many authentication failures [preauth]',
    'error: kex_exchange_identification: Connection closed by remote host',
    'Timeout before authentication for connection from 192.0.2.1 to 198.51.100.87, pid = 812',
    'fatal: Timeout before authentication for 192.0.2.1 port 52311',
    'Received disconnect from 192.0.2.1 port 52311:11: Bye Bye [preauth]',
    'Accepted publickey for alice from 192.0.2.9 port 52311 ssh2',
  ];
  const kinds = new Map<string, number>();
  for (let k = 0; k < 5_000; k++) {
    let text = `${pick(tags)}[${rnd(99_999)}]: ${pick(messages)}`;
    if (rnd(4) === 0) {
      const at = rnd(text.length);
      text = text.slice(0, at) + text.slice(at + 1); // a character dropped
    }
    const want = naive(sshd.patterns, text);
    assert.equal(asked(keyed, text), want, text);
    assert.equal(asked(whole, text), want, text);
    kinds.set(text.slice(0, text.indexOf('[')), (kinds.get(text.slice(0, text.indexOf('['))) ?? 0) + (want.startsWith('none ') ? 0 : 1));
  }
  // both tags are answered, the near misses never
  assert.ok((kinds.get('sshd') ?? 0) > 100 && (kinds.get('sshd-session') ?? 0) > 100, JSON.stringify([...kinds]));
  for (const t of ['sshd-sessio', 'sshd-session-x', 'sshd-', 'sshd-sshd', 'sshd-session-session']) assert.equal(kinds.get(t) ?? 0, 0, t);
});

test('every shipped blocktype of anchored, linear patterns is asked as one expression', () => {
  const c = allPresets();
  const sshd = c.blocktypes.find((b) => b.name === 'sshd')!;
  assert.equal(new RuleList(sshd.patterns, { byMessage: false }).expressions, 1);
  // and by message key, an sshd line is asked the few rules its message can concern, in one expression
  const keyed = new RuleList(sshd.patterns);
  assert.equal(keyed.expressions, 1);
  assert.ok(keyed.joinedSources.length > 10, `${keyed.joinedSources.length} expressions, one per message key`);
  assert.ok(keyed.joinedSources.some((s) => s.startsWith(String.raw`^sshd(?:-session)?\[\d+\]: (?:(?:error: )?[Ii]nvalid user`)));
  for (const b of c.blocktypes) {
    const list = new RuleList(b.patterns);
    assert.ok(list.expressions <= 2, `${b.name}: ${b.patterns.length} patterns in ${list.expressions} expressions`);
  }
});

test('the session of a line is its tag, as the tag expression reads it', () => {
  const TAG = /^([^\s[\]:]+\[\d+\]): /;
  const texts = ['sshd[7]: x', 'sshd[7]:x', 'sshd[]: x', '[7]: x', 'a b[7]: x', 'a:b[7]: x', 'a\u00a0b[7]: x', 'ab[7]x: y', 'ab[7] : x', 'ab[x7]: y', 'postfix/smtpd[123456]: x', 'é[1]: x', 'a[1][2]: x', 'a]b[1]: x', 's[1]: ', 'a[12345678901234567890]: x', ''];
  let seed = 5;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return Math.floor((seed / 0x80000000) * n);
  };
  const alphabet = ['a', 's', '[', ']', '1', '9', ':', ' ', '\t', '\u2028', '\ufeff', '/', '-'];
  for (let k = 0; k < 20_000; k++) texts.push(Array.from({ length: 1 + rnd(12) }, () => alphabet[rnd(alphabet.length)]).join(''));
  for (const t of texts) assert.equal(sessionTag(t), TAG.exec(t)?.[1], JSON.stringify(t));
});
