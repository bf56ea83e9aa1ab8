/**
 * `include:`: shipped presets by name, files by path, and how their
 * goodpatterns and blocktypes merge with the including config's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseConfig, PRESET_DIR, shippedPresets } from '../../src/config/load.js';
import { ConfigError, formatProblem, type ConfigProblem } from '../../src/config/problems.js';
import { DEFAULTS } from '../../src/config/schema.js';
import { Matcher } from '../../src/match/matcher.js';
import { runCli } from '../helpers/daemon-process.js';

// dist/test/presets -> the repo root: fixtures are not copied by tsc, so read them from the source tree
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const FIXTURES = path.join(ROOT, 'test/presets/fixtures');
/** The including config sits among the fixtures, so `./web-a.yml` is a fixture. */
const CONFIG = path.join(FIXTURES, 'banban.yml');
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const load = (text: string) => parseConfig(text, CONFIG, { passwdText: '', groupText: '' });

function problems(text: string): ConfigProblem[] {
  try {
    load(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return [...e.problems];
  }
  assert.fail('expected the config to be refused');
}

const show = (ps: readonly ConfigProblem[]): string => ps.map((p) => formatProblem(p)).join('\n');

function onlyError(ps: ConfigProblem[], key: string, file = CONFIG): ConfigProblem {
  const hits = ps.filter((p) => p.severity === 'error' && p.key === key && p.file === file);
  assert.equal(hits.length, 1, `expected one error at ${file} ${key}, got:\n${show(ps)}`);
  return hits[0]!;
}

const SHIPPED = ['apache', 'dovecot', 'exim', 'nginx', 'pam-generic', 'postfix', 'proftpd', 'pure-ftpd', 'sshd', 'vsftpd'];

test('the shipped presets are found next to the compiled code', () => {
  assert.deepEqual(shippedPresets(), SHIPPED);
  assert.equal(PRESET_DIR, path.join(ROOT, 'presets') + path.sep);
});

test('a bare name loads the shipped preset, and its rules say where they came from', () => {
  const { config, warnings } = load(yaml('include: [sshd]', 'ignorenets: [127.0.0.0/8]'));
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.blocktypes.map((b) => b.name), ['sshd']);
  const sshd = config.blocktypes[0]!;
  assert.equal(sshd.target, 'BLOCKER');
  assert.equal(sshd.minocc, 5);
  assert.equal(sshd.interval, 600);
  assert.equal(sshd.bantime, 3600);
  assert.equal(sshd.resetconns, true);
  assert.ok(sshd.patterns.length > 10);
  // patterns, then endpatterns, each numbered in its own list
  const ends = sshd.patterns.filter((r) => r.perProcess);
  assert.ok(ends.length > 5);
  assert.deepEqual(sshd.patterns.slice(sshd.patterns.length - ends.length), ends, 'the endpatterns come last');
  sshd.patterns
    .filter((r) => !r.perProcess)
    .forEach((r, i) => assert.equal(r.where, `sshd:blocktypes.sshd.patterns[${i}]`));
  ends.forEach((r, i) => assert.equal(r.where, `sshd:blocktypes.sshd.endpatterns[${i}]`));
  assert.equal(config.goodpatterns[0]!.where, 'sshd:goodpatterns[0]');
});

test("goodpatterns: every include's in include order, then the file's own", () => {
  const { config } = load(
    yaml('include: [./web-a.yml, sshd, ./goodonly.yml]', 'goodpatterns:', String.raw`  - '^mine\[\d+\]: ok (?<ip>\S+)$'`, 'ignorenets: [127.0.0.0/8]'),
  );
  assert.deepEqual(
    config.goodpatterns.map((r) => r.where),
    ['./web-a.yml:goodpatterns[0]', 'sshd:goodpatterns[0]', './goodonly.yml:goodpatterns[0]', 'goodpatterns[0]'],
  );
});

test("blocktypes: the includes' in include order, then the file's new ones", () => {
  const { config } = load(
    yaml(
      'include: [postfix, ./web-a.yml, sshd]',
      'ignorenets: [127.0.0.0/8]',
      'blocktypes:',
      '  mine:',
      '    patterns:',
      String.raw`      - '^mine\[\d+\]: bad (?<ip>\S+)$'`,
      '  sshd:',
      '    minocc: 2',
    ),
  );
  assert.deepEqual(config.blocktypes.map((b) => b.name), ['postfix', 'web', 'sshd', 'mine']);
  assert.equal(config.blocktypes.find((b) => b.name === 'web')!.target, 'WEB');
});

