import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { Decision } from '../../src/pipeline.js';
import { BanEngine, SESSION_CAP, SESSION_TTL_MS } from '../../src/track/ban-engine.js';

const CONFIG = `
socket: /run/banban/banban.sock
goodpatterns:
  - 'sshd\\[\\d+\\]: Accepted \\S+ for \\S+ from (?<ip>\\S+) port \\d+ ssh2$'
ignorenets: [10.0.0.0/8, "2001:db8:ffff::/48"]
blocktypes:
  ssh:
    target: SSH
    minocc: 3
    interval: 60
    resetconns: 1
    patterns:
      - 'sshd\\[\\d+\\]: Failed password for (?:invalid user )?\\S* from (?<ip>\\S+) port \\d+ ssh2$'
  scan:
    target: SCAN
    minocc: 2
    interval: 10
    patterns:
      - 'sshd\\[\\d+\\]: Failed password for \\S* from (?<ip>\\S+) port \\d+ ssh2$'
      - 'sshd\\[\\d+\\]: Did not receive identification string from (?<ip>\\S+) port \\d+$'
`;

const engine = () => new BanEngine(parseConfig(CONFIG, '/test/banban.yml').config);
const fail = (ip: string, user = 'root') => `sshd[1]: Failed password for ${user} from ${ip} port 4242 ssh2`;
const blocks = (ds: readonly Decision[]) => ds.filter((d) => d.kind === 'block').map((d) => (d.kind === 'block' ? `${d.ip.text}>${d.target}` : ''));

test('an address is blocked when it reaches minocc within the interval, not before', () => {
  const e = engine();
  assert.deepEqual(blocks(e.handle(fail('192.0.2.1', 'invalid user x'), 0).decisions), []);
  assert.deepEqual(blocks(e.handle(fail('192.0.2.1', 'invalid user x'), 1000).decisions), []);
  assert.deepEqual(blocks(e.handle(fail('192.0.2.1', 'invalid user x'), 2000).decisions), ['192.0.2.1>SSH']);
});

test('offences older than the interval no longer count', () => {
  const e = engine();
  e.handle(fail('192.0.2.2', 'invalid user x'), 0);
  e.handle(fail('192.0.2.2', 'invalid user x'), 30_000);
  assert.deepEqual(blocks(e.handle(fail('192.0.2.2', 'invalid user x'), 61_000).decisions), []);
  assert.deepEqual(blocks(e.handle(fail('192.0.2.2', 'invalid user x'), 62_000).decisions), ['192.0.2.2>SSH']);
});

test('each blocktype counts on its own, with its own threshold and target', () => {
  const e = engine();
  assert.deepEqual(blocks(e.handle(fail('192.0.2.3'), 0).decisions), []);
  assert.deepEqual(blocks(e.handle(fail('192.0.2.3'), 1).decisions), ['192.0.2.3>SCAN']);
  assert.deepEqual(blocks(e.handle(fail('192.0.2.3'), 2).decisions), ['192.0.2.3>SSH']);
  assert.deepEqual(blocks(e.handle(fail('192.0.2.3'), 3).decisions), ['192.0.2.3>SCAN']);
});

test('after a block the window starts again, so a persistent attacker is re-blocked every minocc offences', () => {
  const e = engine();
  const got = [0, 1, 2, 3, 4, 5].map((t) => blocks(e.handle(fail('192.0.2.4', 'invalid user x'), t).decisions).length);
  assert.deepEqual(got, [0, 0, 1, 0, 0, 1]);
});

test('a good line unblocks in every target and forgets the offences', () => {
  const e = engine();
  e.handle(fail('192.0.2.5', 'invalid user x'), 0);
  e.handle(fail('192.0.2.5', 'invalid user x'), 1);
  const out = e.handle('sshd[9]: Accepted password for bob from 192.0.2.5 port 5555 ssh2', 2);
  assert.equal(out.verdict.kind, 'good');
  assert.deepEqual(out.decisions.map((d) => d.kind === 'unblock' && [d.ip.text, [...d.targets]]), [['192.0.2.5', ['SSH', 'SCAN']]]);
  assert.deepEqual(blocks(e.handle(fail('192.0.2.5', 'invalid user x'), 3).decisions), []);
});

