/**
 * The daemon's periodic save, in this process: written on its thread while
 * lines keep coming, on the main thread once that thread broke, and a stop
 * in the middle of one waits for it, so the save at stop is the one left.
 * And the other way: a state file read under a smaller max_tracked.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Daemon } from '../../src/daemon.js';
import { sendDatagrams } from '../helpers/daemon-process.js';
import { logCollector } from '../helpers/values.js';

const failed = (ip: string) => `<38>Nov 22 06:25:01 web1 sshd[812]: Failed password for invalid user admin from ${ip} port 50022 ssh2`;

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'banban-periodic-save-'));
  const proc = join(dir, 'proc');
  mkdirSync(proc);
  writeFileSync(join(proc, 'BLOCKER'), '');
  const sock = join(dir, 'banban.sock');
  const conf = join(dir, 'banban.yml');
  const stateDir = join(dir, 'state');
  const stateFile = join(stateDir, 'state.json');
  writeFileSync(
    conf,
    `socket: ${sock}\nproc_dir: ${proc}\nstate_file: ${stateFile}\nmax_tracked: 1000000\nblocktypes:\n  ssh:\n    target: BLOCKER\n    minocc: 3\n    interval: 600\n    patterns:\n      - '^sshd\\[\\d+\\]: Failed password for (?:invalid user )?\\S* from (?<ip>[0-9A-Fa-f:.]+) port \\d+ ssh2$'\n`,
  );
  const saved = (): { windows: [string, string, number[]][]; bans: unknown[][] } | undefined => (existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : undefined);
  return { dir, conf, sock, stateDir, stateFile, saved };
}

test('the periodic save is written on its thread, with the windows and bans of the moment', { timeout: 30_000 }, async () => {
  const s = setup();
  const { lines, log } = logCollector();
  const d = Daemon.start({ configFile: s.conf, log, saveMs: 50 });
  try {
    await sendDatagrams(s.sock, [failed('192.0.2.1'), failed('2001:db8::2'), failed('2001:db8::2'), ...Array(3).fill(failed('192.0.2.3'))]);
    await until('the save', () => (s.saved()?.windows.length ?? 0) === 2 && s.saved()?.bans.length === 1);
    const st = s.saved()!;
    assert.deepEqual(st.windows.map((w) => [w[1], w[2].length]).sort(), [['192.0.2.1', 1], ['2001:db8::2', 2]]);
    assert.equal(st.bans[0]![0], '192.0.2.3');
    assert.ok(st.windows.every((w) => w[2].every((t) => Math.abs(t - Date.now()) < 10_000)), 'times written as wall-clock ones');
    assert.ok(!lines.some((l) => String(l.msg).startsWith('the state-saving thread failed')));
  } finally {
    assert.equal(await d.stop(), true);
    rmSync(s.dir, { recursive: true, force: true });
  }
});

// A thread that breaks at its first save (whose snapshot goes with it: the next save is made again,
// here), and one that cannot start at all.
for (const [what, script, err] of [
  ['broke at its first save', '../unit/breaking-save-worker.js', /the state-saving thread broke/],
  ['cannot start', './no-such-save-worker.js', /no-such-save-worker/],
] as const) {
  test(`a saving thread that ${what} is said once, and every save is written on the main thread`, { timeout: 30_000 }, async () => {
    const s = setup();
    const { lines, log } = logCollector();
    const d = Daemon.start({ configFile: s.conf, log, saveMs: 50, saveThreadScript: new URL(script, import.meta.url) });
    try {
      await sendDatagrams(s.sock, [failed('192.0.2.1')]);
      await until('a save on the main thread', () => s.saved()?.windows[0]?.[1] === '192.0.2.1');
      await sendDatagrams(s.sock, [failed('192.0.2.4')]);
      await until('the next save', () => s.saved()?.windows.length === 2);
      const said = lines.filter((l) => String(l.msg).startsWith('the state-saving thread failed'));
      assert.equal(said.length, 1);
      assert.match(String(said[0]!['err']), err);
    } finally {
      assert.equal(await d.stop(), true);
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
}

test('a stop while a large save is under way waits for it: the save at stop is the one left, with everything', { timeout: 60_000 }, async () => {
  const s = setup();
  // 400 000 windows to restore: each periodic save of them takes the thread a good part of a second
  const now = Date.now();
  const windows: string[] = [];
  for (let i = 0; i < 400_000; i++) windows.push(JSON.stringify(['ssh', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, [now - 1000]]));
  mkdirSync(s.stateDir);
  writeFileSync(s.stateFile, `{"version":1,"savedAt":${now},"windows":[${windows.join(',')}],"bans":[]}`);
  const { lines, log } = logCollector();
  const d = Daemon.start({ configFile: s.conf, log, saveMs: 20 });
  let stopped = false;
  try {
    await sendDatagrams(s.sock, [failed('192.0.2.200')]);
    // a save has begun: its temporary file is there
    await until('a save under way', () => readdirSync(s.stateDir).some((f) => f.endsWith('.bg.tmp')));
    await sendDatagrams(s.sock, [failed('192.0.2.201')]); // after the snapshot that save is writing
    await until('the line decided', () => d.stats.matched === 2);
    stopped = true;
    assert.equal(await d.stop(), true);
    const st = s.saved()!;
    assert.equal(st.windows.length, 400_002);
    assert.ok(st.windows.some((w) => w[1] === '192.0.2.201'), 'the line after the snapshot is in the file left');
    assert.deepEqual(readdirSync(s.stateDir), ['state.json'], 'no temporary file is left behind');
    assert.ok(!lines.some((l) => l.level === 'error' || String(l.msg).startsWith('could not save')));
  } finally {
    if (!stopped) await d.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a state file read under a smaller max_tracked keeps the windows seen most recently, whatever their order in the file', { timeout: 30_000 }, async () => {
  const s = setup();
  writeFileSync(s.conf, readFileSync(s.conf, 'utf8').replace('max_tracked: 1000000', 'max_tracked: 3'));
  const now = Date.now();
  // newest last would be banban's order; here the IPv6 windows, written after, are the older ones
  const windows = [
    ['ssh', '192.0.2.1', [now - 4000]],
    ['ssh', '192.0.2.2', [now - 3000]],
    ['ssh', '192.0.2.3', [now - 2000]],
    ['ssh', '2001:db8::1', [now - 9000]],
    ['ssh', '2001:db8::2', [now - 8000]],
    ['ssh', '2001:db8::3', [now - 1000]],
  ];
  mkdirSync(s.stateDir);
  writeFileSync(s.stateFile, JSON.stringify({ version: 1, savedAt: now, bans: [], windows }));
  const { log } = logCollector();
  const d = Daemon.start({ configFile: s.conf, log });
  try {
    assert.equal(await d.stop(), true);
    // what it held is what it saved at stop
    assert.deepEqual(s.saved()!.windows.map((w) => w[1]), ['192.0.2.2', '192.0.2.3', '2001:db8::3']);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});