test('a blocktype the file also names is overridden key by key, without repeating patterns', () => {
  const preset = load(yaml('include: [sshd]', 'ignorenets: [127.0.0.0/8]')).config.blocktypes[0]!;
  const { config, warnings } = load(
    yaml('include: [sshd]', 'ignorenets: [127.0.0.0/8]', 'blocktypes:', '  sshd:', '    minocc: 3', '    target: SSH', '    resetconns: false'),
  );
  assert.deepEqual(warnings, []);
  const b = config.blocktypes[0]!;
  assert.equal(b.minocc, 3);
  assert.equal(b.target, 'SSH');
  assert.equal(b.resetconns, false);
  // not given: the preset's
  assert.equal(b.interval, preset.interval);
  assert.equal(b.bantime, preset.bantime);
  assert.deepEqual(b.patterns.map((r) => r.source), preset.patterns.map((r) => r.source));
});

test("the file's patterns replace the preset's list, they are not appended", () => {
  const { config } = load(
    yaml('include: [sshd]', 'ignorenets: [127.0.0.0/8]', 'blocktypes:', '  sshd:', '    patterns:', String.raw`      - '^sshd\[\d+\]: only this from (?<ip>\S+)$'`),
  );
  const b = config.blocktypes[0]!;
  assert.deepEqual(
    b.patterns.filter((r) => !r.perProcess).map((r) => r.where),
    ['blocktypes.sshd.patterns[0]'],
  );
  // the other keys are still the preset's, endpatterns among them
  assert.ok(b.patterns.filter((r) => r.perProcess).every((r) => r.where.startsWith('sshd:blocktypes.sshd.endpatterns[')));
  assert.equal(b.minocc, 5);
  assert.equal(b.resetconns, true);
});

test("the file's endpatterns replace the preset's too, and an empty list counts no connection's end", () => {
  const { config, warnings } = load(yaml('include: [sshd]', 'ignorenets: [127.0.0.0/8]', 'blocktypes:', '  sshd:', '    endpatterns: []'));
  assert.deepEqual(warnings, []);
  const b = config.blocktypes[0]!;
  assert.equal(b.patterns.filter((r) => r.perProcess).length, 0);
  assert.ok(b.patterns.length > 5, "the preset's patterns stay");
});

test('a blocktype of endpatterns alone needs no patterns', () => {
  const { config } = load(yaml('ignorenets: [127.0.0.0/8]', 'blocktypes:', '  scan:', '    endpatterns:', String.raw`      - '^d\[\d+\]: gone (?<ip>\S+)$'`));
  assert.deepEqual(config.blocktypes[0]!.patterns.map((r) => r.where), ['blocktypes.scan.endpatterns[0]']);
});

test('keys the preset leaves out fall back to the defaults, and the file can set them', () => {
  const { config } = load(yaml('include: [./web-b.yml]', 'ignorenets: [127.0.0.0/8]', 'blocktypes:', '  web:', '    bantime: 60'));
  const b = config.blocktypes[0]!;
  assert.equal(b.target, DEFAULTS.target);
  assert.equal(b.minocc, DEFAULTS.minocc);
  assert.equal(b.bantime, 60);
});

test('a new blocktype of the file still needs patterns', () => {
  const ps = problems(yaml('include: [sshd]', 'ignorenets: [127.0.0.0/8]', 'blocktypes:', '  ssh:', '    minocc: 2'));
  const p = onlyError(ps, 'blocktypes.ssh.patterns');
  assert.equal(p.line, 4);
  assert.match(p.message, /is required/);
});

test('two includes defining the same blocktype is an error naming both', () => {
  const ps = problems(yaml('ignorenets: [127.0.0.0/8]', 'include:', '  - ./web-a.yml', '  - ./web-b.yml'));
  const p = onlyError(ps, 'include[1]');
  assert.equal(p.line, 4);
  assert.match(p.message, /blocktype 'web' is defined both by '\.\/web-a\.yml' \(.*web-a\.yml:5\) and by '\.\/web-b\.yml' \(.*web-b\.yml:3\)/);
});

