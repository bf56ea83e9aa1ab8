import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { replayLog } from '../../src/replay.js';
import { LineSplitter } from '../../src/source/log-file.js';

const config = parseConfig(
  String.raw`
socket: /tmp/banban-replay-test.sock
blocktypes:
  ssh:
    target: BLOCKER
    minocc: 2
    interval: 3600
    patterns:
      - '^sshd\[\d+\]: Failed password for \S+ from (?<ip>[0-9a-f.:]+) port \d+ ssh2$'
`,
  '/tmp/replay-test.yml',
).config;

/** A config with sshd's Accepted as the good pattern and an ssh blocktype of Failed password at `minocc`, then `more` (YAML lines, after its patterns). */
const withSsh = (minocc: number, more: string, file: string) =>
  parseConfig(
    String.raw`
goodpatterns:
  - '^sshd\[\d+\]: Accepted password for \S+ from (?<ip>[0-9a-f.:]+) port \d+ ssh2$'
blocktypes:
  ssh:
    minocc: ${minocc}
    patterns:
      - '^sshd\[\d+\]: Failed password for \S+ from (?<ip>[0-9a-f.:]+) port \d+ ssh2$'
` + more,
    file,
  ).config;

const failed = (stamp: string, ip: string) => `${stamp} web1 sshd[7]: Failed password for root from ${ip} port 22 ssh2`;
const cron = (stamp: string) => `${stamp} web1 CRON[9]: (root) CMD (true)`;