test('ignorenets are matched but never counted or blocked, IPv4 and IPv6', () => {
  const e = engine();
  for (let t = 0; t < 5; t++) {
    const out = e.handle(fail('10.1.2.3', 'invalid user x'), t);
    assert.deepEqual(out.decisions, []);
    assert.deepEqual(out.ignored.map((ip) => ip.text), ['10.1.2.3']);
    assert.deepEqual(e.handle(fail('2001:db8:ffff::9', 'invalid user x'), t).decisions, []);
  }
  assert.equal(e.windows.size, 0);
});

test('IPv6 and IPv4-mapped spellings of one address are counted as one', () => {
  const e = engine();
  e.handle(fail('2001:DB8::0:1', 'invalid user x'), 0);
  e.handle(fail('2001:db8:0::1', 'invalid user x'), 1);
  assert.deepEqual(blocks(e.handle(fail('2001:db8::1', 'invalid user x'), 2).decisions), ['2001:db8::1>SSH']);
  e.handle(fail('::ffff:192.0.2.9', 'invalid user x'), 3);
  e.handle(fail('192.0.2.9', 'invalid user x'), 4);
  assert.deepEqual(blocks(e.handle(fail('::ffff:c000:209', 'invalid user x'), 5).decisions), ['192.0.2.9>SSH']);
});

test('a capture that is not a literal address is rejected, never counted', () => {
  const e = engine();
  for (const bad of ['192.030.0.6', 'fe80::1%eth0', 'example.com', '１.２.３.４']) {
    const out = e.handle(fail(bad, 'invalid user x'), 0);
    assert.equal(out.verdict.kind, 'none', bad);
    assert.ok(out.verdict.rejected, bad);
  }
  assert.equal(e.windows.size, 0);
});

test('the number of tracked windows never exceeds max_tracked; the least recent goes first', () => {
  const e = new BanEngine(parseConfig(CONFIG.replace('blocktypes:', 'max_tracked: 3\nblocktypes:'), '/t.yml').config);
  for (let i = 1; i <= 5; i++) e.handle(fail(`192.0.2.${i}`, 'invalid user x'), i);
  assert.equal(e.windows.size, 3);
  assert.equal(e.windows.evicted, 2);
  assert.deepEqual([...e.windows.entries()].map((w) => w.ip), ['192.0.2.3', '192.0.2.4', '192.0.2.5']);
});

test('prune drops windows that have gone quiet for longer than their interval', () => {
  const e = engine();
  e.handle(fail('192.0.2.1'), 0);
  assert.equal(e.windows.size, 2);
  assert.equal(e.prune(11_000), 1); // the scan window (10 s)
  assert.equal(e.prune(61_000), 1); // the ssh window (60 s)
  assert.equal(e.windows.size, 0);
});

const SESSIONS = `
sessionpatterns:
  - '^sshd\\[\\d+\\]: Connection from (?<ip>[0-9a-f.:]+) port \\d+ on \\S+ port \\d+$'
blocktypes:
  ssh:
    minocc: 2
    patterns:
      - '^sshd\\[\\d+\\]: Failed password for \\S+ from (?<ip>[0-9a-f.:]+) port \\d+ ssh2$'
      - '^sshd\\[(?<pid>\\d+)\\]: fatal: Read from socket failed: Connection reset by peer \\[preauth\\]$'
`;

test('a line without the address counts against the address its process named before', () => {
  const e = new BanEngine(parseConfig(SESSIONS, '/t.yml').config);
  const reset = (pid: number) => `sshd[${pid}]: fatal: Read from socket failed: Connection reset by peer [preauth]`;
  assert.equal(e.handle(reset(100), 0).verdict.kind, 'none', 'no address known for sshd[100] yet');
  assert.equal(e.handle('sshd[100]: Connection from 192.0.2.40 port 5000 on 192.0.2.1 port 22', 1).verdict.kind, 'none', 'a session line is no offence');
  const first = e.handle(reset(100), 2);
  assert.equal(first.verdict.kind, 'bad');
  assert.equal(first.verdict.kind === 'bad' && first.verdict.offences[0]!.ip.text, '192.0.2.40');
  assert.equal(e.handle(reset(101), 3).verdict.kind, 'none', 'another process is another client');
  assert.deepEqual(blocks(e.handle(reset(100), 4).decisions), ['192.0.2.40>BLOCKER']);
});