test('an unknown preset name is an error listing the shipped presets', () => {
  const ps = problems(yaml('include: [sshd, ssh]', 'ignorenets: [127.0.0.0/8]'));
  const p = onlyError(ps, 'include[1]');
  assert.equal(p.line, 1);
  assert.equal(p.col, 17);
  assert.match(p.message, /no shipped preset named 'ssh'; did you mean 'sshd'\?/);
  assert.match(p.message, new RegExp(SHIPPED.join(', ')));
  // a capitalised name is a path, which does not exist; the message says how the preset is spelled
  const q = onlyError(problems(yaml('include: [SSHD]', 'ignorenets: [127.0.0.0/8]')), 'include[0]');
  assert.match(q.message, /does not exist; the shipped preset is spelled 'sshd'/);
});

test('a path is taken from the folder of the including file; an absolute one as it is', () => {
  const rel = load(yaml('include: [web-a.yml]', 'ignorenets: [127.0.0.0/8]')).config;
  assert.deepEqual(rel.blocktypes.map((b) => b.name), ['web']);
  const abs = load(yaml(`include: ['${path.join(FIXTURES, 'web-a.yml')}']`, 'ignorenets: [127.0.0.0/8]')).config;
  assert.deepEqual(abs.blocktypes[0]!.patterns.map((r) => r.source), rel.blocktypes[0]!.patterns.map((r) => r.source));
  const missing = onlyError(problems(yaml('ignorenets: [127.0.0.0/8]', 'include: [./nope.yml]')), 'include[0]');
  assert.equal(missing.line, 2);
  assert.match(missing.message, /cannot read the included file .*fixtures\/nope\.yml: it does not exist/);
});

test('an included file may not include others', () => {
  const ps = problems(yaml('include: [./nested.yml]', 'ignorenets: [127.0.0.0/8]'));
  const p = onlyError(ps, 'include', path.join(FIXTURES, 'nested.yml'));
  assert.equal(p.line, 2);
  assert.match(p.message, /cannot include others/);
});

