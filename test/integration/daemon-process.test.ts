/**
 * The real daemon process over a real UNIX datagram socket, with a plain
 * folder standing in for /proc/net/xt_recent (--proc-dir): the kernel itself
 * is exercised by test/e2e.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseList } from '../../src/enforce/xt-recent.js';
import { runCli, sendDatagrams, startDaemon, type DaemonProcess } from '../helpers/daemon-process.js';

const FAIL = (ip: string) => `<38>Nov 22 06:25:01 web1 sshd[812]: Failed password for invalid user admin from ${ip} port 50022 ssh2`;
const ACCEPT = (ip: string) => `<38>Nov 22 06:25:09 web1 sshd[813]: Accepted password for bob from ${ip} port 50023 ssh2`;

function config(dir: string, socket: string, extra = '') {
  return `socket: ${socket}
goodpatterns:
  - 'sshd\\[\\d+\\]: Accepted \\S+ for \\S+ from (?<ip>\\S+) port \\d+ ssh2$'
ignorenets: [127.0.0.0/8]
proc_dir: ${join(dir, 'proc')}
state_file: ${join(dir, 'state.json')}
blocktypes:
  ssh:
    target: BLOCKER
    minocc: 3
    interval: 60
    patterns:
      - 'sshd\\[\\d+\\]: Failed password for (?:invalid user )?\\S* from (?<ip>\\S+) port \\d+ ssh2$'
${extra}`;
}

const listed = (dir: string) => parseList(readFileSync(join(dir, 'proc', 'BLOCKER'), 'utf8'), undefined).map((e) => e.ip);

describe('the daemon process', { timeout: 60_000 }, () => {
  let dir: string;
  let conf: string;
  let sock: string;
  let d: DaemonProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'banban-it-'));
    mkdirSync(join(dir, 'proc'));
    writeFileSync(join(dir, 'proc', 'BLOCKER'), '');
    sock = join(dir, 'banban.sock');
    conf = join(dir, 'banban.yml');
    writeFileSync(conf, config(dir, sock));
    d = startDaemon(['run', '-c', conf]);
    await d.waitFor((l) => l.msg === 'listening', 'listening');
  });

  after(() => {
    if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('binds its socket with mode 0660', () => {
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
  });

  test('the installed command reads its socket with the batch receiver (dist/bin/native-edge.node)', () => {
    const listening = d.logs.find((l) => l.msg === 'listening');
    assert.equal(listening?.['batchReceive'], true, 'the build should have made dist/bin/native-edge.node: it needs gcc and node_api.h');
    assert.equal(listening?.['listsKeptOpen'], false, 'lists in a plain folder (--proc-dir) are opened for each command');
    assert.ok(!d.logs.some((l) => String(l.msg).startsWith('the native edge is missing')));
  });

  test('blocks an address at minocc failures and not before', async () => {
    await sendDatagrams(sock, [FAIL('192.0.2.7'), FAIL('192.0.2.7')]);
    await sendDatagrams(sock, [FAIL('198.51.100.1')]); // a marker line: once it is counted, the two before it were too
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(listed(dir), []);
    await sendDatagrams(sock, [FAIL('192.0.2.7')]);
    await d.waitFor((l) => l.msg === 'blocked' && l['ip'] === '192.0.2.7', 'the block');
    assert.deepEqual(listed(dir), ['192.0.2.7']);
  });

  test('an accepted login unblocks the address', async () => {
    await sendDatagrams(sock, [ACCEPT('192.0.2.7')]);
    await d.waitFor((l) => l.msg === 'unblocked' && l['ip'] === '192.0.2.7', 'the unblock');
    assert.deepEqual(listed(dir), []);
  });

  test('bad datagrams are skipped and the daemon keeps banning', async () => {
    await sendDatagrams(sock, [Buffer.alloc(0), Buffer.from([0xff, 0xfe, 0x00, 0x41]), 'no header', FAIL('not-an-ip'), FAIL('192.030.0.6')]);
    await sendDatagrams(sock, [FAIL('2001:db8::7'), FAIL('2001:DB8:0::7'), FAIL('::ffff:192.0.2.200')]);
    await sendDatagrams(sock, [FAIL('2001:db8:0:0::7')]);
    await d.waitFor((l) => l.msg === 'blocked' && l['ip'] === '2001:db8::7', 'the IPv6 block');
    assert.ok(d.logs.some((l) => l.msg?.startsWith('pattern matched but captured no usable address')));
  });

  test('SIGHUP with a changed pattern takes effect', async () => {
    writeFileSync(conf, config(dir, sock).replace('minocc: 3', 'minocc: 1'));
    d.proc.kill('SIGHUP');
    await d.waitFor((l) => l.msg === 'reloaded', 'reloaded');
    await sendDatagrams(sock, [FAIL('203.0.113.9')]);
    await d.waitFor((l) => l.msg === 'blocked' && l['ip'] === '203.0.113.9', 'the block after reload');
  });

  test('SIGHUP with a broken config is refused and the old one keeps working', async () => {
    writeFileSync(conf, config(dir, sock).replace('minocc: 3', 'minocc: 0'));
    d.proc.kill('SIGHUP');
    const refused = await d.waitFor((l) => String(l.msg).startsWith('reload refused'), 'the refusal');
    assert.match(JSON.stringify(refused), /minocc/);
    await sendDatagrams(sock, [FAIL('203.0.113.10')]);
    await d.waitFor((l) => l.msg === 'blocked' && l['ip'] === '203.0.113.10', 'a block under the old config (minocc 1)');
  });

  test('SIGHUP with a new socket path re-binds it and removes the old one', async () => {
    const sock2 = join(dir, 'other.sock');
    writeFileSync(conf, config(dir, sock2).replace('minocc: 3', 'minocc: 1'));
    d.proc.kill('SIGHUP');
    await d.waitFor((l) => l.msg === 'reloaded' && l['socket'] === sock2, 'reloaded on the new socket');
    assert.equal(existsSync(sock), false);
    await sendDatagrams(sock2, [FAIL('203.0.113.11')]);
    await d.waitFor((l) => l.msg === 'blocked' && l['ip'] === '203.0.113.11', 'a block through the new socket');
    sock = sock2;
  });

  test('SIGTERM ends it with exit 0 and removes the socket file', async () => {
    d.proc.kill('SIGTERM');
    const { code } = await d.exited;
    assert.equal(code, 0);
    assert.equal(existsSync(sock), false);
  });
});

describe('resetconns: conntrack through the helper shell', { timeout: 60_000 }, () => {
  test('the daemon forks one shell at start, conntrack runs under it, and at SIGTERM the shell ends and leaves no folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'banban-it-'));
    try {
      for (const d of ['proc', 'bin', 'tmp']) mkdirSync(join(dir, d));
      writeFileSync(join(dir, 'proc', 'BLOCKER'), '');
      // a conntrack that records who started it and with what, and lists no flow (the host's table is not touched)
      const calls = join(dir, 'calls');
      writeFileSync(join(dir, 'bin', 'conntrack'), `#!/bin/sh\necho "$PPID $*" >> ${calls}\necho "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown." >&2\n`, { mode: 0o755 });
      const sock = join(dir, 'banban.sock');
      const conf = join(dir, 'banban.yml');
      writeFileSync(conf, config(dir, sock).replace('    minocc: 3\n', '    minocc: 3\n    resetconns: true\n'));
      const d = startDaemon(['run', '-c', conf], { env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env['PATH'] ?? ''}`, TMPDIR: join(dir, 'tmp') } });
      try {
        await d.waitFor((l) => l.msg === 'listening', 'listening');
        const pid = d.proc.pid!;
        const children = () =>
          readdirSync('/proc')
            .filter((n) => /^\d+$/.test(n))
            .filter((n) => {
              try {
                const st = readFileSync(`/proc/${n}/stat`, 'utf8');
                return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid;
              } catch {
                return false;
              }
            });
        const shells = children();
        assert.equal(shells.length, 1, `one child process of the daemon, before any ban: ${shells.join(', ')}`);
        const shell = shells[0]!;
        assert.match(readFileSync(`/proc/${shell}/cmdline`, 'utf8'), /^\/bin\/sh\0-c\0/);
        assert.deepEqual(readdirSync(join(dir, 'tmp')).filter((n) => n.startsWith('banban-spawn-')).length, 1);

        await sendDatagrams(sock, [FAIL('192.0.2.7'), FAIL('192.0.2.7'), FAIL('192.0.2.7')]);
        await d.waitFor((l) => l.msg === 'blocked' && l['ip'] === '192.0.2.7', 'the block');
        for (let i = 0; i < 100 && !existsSync(calls); i++) await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(readFileSync(calls, 'utf8').trim().split('\n'), [`${shell} -L`], 'conntrack listed the flows once, started by the shell');
        assert.deepEqual(children(), [shell], 'and the daemon forked nothing more');

        d.proc.kill('SIGTERM');
        assert.equal((await d.exited).code, 0);
        for (let i = 0; i < 100 && existsSync(`/proc/${shell}`); i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(existsSync(`/proc/${shell}`), false, 'the shell ended with the daemon');
        assert.deepEqual(readdirSync(join(dir, 'tmp')), [], 'and nothing is left in TMPDIR');
      } finally {
        if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('starting up', { timeout: 60_000 }, () => {
  test('a stale socket file is replaced, and another kind of file is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'banban-it-'));
    try {
      mkdirSync(join(dir, 'proc'));
      const sock = join(dir, 'banban.sock');
      const conf = join(dir, 'banban.yml');
      writeFileSync(conf, config(dir, sock));
      const first = startDaemon(['run', '-c', conf]);
      await first.waitFor((l) => l.msg === 'listening', 'listening');
      const second = startDaemon(['run', '-c', conf]);
      assert.equal((await second.exited).code, 71, 'a second daemon on a live socket is refused');
      first.proc.kill('SIGKILL'); // leaves the socket file behind
      await first.exited;
      assert.ok(existsSync(sock));
      const third = startDaemon(['run', '-c', conf]);
      await third.waitFor((l) => l.msg === 'listening', 'listening over the stale socket');
      third.proc.kill('SIGTERM');
      assert.equal((await third.exited).code, 0);

      writeFileSync(sock, 'not a socket');
      const fourth = startDaemon(['run', '-c', conf]);
      assert.equal((await fourth.exited).code, 71);
      assert.match(JSON.stringify(fourth.logs), /exists and is not a socket/);
      assert.equal(readFileSync(sock, 'utf8'), 'not a socket');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('socket_owner and socket_group are given to the socket file', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'banban-it-'));
    try {
      const sock = join(dir, 'banban.sock');
      const conf = join(dir, 'banban.yml');
      writeFileSync(conf, config(dir, sock).replace('goodpatterns:', 'socket_owner: 65534\nsocket_group: 65534\ngoodpatterns:'));
      const d = startDaemon(['run', '-c', conf]);
      await d.waitFor((l) => l.msg === 'listening', 'listening');
      const st = statSync(sock);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [65534, 65534, 0o660]);
      d.proc.kill('SIGTERM');
      assert.equal((await d.exited).code, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('check and run refuse a broken config with exit 78, naming key and line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'banban-it-'));
    try {
      const conf = join(dir, 'banban.yml');
      writeFileSync(conf, config(dir, join(dir, 's.sock')).replace('minocc: 3', 'minocc: 0'));
      const check = await runCli(['check', '-c', conf]);
      assert.equal(check.code, 78);
      assert.match(check.stderr, /banban\.yml:\d+:\d+: .*minocc/);
      const run = await runCli(['run', '-c', conf]);
      assert.equal(run.code, 78);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('list, block and unblock on a folder of lists; an empty one says how lists come to be', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'banban-it-'));
    try {
      const none = await runCli(['list', '--proc-dir', dir]);
      assert.equal(none.code, 0, none.stderr);
      assert.match(none.stdout, /^no lists in .*: a list exists once an iptables rule with -m recent --name NAME is loaded/);
      assert.equal((await runCli(['list', '--proc-dir', dir, '--json'])).stdout, '{}\n');
      writeFileSync(join(dir, 'BLOCKER'), '');
      const blocked = await runCli(['block', '2001:DB8::7', '-t', 'BLOCKER', '--proc-dir', dir]);
      assert.equal(blocked.code, 0, blocked.stderr);
      assert.equal(readFileSync(join(dir, 'BLOCKER'), 'utf8'), '+2001:db8::7\n');
      const one = await runCli(['list', '--proc-dir', dir]);
      assert.match(one.stdout, /^BLOCKER \(/);
      assert.doesNotMatch(one.stdout, /no lists/);
      // unblock says where the address was: the kernel takes `-ADDR` for one it does not hold without a word
      writeFileSync(join(dir, 'OTHER'), '');
      const un = await runCli(['unblock', '2001:db8::7', '--proc-dir', dir]);
      assert.equal(un.code, 0, un.stderr);
      assert.equal(un.stdout, 'unblocked 2001:db8::7 in BLOCKER (it was not in OTHER)\n');
      assert.equal(readFileSync(join(dir, 'BLOCKER'), 'utf8'), '+2001:db8::7\n-2001:db8::7\n');
      assert.equal(readFileSync(join(dir, 'OTHER'), 'utf8'), '-2001:db8::7\n');
      const again = await runCli(['unblock', '2001:db8::7', '--proc-dir', dir]);
      assert.equal(again.stdout, '2001:db8::7 was in no list (BLOCKER, OTHER): nothing to unblock\n');
      // with ipv6_prefix the list holds the network: unblock names it
      writeFileSync(join(dir, 'OTHER'), '+2001:db8:1:2::\n');
      const inNet = await runCli(['unblock', '2001:db8:1:2::99', '--proc-dir', dir]);
      assert.match(inNet.stdout, /nothing to unblock; it is in a banned network \(ipv6_prefix\): 2001:db8:1:2:: in OTHER, which `banban unblock NETWORK` lifts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('usage errors exit 64', async () => {
    assert.equal((await runCli(['frobnicate'])).code, 64);
    assert.equal((await runCli(['block', '192.030.0.6', '-t', 'X'])).code, 64);
    assert.equal((await runCli(['block', '192.0.2.1', '-t', '../etc'])).code, 64);
    // No command at all: the help goes to stderr, and it is a usage error; asked for, it is not.
    const bare = await runCli([]);
    assert.equal(bare.code, 64);
    assert.match(bare.stderr, /^Usage: banban /m);
    assert.equal((await runCli(['--help'])).code, 0);
    assert.equal((await runCli(['help'])).code, 0);
    assert.equal((await runCli(['help', 'test'])).code, 0);
  });
});

describe('banban test', { timeout: 60_000 }, () => {
  test('timestamps out of order, across New Year, or missing: counted as the daemon would count them, and said', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'banban-it-'));
    try {
      const conf = join(dir, 'banban.yml');
      writeFileSync(conf, config(dir, join(dir, 's.sock'))); // ssh: minocc 3 within 60 s
      const fail = (stamp: string, ip: string) => `${stamp} web1 sshd[812]: Failed password for root from ${ip} port 22 ssh2`;
      const replay = async (lines: string[], json = true) => {
        writeFileSync(join(dir, 'auth.log'), `${lines.join('\n')}\n`);
        const r = await runCli(['test', '-c', conf, ...(json ? ['--json'] : []), '--year', '2025', join(dir, 'auth.log')]);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout;
      };
      // 100 s, 0 s, 130 s: as in time order, never three within 60 s
      const outOfOrder = JSON.parse(await replay([fail('Nov 22 06:26:40', '192.0.2.8'), fail('Nov 22 06:25:00', '192.0.2.8'), fail('Nov 22 06:27:10', '192.0.2.8')]));
      assert.deepEqual(outOfOrder.blocked, []);
      assert.equal(outOfOrder.backwards, 1);
      // a late December line between January's: three offences within 20 s still block
      const newYear = JSON.parse(
        await replay([fail('Dec 31 23:59:50', '192.0.2.70'), fail('Jan  1 00:00:05', '192.0.2.70'), 'Dec 31 23:59:58 web2 CRON[77]: (root) CMD (true)', fail('Jan  1 00:00:10', '192.0.2.70')]),
      );
      assert.deepEqual(newYear.blocked, [{ ip: '192.0.2.70', target: 'BLOCKER', blocktype: 'ssh' }]);
      assert.equal(newYear.backwards, 0);
      // lines without a timestamp (journalctl -o cat) count at one moment: said
      const bare = ['sshd[812]: Failed password for root from 192.0.2.60 port 22 ssh2', 'sshd[812]: Failed password for root from 192.0.2.60 port 22 ssh2'];
      assert.equal(JSON.parse(await replay(bare)).undated, 2);
      assert.match(await replay(bare, false), /^2 matched lines carry no timestamp: each counts at the time of the line before it/m);
      // an address blocked and unblocked: the text says which came last, beside it
      const ok = (stamp: string, ip: string) => `${stamp} web1 sshd[813]: Accepted password for bob from ${ip} port 22 ssh2`;
      const both = [0, 1, 2].map((i) => fail(`Nov 22 06:25:0${i}`, '192.0.2.9'));
      const text = await replay([...both, ok('Nov 22 06:25:05', '192.0.2.9')], false);
      assert.match(text, /^ {2}192\.0\.2\.9 +BLOCKER \(ssh, then unblocked by a good line\)$/m, text);
      assert.deepEqual(JSON.parse(await replay([...both, ok('Nov 22 06:25:05', '192.0.2.9')])).finally, { '192.0.2.9': 'unblocked' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('replays a log with its own timestamps and prints the JSON report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'banban-it-'));
    try {
      const conf = join(dir, 'banban.yml');
      writeFileSync(conf, config(dir, join(dir, 's.sock')));
      const log = [
        'Nov 22 06:25:01 web1 sshd[1]: Failed password for root from 192.0.2.7 port 1 ssh2',
        'Nov 22 06:25:02 web1 sshd[1]: Failed password for root from 192.0.2.7 port 1 ssh2',
        'Nov 22 06:27:00 web1 sshd[1]: Failed password for root from 192.0.2.7 port 1 ssh2', // outside the 60 s window
        'Nov 22 06:27:01 web1 sshd[1]: Failed password for root from 192.0.2.7 port 1 ssh2',
        'Nov 22 06:27:02 web1 sshd[1]: Failed password for root from 192.0.2.7 port 1 ssh2',
        'Nov 22 06:28:00 web1 sshd[2]: Accepted publickey for bob from 198.51.100.3 port 2 ssh2',
        'Nov 22 06:28:00 web1 CRON[3]: unrelated',
      ].join('\n');
      writeFileSync(join(dir, 'auth.log'), log);
      const r = await runCli(['test', '-c', conf, '--json', join(dir, 'auth.log')]);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      // the matches are written from their columns, the rest by JSON.stringify: one object, keys in their order, no spaces
      assert.equal(r.stdout, `${JSON.stringify(report)}\n`);
      assert.deepEqual(Object.keys(report), ['lines', 'matches', 'repeated', 'rejected', 'blocked', 'unblocked', 'finally', 'undated', 'backwards']);
      assert.equal(report.lines, 7);
      assert.equal(report.matches.length, 6);
      assert.deepEqual(report.matches[5], { line: 6, kind: 'good', ip: '198.51.100.3' });
      assert.deepEqual(report.matches[0], { line: 1, kind: 'bad', blocktype: 'ssh', ip: '192.0.2.7' });
      assert.deepEqual(report.blocked, [{ ip: '192.0.2.7', target: 'BLOCKER', blocktype: 'ssh' }]);
      assert.deepEqual(report.unblocked, ['198.51.100.3']);
      const viaStdin = await runCli(['test', '-c', conf, '--json', '-'], log);
      assert.deepEqual(JSON.parse(viaStdin.stdout), report);
      assert.equal((await runCli(['test', '-c', conf, join(dir, 'missing.log')])).code, 66);
      // A directory opens, and fails at the first read: still NOINPUT, said plainly.
      const folder = await runCli(['test', '-c', conf, dir]);
      assert.equal(folder.code, 66, folder.stderr);
      assert.match(folder.stderr, /^banban: cannot read log file .*: it is a directory; give a log file/m);
      assert.doesNotMatch(folder.stderr, /internal error/);
      const year = await runCli(['test', '-c', conf, '--year', 'abc', join(dir, 'auth.log')]);
      assert.equal(year.code, 64);
      assert.match(year.stderr, /--year 'abc' is not a year: give one from 1970 to 9999/);
      // A pattern that matched an address banban refuses is in the JSON too, as in the text.
      writeFileSync(join(dir, 'odd.log'), 'Nov 22 06:25:01 web1 sshd[1]: Failed password for root from 192.030.0.6 port 1 ssh2\n');
      const odd = await runCli(['test', '-c', conf, '--json', join(dir, 'odd.log')]);
      assert.equal(odd.code, 0, odd.stderr);
      const oddReport = JSON.parse(odd.stdout);
      assert.equal(oddReport.matches.length, 0);
      assert.equal(oddReport.rejected.length, 1, odd.stdout);
      assert.equal(oddReport.rejected[0].line, 1);
      assert.equal(oddReport.rejected[0].rule, 'blocktypes.ssh.patterns[0]');
      assert.match(oddReport.rejected[0].reason, /192\.030\.0\.6/);
      // Without --json: each pattern's hits with what the pattern looks for, its tag left out.
      const human = await runCli(['test', '-c', conf, join(dir, 'auth.log')]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /^ {8}5 {2}blocktypes\.ssh\.patterns\[0\] {2}Failed password for /m, human.stdout);
      assert.match(human.stdout, /^ {8}1 {2}goodpatterns\[0\] {2}Accepted /m, human.stdout);
      assert.match(human.stdout, /would block \(1\):\n {2}192\.0\.2\.7 +BLOCKER \(ssh\)/, human.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a log longer than one read: the same report from the file, from a FIFO and from stdin', async () => {
    // The file is read into one buffer again and again (cli.ts, logChunks); a line that
    // spans two reads must come out whole. Lines of uneven length put the 256 KiB seams
    // inside lines, addresses included.
    const dir = mkdtempSync(join(tmpdir(), 'banban-it-'));
    try {
      const conf = join(dir, 'banban.yml');
      writeFileSync(conf, config(dir, join(dir, 's.sock')));
      const lines: string[] = [];
      for (let i = 0; i < 24_000; i++) {
        const ip = `198.${18 + (i % 2)}.${(i >> 8) & 255}.${i & 255}`;
        lines.push(
          i % 3 === 0
            ? `Nov 22 06:${String(25 + (i % 30)).padStart(2, '0')}:01 web1 CRON[${i}]: ${'x'.repeat(i % 97)}`
            : `Nov 22 06:25:01 web1 sshd[${i}]: Failed password for invalid user ${'u'.repeat(i % 41)} from ${ip} port ${i} ssh2`,
        );
      }
      const log = `${lines.join('\n')}\n`;
      assert.ok(log.length > 6 * 256 * 1024, 'the log spans several reads');
      const file = join(dir, 'auth.log');
      writeFileSync(file, log);
      const fromFile = await runCli(['test', '-c', conf, '--json', file]);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const report = JSON.parse(fromFile.stdout);
      assert.equal(report.lines, 24_000);
      assert.equal(report.matches.length, 16_000);
      assert.deepEqual(
        report.matches.slice(0, 3).map((m: { ip: string }) => m.ip),
        ['198.19.0.1', '198.18.0.2', '198.18.0.4'],
      );
      assert.equal(report.rejected.length, 0);
      assert.deepEqual(JSON.parse((await runCli(['test', '-c', conf, '--json', '-'], log)).stdout), report);
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', file, fifo], { stdio: 'ignore' });
      const written = new Promise((resolve) => writer.once('exit', resolve));
      const fromFifo = await runCli(['test', '-c', conf, '--json', fifo]);
      assert.equal(await written, 0);
      assert.equal(fromFifo.code, 0, fromFifo.stderr);
      assert.deepEqual(JSON.parse(fromFifo.stdout), report);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("shows the shipped sshd preset's second end line of a connection as matched but not counted, in JSON and next to its pattern", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'banban-it-'));
    try {
      const conf = join(dir, 'banban.yml');
      writeFileSync(conf, `socket: ${join(dir, 's.sock')}\nstate_file: ${join(dir, 'state.json')}\ninclude: [sshd]\nblocktypes: {sshd: {minocc: 2}}\n`);
      const bye = (pid: number) => [
        `Nov 22 06:25:0${pid} web1 sshd[${pid}]: Received disconnect from 198.51.100.9 port 4000:11: Bye Bye [preauth]`,
        `Nov 22 06:25:0${pid} web1 sshd[${pid}]: Disconnected from 198.51.100.9 port 4000 [preauth]`,
      ];
      writeFileSync(join(dir, 'auth.log'), [...bye(1), ...bye(2)].join('\n'));
      const r = await runCli(['test', '-c', conf, '--json', join(dir, 'auth.log')]);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.deepEqual(report.matches.map((m: { line: number }) => m.line), [1, 3]);
      assert.deepEqual(report.repeated, [{ line: 2, blocktype: 'sshd', ip: '198.51.100.9' }, { line: 4, blocktype: 'sshd', ip: '198.51.100.9' }]);
      assert.deepEqual(report.blocked, [{ ip: '198.51.100.9', target: 'BLOCKER', blocktype: 'sshd' }]);
      const human = await runCli(['test', '-c', conf, join(dir, 'auth.log')]);
      assert.match(human.stdout, /^ {8}0 {2}sshd:blocktypes\.sshd\.endpatterns\[\d+\] {2}\(\?:Connection \(\?:closed\|reset\) by\|Disconnected from\) \(\?<ip>.* {2}\(\+2 not counted: a second end line\)$/m, human.stdout);
      assert.match(human.stdout, /^2 matches not counted: /m, human.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('started by systemd with its stdout on the journal ($JOURNAL_STREAM), the daemon prefixes each line with its priority; otherwise not', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'banban-journal-'));
  try {
    mkdirSync(join(dir, 'proc'));
    writeFileSync(join(dir, 'proc', 'BLOCKER'), '');
    const conf = join(dir, 'banban.yml');
    writeFileSync(conf, config(dir, join(dir, 'banban.sock')).replace('ignorenets: [127.0.0.0/8]', 'ignorenets: []'));
    const main = join(import.meta.dirname, '..', '..', 'bin', 'main.js');
    // the shell names its own stdout (the pipe we read) in JOURNAL_STREAM, as systemd does, then becomes the daemon
    const run = (journal: boolean) =>
      new Promise<string>((resolve, reject) => {
        const script = `${journal ? 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/$$/fd/1) ' : ''}exec "$0" "$1" run -c "$2"`;
        const p = spawn('/bin/sh', ['-c', script, process.execPath, main, conf], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('listening')) p.kill('SIGTERM');
        });
        p.on('error', reject);
        p.on('exit', () => resolve(out));
      });
    const journal = (await run(true)).split('\n').filter(Boolean);
    assert.ok(journal.length > 0);
    for (const line of journal) assert.match(line, /^<[2-7]>\{"level":/, line);
    assert.ok(journal.some((l) => l.startsWith('<4>') && l.includes('"ignorenets"')), 'the empty ignorenets warning is a warning to journald');
    assert.ok(journal.some((l) => l.startsWith('<6>') && l.includes('"listening"')));
    for (const line of (await run(false)).split('\n').filter(Boolean)) assert.match(line, /^\{"level":/, 'no prefix on a plain pipe');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