test('an offence with an address also tells its process, and the memory fades after ten minutes', () => {
  const e = new BanEngine(parseConfig(SESSIONS, '/t.yml').config);
  e.handle('sshd[7]: Failed password for root from 192.0.2.41 port 1 ssh2', 0);
  const later = e.handle('sshd[7]: fatal: Read from socket failed: Connection reset by peer [preauth]', 1000);
  assert.equal(later.verdict.kind === 'bad' && later.verdict.offences[0]!.ip.text, '192.0.2.41');
  const stale = e.handle('sshd[7]: fatal: Read from socket failed: Connection reset by peer [preauth]', 1000 + 10 * 60_000 + 1);
  assert.equal(stale.verdict.kind, 'none');
});

test('the process memory holds SESSION_CAP processes, the one noted longest ago going first, and forgets those past the TTL', () => {
  const e = new BanEngine(parseConfig(SESSIONS, '/t.yml').config);
  const note = (pid: number, at: number) => e.handle(`sshd[${pid}]: Connection from 192.0.2.${pid % 250} port 5000 on 192.0.2.1 port 22`, at);
  const reset = (pid: number, at: number) => e.handle(`sshd[${pid}]: fatal: Read from socket failed: Connection reset by peer [preauth]`, at).verdict.kind;
  for (let pid = 1; pid <= SESSION_CAP; pid++) note(pid, pid);
  note(1, SESSION_CAP + 1); // noted again: an update keeps its place in the order
  note(SESSION_CAP + 1, SESSION_CAP + 2); // one more: pid 1 was added first, and goes
  assert.equal(reset(1, SESSION_CAP + 3), 'none');
  assert.equal(reset(2, SESSION_CAP + 3), 'bad');
  assert.equal(reset(SESSION_CAP + 1, SESSION_CAP + 3), 'bad');
  // Past the TTL, the old ones go as new ones come; a process noted since stays.
  const late = SESSION_CAP + 3 + SESSION_TTL_MS;
  note(5, late - 1);
  note(SESSION_CAP + 2, late);
  assert.equal(reset(5, late), 'bad');
  assert.equal(reset(SESSION_CAP + 2, late), 'bad');
  assert.equal(reset(SESSION_CAP + 1, late + 1), 'none');
});

test('the process memory carries over to the engine of a reloaded config', () => {
  const e = new BanEngine(parseConfig(SESSIONS, '/t.yml').config);
  e.handle('sshd[9]: Connection from 192.0.2.42 port 5000 on 192.0.2.1 port 22', 0);
  const reloaded = new BanEngine(parseConfig(SESSIONS, '/t.yml').config, e.windows, e.sessions);
  const v = reloaded.handle('sshd[9]: fatal: Read from socket failed: Connection reset by peer [preauth]', 1).verdict;
  assert.equal(v.kind === 'bad' && v.offences[0]!.ip.text, '192.0.2.42');
});

test('a pattern capturing pid is allowed only in a blocktype, and a pattern with neither group is still refused', () => {
  const problem = (re: RegExp) => (err: unknown) => (err as { problems: { message: string }[] }).problems.some((p) => re.test(p.message));
  assert.throws(() => parseConfig("goodpatterns: ['^sshd\\[(?<pid>\\d+)\\]: x$']\nblocktypes: {a: {patterns: ['(?<ip>x)']}}\n", '/t.yml'), problem(/no named group \(\?<ip>\.\.\.\) to capture the address$/));
  assert.throws(() => parseConfig("blocktypes: {a: {patterns: ['^sshd: x$']}}\n", '/t.yml'), problem(/or \(\?<pid>\.\.\.\)/));
});

const ENDS = `
sessionpatterns:
  - '^sshd\\[\\d+\\]: Connection from (?<ip>[0-9a-f.:]+) port \\d+ on \\S+ port \\d+$'
blocktypes:
  ssh:
    minocc: 100
    patterns:
      - '^sshd\\[\\d+\\]: Failed password for \\S+ from (?<ip>[0-9a-f.:]+) port \\d+ ssh2$'
    endpatterns:
      - '^sshd\\[\\d+\\]: Received disconnect from (?<ip>[0-9a-f.:]+) port \\d+:11: .* \\[preauth\\]$'
      - '^sshd\\[\\d+\\]: Disconnected from (?<ip>[0-9a-f.:]+) port \\d+ \\[preauth\\]$'
      - '^sshd\\[(?<pid>\\d+)\\]: error: kex_exchange_identification: Connection closed by remote host$'
      - '^sshd\\[\\d+\\]: Connection closed by (?<ip>[0-9a-f.:]+) port \\d+$'
  scan:
    minocc: 100
    endpatterns:
      - '^sshd\\[\\d+\\]: Disconnected from (?<ip>[0-9a-f.:]+) port \\d+ \\[preauth\\]$'
`;

