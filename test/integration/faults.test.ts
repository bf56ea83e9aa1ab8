/**
 * Hostile input and faults, on the real daemon process: bad datagrams, a
 * catastrophic pattern, the socket file deleted, a SIGHUP storm, a list that
 * disappears, and state that survives kill -9. The kernel's own lists are
 * exercised in test/e2e; here a plain folder stands in for them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseList } from '../../src/enforce/xt-recent.js';
import { sendDatagrams, startDaemon, type DaemonProcess } from '../helpers/daemon-process.js';

const FAIL = (ip: string, user = 'admin') => `<38>Nov 22 06:25:01 web1 sshd[812]: Failed password for invalid user ${user} from ${ip} port 50022 ssh2`;

function setup(extraTop = '', extraBt = ''): { dir: string; conf: string; sock: string; list: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'banban-faults-'));
  mkdirSync(join(dir, 'proc'));
  writeFileSync(join(dir, 'proc', 'BLOCKER'), '');
  const sock = join(dir, 'banban.sock');
  const conf = join(dir, 'banban.yml');
  writeFileSync(
    conf,
    `socket: ${sock}
proc_dir: ${join(dir, 'proc')}
state_file: ${join(dir, 'state', 'state.json')}
ignorenets: [127.0.0.0/8]
${extraTop}
blocktypes:
  ssh:
    target: BLOCKER
    minocc: 3
    interval: 600
    patterns:
      - '^sshd\\[\\d+\\]: Failed password for (?:invalid user )?.* from (?<ip>[0-9A-Fa-f:.]+) port \\d+ ssh2$'
${extraBt}`,
  );
  return { dir, conf, sock, list: () => parseList(readFileSync(join(dir, 'proc', 'BLOCKER'), 'utf8'), undefined).map((e) => e.ip) };
}

const blocked = (d: DaemonProcess, ip: string) => d.waitFor((l) => l.msg === 'blocked' && l['ip'] === ip, `the block of ${ip}`);

describe('hostile datagrams', { timeout: 60_000 }, () => {
  let s: ReturnType<typeof setup>;
  let d: DaemonProcess;
  before(async () => {
    s = setup('max_line: 1024');
    d = startDaemon(['run', '-c', s.conf]);
    await d.waitFor((l) => l.msg === 'listening', 'listening');
  });
  after(() => {
    d.proc.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('empty, NUL-bearing, over-long and truncated datagrams are skipped with a message, never matched', async () => {
    const long = Buffer.from(FAIL('192.0.2.50') + ' '.repeat(2000));
    const nul = Buffer.from(FAIL('192.0.2.51').replace('admin', 'ad\u0000min'));
    const huge = Buffer.alloc(65536, 0x41);
    await sendDatagrams(s.sock, [Buffer.alloc(0), nul, nul, nul, long, long, long, huge]);
    await d.waitFor((l) => l['reason'] === 'too long', 'the over-long skip');
    await d.waitFor((l) => l['reason'] === 'NUL byte', 'the NUL skip');
    await d.waitFor((l) => l['reason'] === 'empty', 'the empty skip');
    await d.waitFor((l) => l['reason'] === 'truncated', 'the truncated skip');
    assert.ok(!d.logs.some((l) => l.msg === 'blocked'));
  });

  test('invalid UTF-8, fullwidth digits and a missing header never make a wrong ban', async () => {
    const bad = Buffer.concat([Buffer.from('<38>Nov 22 06:25:01 web1 sshd[1]: Failed password for x from 192.0.2.'), Buffer.from([0xc3, 0x28]), Buffer.from(' port 1 ssh2')]);
    await sendDatagrams(s.sock, [bad, bad, bad, FAIL('１.２.３.４'), FAIL('１.２.３.４'), FAIL('１.２.３.４')]);
    await sendDatagrams(s.sock, ['sshd[1]: Failed password for x from 192.0.2.60 port 1 ssh2', 'sshd[1]: Failed password for x from 192.0.2.60 port 1 ssh2', 'sshd[1]: Failed password for x from 192.0.2.60 port 1 ssh2']);
    await blocked(d, '192.0.2.60'); // a line with no syslog header is still one message
    assert.deepEqual(s.list(), ['192.0.2.60']);
  });

  test('a forged second line inside one datagram is cut off, not matched', async () => {
    const forged = (n: number) => `<38>Nov 22 06:25:01 web1 app[9]: user said: hi\nNov 22 06:25:01 web1 sshd[1]: Failed password for root from 198.51.100.${n} port 1 ssh2`;
    await sendDatagrams(s.sock, [forged(7), forged(7), forged(7), forged(7)]);
    await d.waitFor((l) => String(l.msg).startsWith('datagram held a line break'), 'the cut message');
    await sendDatagrams(s.sock, [FAIL('192.0.2.61'), FAIL('192.0.2.61'), FAIL('192.0.2.61')]);
    await blocked(d, '192.0.2.61');
    assert.ok(!s.list().includes('198.51.100.7'));
  });
});

describe('regex denial of service', { timeout: 60_000 }, () => {
  test('a catastrophic pattern fed crafted lines does not stall the daemon: others are still banned', async () => {
    const s = setup(
      '',
      `  domino:
    target: BLOCKER
    minocc: 1
    patterns:
      - 'smtp: (?:[^\\[]+ )*\\[?(?<ip>[0-9.]+)\\]? authentication failure$'
`,
    );
    const d = startDaemon(['run', '-c', s.conf]);
    try {
      await d.waitFor((l) => l.msg === 'listening', 'listening');
      // Without V8's linear-time fallback each of these lines costs about 2^65 steps.
      const evil = `<22>Nov 22 06:25:01 mx domino[1]: smtp: ${'A '.repeat(65)}192.0.2.5`;
      await sendDatagrams(s.sock, Array.from({ length: 50 }, () => evil));
      await sendDatagrams(s.sock, [FAIL('192.0.2.70'), FAIL('192.0.2.70'), FAIL('192.0.2.70')]);
      await blocked(d, '192.0.2.70');
      assert.ok(!s.list().includes('192.0.2.5'));
    } finally {
      d.proc.kill('SIGKILL');
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
});

describe('faults', { timeout: 60_000 }, () => {
  test('a socket file deleted under the running daemon is bound again', async () => {
    const s = setup();
    const d = startDaemon(['run', '-c', s.conf]);
    try {
      await d.waitFor((l) => l.msg === 'listening', 'listening');
      unlinkSync(s.sock);
      await d.waitFor((l) => String(l.msg).startsWith('the socket file was deleted'), 'the re-bind');
      await sendDatagrams(s.sock, [FAIL('192.0.2.80'), FAIL('192.0.2.80'), FAIL('192.0.2.80')]);
      await blocked(d, '192.0.2.80');
    } finally {
      d.proc.kill('SIGKILL');
      rmSync(s.dir, { recursive: true, force: true });
    }
  });

  test('a storm of SIGHUPs while lines arrive loses nothing and crashes nothing', async () => {
    const s = setup();
    const d = startDaemon(['run', '-c', s.conf]);
    try {
      await d.waitFor((l) => l.msg === 'listening', 'listening');
      for (let i = 0; i < 40; i++) {
        d.proc.kill('SIGHUP');
        await sendDatagrams(s.sock, [FAIL(`192.0.2.${100 + (i % 10)}`)]);
      }
      for (let i = 0; i < 10; i++) await blocked(d, `192.0.2.${100 + i}`);
      assert.equal(d.proc.exitCode, null);
      assert.equal(s.list().length, 10);
    } finally {
      d.proc.kill('SIGKILL');
      rmSync(s.dir, { recursive: true, force: true });
    }
  });

  test('a ban due while the list is missing is written as soon as the list exists', async () => {
    const s = setup();
    unlinkSync(join(s.dir, 'proc', 'BLOCKER'));
    const d = startDaemon(['run', '-c', s.conf]);
    try {
      await d.waitFor((l) => l.msg === 'listening', 'listening');
      assert.ok(d.logs.some((l) => String(l.msg).includes('no iptables rule uses --name BLOCKER')));
      await sendDatagrams(s.sock, [FAIL('192.0.2.90'), FAIL('192.0.2.90'), FAIL('192.0.2.90')]);
      await blocked(d, '192.0.2.90');
      writeFileSync(join(s.dir, 'proc', 'BLOCKER'), '');
      await d.waitFor((l) => l['target'] === 'BLOCKER' && l['primed'] === 1, 'the priming');
      assert.deepEqual(s.list(), ['192.0.2.90']);
    } finally {
      d.proc.kill('SIGKILL');
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
});

describe('state across restarts', { timeout: 60_000 }, () => {
  test('kill -9 loses no count older than the last save, and a list made anew is primed with the bans', async () => {
    const s = setup();
    const stateFile = join(s.dir, 'state', 'state.json');
    const first = startDaemon(['run', '-c', s.conf, '--save-every', '0.2']);
    await first.waitFor((l) => l.msg === 'listening', 'listening');
    await sendDatagrams(s.sock, [FAIL('192.0.2.20'), FAIL('192.0.2.20'), FAIL('192.0.2.20'), FAIL('2001:db8::21'), FAIL('2001:db8::21')]);
    await blocked(first, '192.0.2.20');
    const deadline = Date.now() + 5000;
    while (!(existsSync(stateFile) && readFileSync(stateFile, 'utf8').includes('2001:db8::21'))) {
      assert.ok(Date.now() < deadline, 'the state was saved');
      await new Promise((r) => setTimeout(r, 50));
    }
    first.proc.kill('SIGKILL');
    await first.exited;
    // A reboot: the kernel list comes back empty, as a new file.
    unlinkSync(join(s.dir, 'proc', 'BLOCKER'));
    writeFileSync(join(s.dir, 'proc', 'BLOCKER'), '');

    const second = startDaemon(['run', '-c', s.conf]);
    try {
      const restored = await second.waitFor((l) => l.msg === 'state restored', 'the restore');
      assert.equal(restored['windows'], 1);
      assert.equal(restored['bans'], 1);
      await second.waitFor((l) => l['primed'] === 1, 'the priming');
      assert.deepEqual(s.list(), ['192.0.2.20']);
      await sendDatagrams(s.sock, [FAIL('2001:db8::21')]); // the third offence, two of them before the crash
      await blocked(second, '2001:db8::21');
      second.proc.kill('SIGTERM');
      assert.equal((await second.exited).code, 0);
      const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
      assert.deepEqual(saved.bans.map((b: unknown[]) => b[0]).sort(), ['192.0.2.20', '2001:db8::21']);
    } finally {
      second.proc.kill('SIGKILL');
      rmSync(s.dir, { recursive: true, force: true });
    }
  });

  test('a corrupt state file is set aside with a warning and the daemon starts', async () => {
    const s = setup();
    mkdirSync(join(s.dir, 'state'));
    writeFileSync(join(s.dir, 'state', 'state.json'), '{"version":1,"savedAt":');
    const d = startDaemon(['run', '-c', s.conf]);
    try {
      const w = await d.waitFor((l) => String(l.msg).startsWith('the state file is unusable'), 'the warning');
      assert.match(String(w['reason']), /not JSON/);
      await d.waitFor((l) => l.msg === 'listening', 'listening');
      assert.equal(readdirSync(join(s.dir, 'state')).filter((f) => f.startsWith('state.json.corrupt-')).length, 1);
    } finally {
      d.proc.kill('SIGKILL');
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
});
