/**
 * The daemon's own process around a reload and a stop: the signals an admin
 * (or a config-management tool) sends at awkward moments.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { sendDatagrams, startDaemon, type DaemonProcess } from '../helpers/daemon-process.js';

const unix = createRequire(import.meta.url)('unix-dgram') as {
  createSocket(type: 'unix_dgram', listener: (buf: Buffer) => void): { bind(path: string): void; close(): void };
};

const failed = (ip: string) => `<38>Nov 22 06:25:01 web1 sshd[812]: Failed password for invalid user admin from ${ip} port 50022 ssh2`;

/** A line the blocktypes `slowN` of `setup` take long to match (about 0.2 s here): 60 of them keep a thread busy for seconds. */
const BUSY = `<38>Nov 22 06:25:01 web1 sshd[812]: ${'a'.repeat(7850)} X1 from  X2 from  X3 from `;

/** A config whose blocktypes `slowN` make a long line costly to match, to keep the matching thread busy. */
function setup(extra = '') {
  const dir = mkdtempSync(join(tmpdir(), 'banban-lifecycle-'));
  mkdirSync(join(dir, 'proc'));
  writeFileSync(join(dir, 'proc', 'BLOCKER'), '');
  const sock = join(dir, 'banban.sock');
  const conf = join(dir, 'banban.yml');
  const state = join(dir, 'state.json');
  const slow = [1, 2, 3].map((n) => `  slow${n}:\n    target: SLOW\n    minocc: 3\n    interval: 600\n    patterns:\n      - '\\S*\\S*\\S*\\S*X${n} from (?<ip>\\S+)'\n`).join('');
  writeFileSync(
    conf,
    `socket: ${sock}\nproc_dir: ${join(dir, 'proc')}\nstate_file: ${state}\n${extra}blocktypes:\n  ssh:\n    target: BLOCKER\n    minocc: 3\n    interval: 600\n    patterns:\n      - '^sshd\\[\\d+\\]: Failed password for (?:invalid user )?\\S* from (?<ip>[0-9A-Fa-f:.]+) port \\d+ ssh2$'\n${slow}`,
  );
  return { dir, conf, sock, state };
}

// Tests of lines left on the matching thread run the daemon in a network namespace of its own whose
// socket queue holds 512 datagrams (the host's may hold 10, as a new namespace's does): a wake-up
// can then read more than the 16 datagrams a main thread matches itself while the thread is idle.
const notRoot = process.getuid?.() !== 0 ? 'needs root: a network namespace of its own, whose socket queue holds more than 16 datagrams' : false;
let queueNamespaces = 0;

/** The daemon run with `args` in a namespace of its own (see above); `drop` kills it and removes the namespace. */
function startWithLongQueue(args: string[]): { d: DaemonProcess; drop: () => Promise<void> } {
  const ns = `bblife-${process.pid}-${++queueNamespaces}`;
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', 'echo 512 > /proc/sys/net/unix/max_dgram_qlen']);
  const d = startDaemon(args, { prefix: ['ip', 'netns', 'exec', ns] });
  return {
    d,
    drop: async () => {
      d.proc.kill('SIGKILL');
      await d.exited.catch(() => undefined);
      execFileSync('ip', ['netns', 'del', ns]);
    },
  };
}

/**
 * Lines that take a while to match, then `after`. The first busy lines are
 * matched on the main thread, which makes it busy; the quick ones after them
 * make a wake-up of more than 16 datagrams, which goes to the matching
 * thread, and what follows joins it there while it works.
 */
function queuedOnTheThread(after: string[]): string[] {
  const busy = Array.from({ length: 30 }, () => BUSY);
  const quick = Array.from({ length: 40 }, (_, i) => `<78>Nov 22 06:25:01 web1 CRON[${i}]: (root) CMD (true)`);
  return [...busy, ...quick, ...busy, ...after];
}

/** Checks by the daemon's closing stats that lines did go through its matching thread. */
function assertHandedOver(d: DaemonProcess): void {
  const stopped = d.logs.find((l) => l.msg === 'stopped');
  assert.ok(((stopped?.['handedOver'] as number | undefined) ?? 0) > 0, `lines went through the matching thread (the stopped line: ${JSON.stringify(stopped)})`);
}