/** `line` through `e` at `now`: the blocktypes it counted for, and those it matched without counting */
function counted(e: BanEngine, line: string, now: number): { counted: string[]; repeated: string[] } {
  const out = e.handle(line, now);
  return { counted: out.verdict.kind === 'bad' ? out.verdict.offences.map((o) => `${o.blocktype}>${o.ip.text}`) : [], repeated: out.repeated.map((o) => `${o.blocktype}>${o.ip.text}`) };
}

test("a connection's end counts once per process: the second line sshd writes for it is matched, not counted", () => {
  const e = new BanEngine(parseConfig(ENDS, '/t.yml').config);
  const bye = (pid: number, ip: string) => `sshd[${pid}]: Received disconnect from ${ip} port 5000:11: Bye Bye [preauth]`;
  const gone = (pid: number, ip: string) => `sshd[${pid}]: Disconnected from ${ip} port 5000 [preauth]`;
  assert.deepEqual(counted(e, 'sshd[10]: Failed password for root from 192.0.2.50 port 5000 ssh2', 0), { counted: ['ssh>192.0.2.50'], repeated: [] });
  assert.deepEqual(counted(e, bye(10, '192.0.2.50'), 1), { counted: ['ssh>192.0.2.50'], repeated: [] }, 'a failure before the end does not make it a repeat');
  // the scan blocktype has not counted this end yet; ssh has
  assert.deepEqual(counted(e, gone(10, '192.0.2.50'), 2), { counted: ['scan>192.0.2.50'], repeated: ['ssh>192.0.2.50'] });
  assert.deepEqual(counted(e, gone(10, '192.0.2.50'), 3), { counted: [], repeated: ['ssh>192.0.2.50', 'scan>192.0.2.50'] });
  // another process is another connection of the same client
  assert.deepEqual(counted(e, bye(11, '192.0.2.50'), 5), { counted: ['ssh>192.0.2.50'], repeated: [] });
  assert.deepEqual(counted(e, 'sshd[11]: Failed password for root from 192.0.2.50 port 5000 ssh2', 6), { counted: ['ssh>192.0.2.50'], repeated: [] }, 'patterns count on after an end');
  // a process that names another address serves another connection (its id was reused)
  assert.deepEqual(counted(e, bye(10, '192.0.2.51'), 7), { counted: ['ssh>192.0.2.51'], repeated: [] });
  // ...and one quiet past the TTL, too
  assert.deepEqual(counted(e, bye(11, '192.0.2.50'), 6 + SESSION_TTL_MS + 1), { counted: ['ssh>192.0.2.50'], repeated: [] });
});

test("an end without the address counts once with the process's other ends, by its tag, whichever comes first", () => {
  const e = new BanEngine(parseConfig(ENDS, '/t.yml').config);
  const kex = (pid: number) => `sshd[${pid}]: error: kex_exchange_identification: Connection closed by remote host`;
  const closed = (pid: number, ip: string) => `sshd[${pid}]: Connection closed by ${ip} port 5000`;
  // LogLevel INFO: no address before the kex line, so only the closing line counts
  assert.deepEqual(counted(e, kex(20), 0), { counted: [], repeated: [] });
  assert.deepEqual(counted(e, closed(20, '192.0.2.60'), 1), { counted: ['ssh>192.0.2.60'], repeated: [] });
  // LogLevel VERBOSE: "Connection from" first, so the kex line counts and the closing line does not
  assert.deepEqual(counted(e, 'sshd[21]: Connection from 192.0.2.61 port 5000 on 192.0.2.1 port 22', 2), { counted: [], repeated: [] });
  assert.deepEqual(counted(e, kex(21), 3), { counted: ['ssh>192.0.2.61'], repeated: [] });
  assert.deepEqual(counted(e, closed(21, '192.0.2.61'), 4), { counted: [], repeated: ['ssh>192.0.2.61'] });
  assert.deepEqual(counted(e, kex(21), 5), { counted: [], repeated: ['ssh>192.0.2.61'] });
});