test("problems inside an included file name that file and its lines, after the config's own", () => {
  const ps = problems(yaml('include: [./broken.yml]', 'ignorenets: [127.0.0.0/8]', 'blocktypes:', '  x:', '    minocc: 0', '    patterns: []'));
  const broken = path.join(FIXTURES, 'broken.yml');
  assert.equal(onlyError(ps, 'socket', broken).line, 2);
  assert.match(onlyError(ps, 'socket', broken).message, /cannot be set in an included file/);
  assert.match(onlyError(ps, 'blocktypes.broken.minoc', broken).message, /did you mean 'minocc'/);
  const noIp = onlyError(ps, 'blocktypes.broken.patterns[0]', broken);
  assert.equal(noIp.line, 7);
  assert.match(noIp.message, /no named group \(\?<ip>/);
  const warning = ps.find((p) => p.severity === 'warning' && p.file === broken && p.key === 'blocktypes.broken.patterns[1]');
  assert.ok(warning, show(ps));
  assert.equal(warning.line, 8);
  // the source excerpt is the included file's line
  assert.match(formatProblem(noIp, noIp.source), /broken\.yml:7:9: error: .*\n {6}- '\^b/);
  // the config's own problems first, then the included file's, each by line
  const order = ps.map((p) => `${path.basename(p.file)}:${p.line}`);
  assert.deepEqual(order, [...order].sort((a, b) => (a.startsWith('banban') === b.startsWith('banban') ? Number(a.split(':')[1]) - Number(b.split(':')[1]) : a.startsWith('banban') ? -1 : 1)));
  assert.ok(order[0]!.startsWith('banban.yml'), order.join(' '));
});

test('include must be a list of non-empty strings, each once', () => {
  let p = onlyError(problems(yaml('include: sshd', 'ignorenets: [127.0.0.0/8]')), 'include');
  assert.match(p.message, /must be a list, not the string 'sshd'; write include: \[sshd\]/);
  p = onlyError(problems(yaml('include: [sshd, 42]', 'ignorenets: [127.0.0.0/8]')), 'include[1]');
  assert.match(p.message, /as a string, not the number 42/);
  p = onlyError(problems(yaml('include: [sshd, ""]', 'ignorenets: [127.0.0.0/8]')), 'include[1]');
  assert.match(p.message, /is empty/);
  p = onlyError(problems(yaml('include: [sshd, postfix, sshd]', 'ignorenets: [127.0.0.0/8]')), 'include[2]');
  assert.match(p.message, /already included as include\[0\]/);
});

test('with includes, blocktypes may be left out; without any blocktype at all it is still required', () => {
  assert.equal(load(yaml('include: [nginx]', 'ignorenets: [127.0.0.0/8]')).config.blocktypes.length, 1);
  const p = onlyError(problems(yaml('include: [./goodonly.yml]', 'ignorenets: [127.0.0.0/8]')), 'blocktypes');
  assert.match(p.message, /included files define no blocktypes/);
  assert.match(onlyError(problems(yaml('ignorenets: [127.0.0.0/8]')), 'blocktypes').message, /is required/);
  assert.match(onlyError(problems(yaml('include: []', 'ignorenets: [127.0.0.0/8]')), 'blocktypes').message, /is required: a map/);
  // an include that is wrong is said once, where it is: no "blocktypes is required" that only follows from it
  for (const include of ['include: sshd', 'include: [ssh]']) {
    const ps = problems(yaml(include, 'ignorenets: [127.0.0.0/8]'));
    assert.deepEqual(
      ps.filter((p) => p.severity === 'error').map((p) => p.key),
      [include === 'include: sshd' ? 'include' : 'include[0]'],
      show(ps),
    );
  }
});

test('every shipped preset holds only goodpatterns, sessionpatterns, blocktypes and a caveat, anchored patterns, and the agreed defaults', () => {
  for (const name of SHIPPED) {
    const text = readFileSync(path.join(PRESET_DIR, `${name}.yml`), 'utf8');
    const doc = parse(text) as { goodpatterns?: string[]; sessionpatterns?: string[]; blocktypes: Record<string, { target: string; bantime: number; minocc: number; interval: number; resetconns: boolean; patterns: string[] }> };
    assert.deepEqual(Object.keys(doc).filter((k) => !['goodpatterns', 'sessionpatterns', 'blocktypes', 'caveat'].includes(k)), [], name);
    // a caveat is a known gap an admin must hear of when including the preset: nginx's cut lines, so far
    assert.equal('caveat' in doc, name === 'nginx', `${name}: caveat`);
    assert.deepEqual(Object.keys(doc.blocktypes), [name], `${name} defines one blocktype named after it`);
    const bt = doc.blocktypes[name]!;
    assert.equal(bt.target, 'BLOCKER', name);
    assert.equal(bt.bantime, 3600, name);
    assert.equal(bt.minocc, 5, name);
    assert.equal(bt.interval, 600, name);
    assert.equal(bt.resetconns, name === 'sshd', name);
    for (const p of [...(doc.goodpatterns ?? []), ...(doc.sessionpatterns ?? []), ...bt.patterns]) {
      assert.ok(p.startsWith('^') && p.endsWith('$'), `${name}: not anchored at both ends: ${p}`);
      assert.ok(p.includes('(?<ip>') || (bt.patterns.includes(p) && p.includes('(?<pid>')), `${name}: no ip group: ${p}`);
    }
    // a comment says which lines each pattern is for
    assert.match(text, /^# banban preset: /, name);
  }
});

test("banban check on a config including every preset prints the merged result and no warning but the nginx preset's caveat", async () => {
  const res = await runCli(['check', '-c', path.join(FIXTURES, 'all-presets.yml')]);
  const warnings = res.stderr.split('\n').filter((l) => / warning: /.test(l));
  assert.equal(warnings.length, 1, res.stderr);
  assert.match(warnings[0]!, /presets\/nginx\.yml:\d+:\d+: warning: caveat: a client can make this preset's error-log pattern count an address of its choosing/);
  assert.equal(res.code, 0);
  assert.match(res.stdout, new RegExp(`^include {5}sshd, postfix, dovecot, exim, nginx, apache, vsftpd, proftpd, pure-ftpd, pam-generic$`, 'm'));
  assert.match(res.stdout, /^ipv6_prefix \/128 \(each IPv6 address counted and banned on its own\)$/m, 'the default');
  assert.match(res.stdout, /^ {2}sshd: \d+ patterns \+ \d+ endpatterns \(patterns from sshd\), block in BLOCKER after 3 within 600s for 3600s, reset connections$/m);
  assert.match(res.stdout, /^ {2}postfix: \d+ patterns \+ \d+ endpatterns \(patterns from postfix\), block in BLOCKER after 5 within 600s for 3600s$/m);
  assert.match(res.stdout, /^ {2}local: 1 pattern \(patterns from this file\), block in BLOCKER after 3 within 600s for 3600s$/m);
  assert.match(res.stdout, /^ {4}defers to sshd \(lines starting 'sshd'\), dovecot \(lines starting 'auth', 'dovecot', 'dovecot-auth'\), vsftpd \(lines starting 'vsftpd'\)$/m);
  assert.match(res.stdout, /^goodpatterns 7 \(1 from sshd, 1 from postfix, 1 from dovecot, 1 from exim, 1 from vsftpd, 1 from proftpd, 1 from pure-ftpd\)$/m);
});

test("pam-generic defers to sshd, dovecot and vsftpd: their programs' lines are theirs alone when included; other services' are pam-generic's", () => {
  const pam = (prog: string, service: string, ip: string) =>
    `${prog}: pam_unix(${service}:auth): authentication failure; logname= uid=0 euid=0 tty=x ruser= rhost=${ip}  user=root`;
  const counted = (text: string, line: string) => {
    const v = new Matcher(load(text).config).match(line);
    return v.kind === 'bad' ? v.offences.map((o) => `${o.blocktype} ${o.ip.text}`) : [];
  };
  const every = yaml('include: [sshd, dovecot, vsftpd, nginx, apache, pam-generic]', 'ignorenets: [127.0.0.0/8]');
  assert.deepEqual(load(every).config.blocktypes.find((b) => b.name === 'pam-generic')!.deferTo, ['sshd', 'dovecot', 'vsftpd']);
  for (const [line, want] of [
    // sshd counts its own "Failed password" line, not this one
    [pam('sshd[812]', 'sshd', '192.0.2.1'), []],
    // dovecot and vsftpd count their pam_unix lines themselves, whatever PAM service name they run under
    [pam('auth[812]', 'dovecot', '192.0.2.2'), ['dovecot 192.0.2.2']],
    [pam('auth[812]', 'imap', '192.0.2.3'), ['dovecot 192.0.2.3']],
    [pam('vsftpd[812]', 'vsftpd', '192.0.2.4'), ['vsftpd 192.0.2.4']],
    [pam('vsftpd[812]', 'ftp', '192.0.2.5'), ['vsftpd 192.0.2.5']],
    // nginx and apache presets do not read PAM's lines: pam-generic still counts them
    [pam('nginx[812]', 'nginx', '192.0.2.6'), ['pam-generic 192.0.2.6']],
    [pam('apache2[812]', 'httpd', '192.0.2.7'), ['pam-generic 192.0.2.7']],
    [pam('su[812]', 'su', '192.0.2.8'), ['pam-generic 192.0.2.8']],
  ] as const) {
    assert.deepEqual(counted(every, line), want, line);
  }
  // alone, or told to defer to none, pam-generic counts sshd's line
  assert.deepEqual(counted(yaml('include: [pam-generic]', 'ignorenets: [127.0.0.0/8]'), pam('sshd[812]', 'sshd', '192.0.2.1')), ['pam-generic 192.0.2.1']);
  const none = yaml('include: [sshd, pam-generic]', 'ignorenets: [127.0.0.0/8]', 'blocktypes:', '  pam-generic:', '    defer_to: []');
  assert.deepEqual(load(none).warnings, []);
  assert.deepEqual(counted(none, pam('sshd[812]', 'sshd', '192.0.2.1')), ['pam-generic 192.0.2.1']);
});

test('banban check says whom pam-generic leaves lines to, and when none of them is there', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'banban-defer-'));
  try {
    const alone = path.join(dir, 'alone.yml');
    writeFileSync(alone, yaml('include: [pam-generic]', 'ignorenets: [127.0.0.0/8]'));
    const res = await runCli(['check', '-c', alone]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^ {4}defers to sshd, dovecot, vsftpd, none of them in this config: it reads every program's lines$/m);
    const some = path.join(dir, 'some.yml');
    writeFileSync(some, yaml('include: [sshd, pam-generic]', 'ignorenets: [127.0.0.0/8]'));
    assert.match((await runCli(['check', '-c', some])).stdout, /^ {4}defers to sshd \(lines starting 'sshd'\); not in this config: dovecot, vsftpd$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