test('lines a reload left to the old matching thread are decided and saved when a stop follows at once', { timeout: 60_000, skip: notRoot }, async () => {
  const s = setup();
  const { d, drop } = startWithLongQueue(['run', '-c', s.conf]);
  try {
    await d.waitFor((l) => l.msg === 'listening', 'listening');
    await sendDatagrams(s.sock, queuedOnTheThread([failed('192.0.2.50'), failed('192.0.2.50'), failed('192.0.2.50')]));
    await new Promise((r) => setTimeout(r, 100)); // read, and handed to the thread
    d.proc.kill('SIGHUP'); // the same config: `systemctl reload`
    await d.waitFor((l) => l.msg === 'reloaded', 'reloaded');
    d.proc.kill('SIGTERM');
    const exit = await d.exited;
    assert.equal(exit.code, 0);
    const saved = existsSync(s.state) ? (JSON.parse(readFileSync(s.state, 'utf8')) as { bans: unknown[][] }) : { bans: [] };
    assert.deepEqual(saved.bans.map((b) => b[0]), ['192.0.2.50'], 'the ban decided from lines received before the stop is saved');
    const blocked = d.logs.findIndex((l) => l.msg === 'blocked' && l['ip'] === '192.0.2.50');
    assert.ok(blocked >= 0 && blocked < d.logs.findIndex((l) => l.msg === 'stopped'), 'decided before the daemon said it stopped');
    assertHandedOver(d);
  } finally {
    await drop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a SIGHUP while the daemon is still starting (loading a large state) neither kills it nor is lost', { timeout: 60_000 }, async () => {
  const s = setup('max_tracked: 1000000\n');
  const now = Date.now();
  const windows: string[] = [];
  for (let i = 0; i < 800_000; i++) windows.push(JSON.stringify(['ssh', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, [now - 1000]]));
  writeFileSync(s.state, `{"version":1,"savedAt":${now},"windows":[${windows.join(',')}],"bans":[]}`);
  const d = startDaemon(['run', '-c', s.conf]);
  try {
    await d.waitFor((l) => l.msg === 'starting', 'starting', 30_000); // logged once the handlers are in place, before the state is read
    d.proc.kill('SIGHUP');
    const early = await Promise.race([d.exited, d.waitFor((l) => l.msg === 'reloaded', 'reloaded', 30_000).then(() => undefined)]);
    assert.equal(early, undefined, `the daemon died: ${JSON.stringify(early)} ${d.stderr()}`);
    assert.ok(d.logs.some((l) => l.msg === 'listening'));
  } finally {
    d.proc.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a window saved under a larger minocc is restored with its newest minocc - 1 offences, so the next one bans', { timeout: 30_000 }, async () => {
  const s = setup(); // ssh: minocc 3 now; the state was saved when it was 5
  const now = Date.now();
  writeFileSync(s.state, JSON.stringify({ version: 1, savedAt: now, windows: [['ssh', '192.0.2.9', [now - 4000, now - 3000, now - 2000, now - 1000]]], bans: [] }));
  const d = startDaemon(['run', '-c', s.conf]);
  try {
    const restored = await d.waitFor((l) => l.msg === 'state restored', 'state restored');
    assert.equal(restored['windows'], 1);
    assert.equal(restored['skipped'], 0);
    await sendDatagrams(s.sock, [failed('192.0.2.9')]);
    const blocked = await d.waitFor((l) => l.msg === 'blocked', 'the ban');
    assert.equal(blocked['ip'], '192.0.2.9');
    assert.equal(blocked['offences'], 3, 'two kept and this one');
  } finally {
    d.proc.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('saved bans are primed again only as today\'s config allows: not for an address now in ignorenets, nor of a blocktype gone, nor past today\'s bantime; a reload forgets the same', { timeout: 60_000 }, async () => {
  const s = setup('ignorenets: [192.0.2.0/24]\n');
  const now = Date.now();
  const far = now + 10 * 365 * 86_400_000;
  writeFileSync(
    s.state,
    JSON.stringify({
      version: 1,
      savedAt: now,
      windows: [],
      bans: [
        ['192.0.2.7', 'BLOCKER', 'ssh', now - 1000, far], // the admin's own network, ignored since
        ['198.51.100.7', 'BLOCKER', 'nosuch', now - 1000, far], // a blocktype the config no longer has
        ['198.51.100.8', 'BLOCKER', 'ssh', now - 1000, far], // kept, but only for ssh's bantime (3600 s)
        ['198.51.100.9', 'BLOCKER', 'ssh', now - 1000, now + 60_000],
      ],
    }),
  );
  const list = join(s.dir, 'proc', 'BLOCKER');
  const savedBans = () => (JSON.parse(readFileSync(s.state, 'utf8')) as { bans: [string, string, string, number, number][] }).bans;
  let d = startDaemon(['run', '-c', s.conf]);
  try {
    const restored = await d.waitFor((l) => l.msg === 'state restored', 'state restored');
    assert.equal(restored['bans'], 2);
    assert.deepEqual(restored['bansDropped'], { ignorenets: 1, blocktype: 1 });
    await waitUntil(() => readFileSync(list, 'utf8').split('\n').filter(Boolean).length === 2, 'the kept bans primed');
    assert.deepEqual(readFileSync(list, 'utf8').split('\n').filter(Boolean).sort(), ['+198.51.100.8', '+198.51.100.9']);
    d.proc.kill('SIGTERM');
    assert.equal((await d.exited).code, 0);
    const bans = savedBans();
    assert.deepEqual(bans.map((b) => b[0]).sort(), ['198.51.100.8', '198.51.100.9']);
    assert.equal(bans.find((b) => b[0] === '198.51.100.8')![4], now - 1000 + 3_600_000, 'its end brought forward to at + bantime');
    // A reload that ignores one of them forgets it: not primed again, not saved.
    d = startDaemon(['run', '-c', s.conf]);
    await d.waitFor((l) => l.msg === 'listening', 'listening');
    writeFileSync(s.conf, readFileSync(s.conf, 'utf8').replace('ignorenets: [192.0.2.0/24]', 'ignorenets: [192.0.2.0/24, 198.51.100.9]'));
    d.proc.kill('SIGHUP');
    const forgotten = await d.waitFor((l) => String(l.msg).startsWith('bans forgotten'), 'bans forgotten');
    assert.equal(forgotten['bans'], 1);
    d.proc.kill('SIGTERM');
    assert.equal((await d.exited).code, 0);
    assert.deepEqual(savedBans().map((b) => b[0]), ['198.51.100.8']);
  } finally {
    d.proc.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('max_tracked is per blocktype: a restart restores the windows of every blocktype, not max_tracked in all', { timeout: 30_000 }, async () => {
  const s = setup('max_tracked: 2\n');
  const now = Date.now();
  const windows = [
    ['ssh', '192.0.2.1', [now - 2000]],
    ['ssh', '192.0.2.2', [now - 2000]],
    ['slow1', '192.0.2.3', [now - 2000]],
    ['slow1', '192.0.2.4', [now - 2000]],
  ];
  writeFileSync(s.state, JSON.stringify({ version: 1, savedAt: now, windows, bans: [] }));
  const d = startDaemon(['run', '-c', s.conf]);
  try {
    const restored = await d.waitFor((l) => l.msg === 'state restored', 'state restored');
    assert.equal(restored['windows'], 4);
    assert.equal(restored['skipped'], 0);
  } finally {
    d.proc.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('under systemd (Type=notify) the daemon says READY=1 once its socket serves, and STOPPING=1 when asked to stop', { timeout: 60_000 }, async () => {
  const s = setup();
  const notify = join(s.dir, 'notify');
  const heard: { text: string; serving: boolean }[] = [];
  const manager = unix.createSocket('unix_dgram', (buf: Buffer) => heard.push({ text: buf.toString(), serving: existsSync(s.sock) }));
  manager.bind(notify);
  try {
    await withDaemon(s, { NOTIFY_SOCKET: notify }, async (d) => {
      await waitUntil(() => heard.length >= 1, 'READY=1');
      assert.match(heard[0]!.text, /^READY=1\nSTATUS=serving .*banban\.yml\n$/);
      assert.ok(heard[0]!.serving, 'the socket exists when systemd hears READY=1');
      await bannedAfterThree(s, '192.0.2.61', d);
    });
    assert.deepEqual(heard.map((h) => h.text.split('\n')[0]), ['READY=1', 'STOPPING=1']);
  } finally {
    manager.close();
  }
});

test('a NOTIFY_SOCKET nobody listens on is a warning, and the daemon serves on', { timeout: 60_000 }, async () => {
  const s = setup();
  await withDaemon(s, { NOTIFY_SOCKET: join(s.dir, 'nobody') }, async (d) => {
    const warn = await d.waitFor((l) => typeof l.msg === 'string' && l.msg.includes('NOTIFY_SOCKET'), 'the warning');
    assert.match(String(warn.msg), /cannot send to NOTIFY_SOCKET .*nobody: ENOENT: systemd was not told/);
    await bannedAfterThree(s, '192.0.2.62', d);
  });
});

test('a reload that drops a list lets go of the descriptor kept on it', { timeout: 60_000 }, async () => {
  const s = setup();
  writeFileSync(join(s.dir, 'proc', 'SLOW'), '');
  await withDaemon(s, {}, async (d) => {
    const lists = () => {
      const out: string[] = [];
      for (const fd of readdirSync(`/proc/${d.proc.pid}/fd`)) {
        try {
          const target = readlinkSync(`/proc/${d.proc.pid}/fd/${fd}`);
          if (target.startsWith(join(s.dir, 'proc'))) out.push(target.slice(target.lastIndexOf('/') + 1));
        } catch {
          // closed meanwhile
        }
      }
      return out.sort();
    };
    await d.waitFor((l) => l.msg === 'listening', 'listening');
    await waitUntil(() => lists().length === 2, 'both lists open');
    assert.deepEqual(lists(), ['BLOCKER', 'SLOW']);
    writeFileSync(s.conf, readFileSync(s.conf, 'utf8').replace(/  slow1:[\s\S]*$/, ''));
    d.proc.kill('SIGHUP');
    await d.waitFor((l) => l.msg === 'reloaded', 'reloaded');
    assert.deepEqual(lists(), ['BLOCKER']);
  });
});

test('a reload keeps which address each process named: a line without one still counts against it', { timeout: 60_000 }, async () => {
  const s = setup();
  writeFileSync(
    s.conf,
    `socket: ${s.sock}\nproc_dir: ${join(s.dir, 'proc')}\nstate_file: ${s.state}\n` +
      `sessionpatterns:\n  - '^sshd\\[\\d+\\]: Connection from (?<ip>[0-9a-f.:]+) port \\d+ on \\S+ port \\d+$'\n` +
      `blocktypes:\n  ssh:\n    target: BLOCKER\n    minocc: 2\n    interval: 600\n    patterns:\n` +
      `      - '^sshd\\[(?<pid>\\d+)\\]: fatal: Read from socket failed: Connection reset by peer \\[preauth\\]$'\n`,
  );
  const reset = '<38>Nov 22 06:25:01 web1 sshd[4242]: fatal: Read from socket failed: Connection reset by peer [preauth]';
  await withDaemon(s, {}, async (d) => {
    await d.waitFor((l) => l.msg === 'listening', 'listening');
    await sendDatagrams(s.sock, ['<38>Nov 22 06:25:01 web1 sshd[4242]: Connection from 192.0.2.63 port 5000 on 192.0.2.1 port 22', reset]);
    await new Promise((r) => setTimeout(r, 200)); // read and noted by the engine before the reload
    d.proc.kill('SIGHUP');
    await d.waitFor((l) => l.msg === 'reloaded', 'reloaded');
    await sendDatagrams(s.sock, [reset]); // the second offence of sshd[4242], after the reload
    const blocked = await d.waitFor((l) => l.msg === 'blocked', 'blocked');
    assert.equal(blocked['ip'], '192.0.2.63');
  });
});

/** `body` with a daemon on `s`'s config (plus `env`), which then must stop cleanly on SIGTERM; `s` is removed after. */
async function withDaemon(s: { dir: string; conf: string }, env: NodeJS.ProcessEnv, body: (d: DaemonProcess) => Promise<void>): Promise<void> {
  const d = startDaemon(['run', '-c', s.conf], { env: { ...process.env, ...env } });
  try {
    await body(d);
    d.proc.kill('SIGTERM');
    assert.equal((await d.exited).code, 0);
  } finally {
    d.proc.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  }
}

/** Sends three failures from `ip`; resolves when the daemon has logged the ban. */
async function bannedAfterThree(s: { sock: string }, ip: string, d: DaemonProcess): Promise<void> {
  await sendDatagrams(s.sock, [failed(ip), failed(ip), failed(ip)]);
  await d.waitFor((l) => l.msg === 'blocked' && l['ip'] === ip, 'blocked');
}

async function waitUntil(done: () => boolean, what: string): Promise<void> {
  for (let t = 0; !done(); t += 20) {
    if (t > 15_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a ban lifted by hand stays lifted across a reload and a restart, though nothing was written to its list since', { timeout: 60_000 }, async () => {
  const s = setup();
  const list = join(s.dir, 'proc', 'BLOCKER');
  const commands = () => readFileSync(list, 'utf8').split('\n').filter(Boolean);
  let d = startDaemon(['run', '-c', s.conf]);
  try {
    await d.waitFor((l) => l.msg === 'listening', 'listening');
    await sendDatagrams(s.sock, [failed('192.0.2.50'), failed('192.0.2.50'), failed('192.0.2.50'), failed('198.51.100.9'), failed('198.51.100.9'), failed('198.51.100.9')]);
    await waitUntil(() => commands().length === 2, 'both bans written');
    // what `banban unblock 192.0.2.50` writes to a list (a plain folder's list replays its commands)
    writeFileSync(list, '-192.0.2.50\n', { flag: 'a' });
    d.proc.kill('SIGHUP');
    await d.waitFor((l) => l.msg === 'reloaded', 'reloaded');
    d.proc.kill('SIGTERM'); // before the next read-back (every 10 s): the stop reads the list itself
    assert.equal((await d.exited).code, 0);
    assert.deepEqual(commands(), ['+192.0.2.50', '+198.51.100.9', '-192.0.2.50'], 'the reload wrote nothing again');
    const saved = JSON.parse(readFileSync(s.state, 'utf8')) as { bans: unknown[][] };
    assert.deepEqual(saved.bans.map((b) => b[0]), ['198.51.100.9'], 'the lifted ban is not saved');
    assert.ok(d.logs.some((l) => String(l.msg).includes('lifted from outside banban')));
    // a restart on an empty list (a reboot) primes the ban that is still active, not the lifted one
    writeFileSync(list, '');
    d = startDaemon(['run', '-c', s.conf]);
    await d.waitFor((l) => l['primed'] === 1, 'the priming');
    assert.deepEqual(commands(), ['+198.51.100.9']);
  } finally {
    d.proc.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a good line sent after two reloads is decided after the bad lines sent before them, though the first thread is still busy with them', { timeout: 60_000, skip: notRoot }, async () => {
  const s = setup("goodpatterns:\n  - '^sshd\\[\\d+\\]: Accepted password for \\S+ from (?<ip>[0-9A-Fa-f:.]+) port \\d+ ssh2$'\n");
  const list = join(s.dir, 'proc', 'BLOCKER');
  const { d, drop } = startWithLongQueue(['run', '-c', s.conf]);
  try {
    await d.waitFor((l) => l.msg === 'listening', 'listening');
    await sendDatagrams(s.sock, queuedOnTheThread([failed('192.0.2.77'), failed('192.0.2.77'), failed('192.0.2.77')]));
    await new Promise((r) => setTimeout(r, 100)); // read, and handed to the thread
    d.proc.kill('SIGHUP');
    await d.waitFor((l) => l.msg === 'reloaded', 'reloaded');
    // a second reload while the first one's thread still holds its lines back: its own wait for both
    d.proc.kill('SIGHUP');
    await d.waitFor(() => d.logs.filter((x) => x.msg === 'reloaded').length === 2, 'the second reload');
    // a small batch, and the new thread has none pending: matched at once
    await sendDatagrams(s.sock, ['<38>Nov 22 06:25:02 web1 sshd[813]: Accepted password for bob from 192.0.2.77 port 50023 ssh2']);
    // behind the 60 busy lines, which take the first thread 8-12 s here (more on a slow stretch)
    await d.waitFor((l) => l.msg === 'unblocked', 'the good line decided', 45_000);
    await waitUntil(() => d.logs.some((l) => l.msg === 'blocked'), 'the ban decided');
    const order = d.logs.filter((l) => l.msg === 'blocked' || l.msg === 'unblocked').map((l) => l.msg);
    assert.deepEqual(order, ['blocked', 'unblocked'], 'decided in the order the lines came');
    assert.deepEqual(readFileSync(list, 'utf8').split('\n').filter(Boolean), ['+192.0.2.77', '-192.0.2.77'], 'the address is not left banned');
    d.proc.kill('SIGTERM');
    assert.equal((await d.exited).code, 0);
    assertHandedOver(d);
  } finally {
    await drop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a state file that cannot be written at stop is an error and exit 74, not a quiet exit 0', { timeout: 30_000 }, async () => {
  const s = setup();
  const folder = join(s.dir, 'kept');
  mkdirSync(folder);
  writeFileSync(s.conf, readFileSync(s.conf, 'utf8').replace(`state_file: ${s.state}`, `state_file: ${join(folder, 'state.json')}`));
  const d = startDaemon(['run', '-c', s.conf]);
  try {
    await d.waitFor((l) => l.msg === 'listening', 'listening');
    await sendDatagrams(s.sock, [failed('192.0.2.50'), failed('192.0.2.50'), failed('192.0.2.50')]);
    await d.waitFor((l) => l.msg === 'blocked', 'the ban');
    // the folder is replaced by a file while the daemon runs: no save can be made there now
    rmSync(folder, { recursive: true });
    writeFileSync(folder, '');
    d.proc.kill('SIGTERM');
    assert.equal((await d.exited).code, 74);
    const said = d.logs.find((l) => String(l.msg).startsWith('could not save the state file at stop'));
    assert.ok(said, 'the log says the state was lost');
    assert.equal(said['level'], 50);
    assert.match(String(said.msg), /a part of its path is a file where a folder should be/, 'and what to do about it');
  } finally {
    d.proc.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a reload that changes proc_dir says it takes effect at the next start, and the lists in use stay in use', { timeout: 30_000 }, async () => {
  const s = setup();
  const other = join(s.dir, 'proc2');
  mkdirSync(other);
  writeFileSync(join(other, 'BLOCKER'), '');
  const d = startDaemon(['run', '-c', s.conf]);
  try {
    await d.waitFor((l) => l.msg === 'listening', 'listening');
    writeFileSync(s.conf, readFileSync(s.conf, 'utf8').replace(`proc_dir: ${join(s.dir, 'proc')}`, `proc_dir: ${other}`));
    d.proc.kill('SIGHUP');
    const said = await d.waitFor((l) => String(l.msg).startsWith('proc_dir changed'), 'the warning');
    assert.equal(said['wanted'], other);
    await d.waitFor((l) => l.msg === 'reloaded', 'reloaded');
    await sendDatagrams(s.sock, [failed('192.0.2.50'), failed('192.0.2.50'), failed('192.0.2.50')]);
    await d.waitFor((l) => l.msg === 'blocked', 'the ban');
    assert.deepEqual(readFileSync(join(s.dir, 'proc', 'BLOCKER'), 'utf8'), '+192.0.2.50\n');
    assert.equal(readFileSync(join(other, 'BLOCKER'), 'utf8'), '');
  } finally {
    d.proc.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  }
});