test('banban test sees the months go by on lines that match nothing: July then January of the next year are 6 months apart, not minus 6', async () => {
  const lines = [failed('Jul  1 10:00:00', '192.0.2.7'), ...['Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((m) => cron(`${m}  1 10:00:00`)), failed('Jan  1 10:00:00', '192.0.2.7')];
  const r = await replayLog(config, [Buffer.from(lines.join('\n'))], 2025);
  assert.equal(r.matches.length, 2);
  assert.deepEqual(r.blocked, [], 'two failures half a year apart are not two within an hour');
  const close = await replayLog(config, [Buffer.from([failed('Jul  1 10:00:00', '192.0.2.7'), failed('Jul  1 10:30:00', '192.0.2.7')].join('\n'))], 2025);
  assert.deepEqual(close.blocked, [{ ip: '192.0.2.7', target: 'BLOCKER', blocktype: 'ssh' }], 'the control: half an hour apart they are');
});

test('banban test says where the log leaves an address it both blocked and unblocked', async () => {
  const c = withSsh(1, '', '/tmp/replay-finally.yml');
  const accepted = (stamp: string, ip: string) => `${stamp} web1 sshd[7]: Accepted password for bob from ${ip} port 22 ssh2`;
  const lines = [
    failed('Jul  1 10:00:00', '192.0.2.1'),
    accepted('Jul  1 10:00:01', '192.0.2.1'),
    failed('Jul  1 10:00:02', '192.0.2.2'),
    accepted('Jul  1 10:00:03', '192.0.2.2'),
    failed('Jul  1 10:00:04', '192.0.2.2'),
    failed('Jul  1 10:00:05', '192.0.2.3'),
    accepted('Jul  1 10:00:06', '192.0.2.4'),
  ];
  const r = await replayLog(c, [Buffer.from(lines.join('\n'))], 2025);
  assert.deepEqual(r.blocked.map((b) => b.ip), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
  assert.deepEqual(r.unblocked, ['192.0.2.1', '192.0.2.2', '192.0.2.4']);
  // only the addresses in both lists, with their last decision
  assert.deepEqual(r.finally, { '192.0.2.1': 'unblocked', '192.0.2.2': 'blocked' });
});

test('banban test counts the hits of each pattern, good ones and those that never matched included', async () => {
  const c = withSsh(
    9,
    String.raw`      - '^sshd\[\d+\]: Invalid user \S+ from (?<ip>[0-9a-f.:]+)$'
  scan:
    minocc: 9
    patterns:
      - '^sshd\[\d+\]: Failed password for root from (?<ip>[0-9a-f.:]+) port \d+ ssh2$'
`,
    '/tmp/replay-hits.yml',
  );
  const lines = [failed('Jul  1 10:00:00', '192.0.2.1'), failed('Jul  1 10:00:01', '192.0.2.2'), 'Jul  1 10:00:02 web1 sshd[7]: Accepted password for bob from 192.0.2.3 port 22 ssh2', cron('Jul  1 10:00:03')];
  const r = await replayLog(c, [Buffer.from(lines.join('\n'))], 2025);
  assert.deepEqual(r.hits, { 'goodpatterns[0]': 1, 'blocktypes.ssh.patterns[0]': 2, 'blocktypes.ssh.patterns[1]': 0, 'blocktypes.scan.patterns[0]': 2 });
});

test("banban test lists a connection's second end line as not counted, by line number, and counts its hits apart", async () => {
  const c = parseConfig(
    String.raw`
blocktypes:
  ssh:
    minocc: 2
    endpatterns:
      - '^sshd\[\d+\]: Received disconnect from (?<ip>[0-9a-f.:]+) port \d+:11: .* \[preauth\]$'
      - '^sshd\[\d+\]: Disconnected from (?<ip>[0-9a-f.:]+) port \d+ \[preauth\]$'
`,
    '/tmp/replay-ends.yml',
  ).config;
  const conn = (pid: number, s: number) => [
    `Jul  1 10:00:0${s} web1 sshd[${pid}]: Received disconnect from 192.0.2.9 port 4000:11: Bye Bye [preauth]`,
    `Jul  1 10:00:0${s} web1 sshd[${pid}]: Disconnected from 192.0.2.9 port 4000 [preauth]`,
  ];
  const r = await replayLog(c, [Buffer.from([...conn(40, 1), ...conn(41, 2)].join('\n'))], 2025);
  assert.deepEqual([...r.matches].map((m) => m.line), [1, 3]);
  assert.deepEqual([...r.repeated], [{ line: 2, blocktype: 'ssh', ip: '192.0.2.9' }, { line: 4, blocktype: 'ssh', ip: '192.0.2.9' }]);
  assert.deepEqual(r.hits, { 'blocktypes.ssh.endpatterns[0]': 2, 'blocktypes.ssh.endpatterns[1]': 0 });
  assert.deepEqual(r.uncounted, { 'blocktypes.ssh.endpatterns[0]': 0, 'blocktypes.ssh.endpatterns[1]': 2 });
  assert.deepEqual(r.blocked, [{ ip: '192.0.2.9', target: 'BLOCKER', blocktype: 'ssh' }], 'two connections, two offences: minocc 2');
});

test('banban test reports lines the daemon would skip, by line number, and reads string chunks too', async () => {
  const long = `Jul  1 10:00:00 web1 sshd[7]: ${'x'.repeat(9000)}`;
  const text = [failed('Jul  1 10:00:00', '192.0.2.1'), '', long, 'Jul  1 10:00:01 web1 sshd[7]: a\0b', failed('Jul  1 10:00:02', '192.0.2.1')].join('\n');
  const r = await replayLog(config, [text.slice(0, 50), text.slice(50)], 2025);
  assert.equal(r.lines, 5);
  assert.deepEqual(r.skipped, [
    { line: 3, reason: 'too long' },
    { line: 4, reason: 'NUL byte' },
  ]);
  assert.deepEqual(r.blocked, [{ ip: '192.0.2.1', target: 'BLOCKER', blocktype: 'ssh' }]);
});

test('lines come out of a stream cut anywhere as they come out of the whole text, long ones cut to the longest kept', () => {
  let seed = 3;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return Math.floor((seed / 0x80000000) * n);
  };
  const longest = 20;
  for (let round = 0; round < 2000; round++) {
    const text = Array.from({ length: rnd(60) }, () => 'ab\r\nxyz'[rnd(8)]!).join('');
    const want = text.split('\n').map((l) => l.slice(0, longest));
    if (text.endsWith('\n') || text === '') want.pop(); // no line after the last LF
    const got: string[] = [];
    const split = new LineSplitter(longest, (b, s, e) => got.push(b.toString('latin1', s, e)));
    const bytes = Buffer.from(text, 'latin1');
    for (let at = 0; at < bytes.length; ) {
      const next = Math.min(bytes.length, at + 1 + rnd(12));
      split.push(bytes.subarray(at, next));
      at = next;
    }
    split.end();
    assert.deepEqual(got, want, JSON.stringify(text));
  }
});