test('an end the engine cannot place (no process tag) counts, and one inside ignorenets is ignored, not claimed', () => {
  const e = new BanEngine(parseConfig(`ignorenets: [192.0.2.70/32]\n${ENDS}`, '/t.yml').config);
  const untagged = 'sshd: Disconnected from 192.0.2.71 port 5000 [preauth]';
  const cfg = parseConfig(`blocktypes:\n  a:\n    endpatterns:\n      - '^sshd(?:\\[\\d+\\])?: Disconnected from (?<ip>[0-9a-f.:]+) port \\d+ \\[preauth\\]$'\n`, '/t.yml').config;
  const bare = new BanEngine(cfg);
  assert.deepEqual(counted(bare, untagged, 0), { counted: ['a>192.0.2.71'], repeated: [] });
  assert.deepEqual(counted(bare, untagged, 1), { counted: ['a>192.0.2.71'], repeated: [] });
  const ignored = e.handle('sshd[30]: Disconnected from 192.0.2.70 port 5000 [preauth]', 0);
  assert.deepEqual(ignored.ignored.map((ip) => ip.text), ['192.0.2.70', '192.0.2.70']);
  assert.deepEqual(ignored.repeated, []);
});

test("a sessionpattern line starts a connection: a process that serves one client after another ends each, the same client's too", () => {
  const e = new BanEngine(
    parseConfig(
      String.raw`
sessionpatterns:
  - '^smtpd\[\d+\]: connect from \S+\[(?<ip>[0-9a-f.:]+)\]$'
blocktypes:
  mail:
    minocc: 100
    endpatterns:
      - '^smtpd\[\d+\]: lost connection after \S+ from \S+\[(?<ip>[0-9a-f.:]+)\]$'
      - '^smtpd\[\d+\]: disconnect from \S+\[(?<ip>[0-9a-f.:]+)\] .*auth=0/\d+.*$'
`,
      '/t.yml',
    ).config,
  );
  const connection = (at: number) => [
    counted(e, 'smtpd[5]: connect from unknown[192.0.2.80]', at),
    counted(e, 'smtpd[5]: lost connection after AUTH from unknown[192.0.2.80]', at),
    counted(e, 'smtpd[5]: disconnect from unknown[192.0.2.80] ehlo=1 auth=0/1 commands=1/2', at),
  ];
  const once = [
    { counted: [], repeated: [] },
    { counted: ['mail>192.0.2.80'], repeated: [] },
    { counted: [], repeated: ['mail>192.0.2.80'] },
  ];
  assert.deepEqual(connection(0), once);
  assert.deepEqual(connection(1), once, 'the next connection of the same process and client');
});

test('ipv6_prefix 64: the addresses of one /64 count as one and are banned and unblocked as the network; a /64 holding an ignored address is ignored whole; IPv4 as before', () => {
  const e = new BanEngine(parseConfig(`${CONFIG}ipv6_prefix: 64\n`.replace('"2001:db8:ffff::/48"', '"2001:db8:ffff::/48", "2001:db8:5:6::77"'), '/test/banban.yml').config);
  const t = 1_000;
  assert.deepEqual(e.handle(fail('2001:db8:1:2::a'), t).decisions, []);
  assert.deepEqual(blocks(e.handle(fail('2001:db8:1:2:ffff::b'), t).decisions), ['2001:db8:1:2::>SCAN']);
  assert.deepEqual(blocks(e.handle(fail('2001:db8:1:2::c'), t).decisions), ['2001:db8:1:2::>SSH'], 'three addresses, one attacker');
  assert.deepEqual(blocks(e.handle(fail('2001:db8:1:3::a'), t).decisions), [], 'the next /64 is counted apart');
  const good = e.handle('sshd[2]: Accepted password for bob from 2001:db8:1:2::99 port 4242 ssh2', t).decisions;
  assert.deepEqual(good.map((d) => `${d.kind} ${d.ip.text}`), ['unblock 2001:db8:1:2::']);
  // 2001:db8:5:6::77 is ignored, so its /64 is: a neighbour of it is never banned, however often
  for (let i = 0; i < 5; i++) {
    const out = e.handle(fail(`2001:db8:5:6::${i + 1}`), t);
    assert.deepEqual(out.decisions, []);
    assert.equal(out.ignored.length, 2);
  }
  assert.deepEqual(blocks([...e.handle(fail('192.0.2.1'), t).decisions, ...e.handle(fail('192.0.2.2'), t).decisions]), []);
  assert.deepEqual(blocks(e.handle(fail('192.0.2.1'), t).decisions), ['192.0.2.1>SCAN']);
});
