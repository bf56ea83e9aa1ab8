/**
 * The periodic save's thread: what it writes is what the save at stop
 * writes, it runs at nice 19, a cancel leaves the old file, a failed write
 * is an answer (and the thread serves on), a broken thread is a rejection,
 * and the first save leaves the main thread's optimized code in place.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { ip } from '../helpers/values.js';
import { packBans } from '../../src/enforce/ban-columns.js';
import { MAX_STATE_CHARS, stateText, writeFileAtomic } from '../../src/state/state-file.js';
import { StateSaveThread } from '../../src/state/state-save-thread.js';
import { OffenceWindows } from '../../src/track/offence-windows.js';

const dir = mkdtempSync(join(tmpdir(), 'banban-save-thread-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// in the order an enforcer's lists may hold them: not the order of `at`, which the file has
const BAN_LIST = [
  { ip: '2001:db8::1', target: 'BLOCKER', blocktype: 'ssh', at: 1_700_000_000_300, until: 1_700_003_600_000 },
  { ip: '192.0.2.7', target: 'BLOCKER', blocktype: 'ssh', at: 1_700_000_000_100, until: 1_700_003_600_000 },
  { ip: '192.0.2.8', target: 'MAIL', blocktype: 'postfix', at: 1_700_000_000_200, until: 1_700_000_600_000 },
];
const bans = () => packBans(BAN_LIST, BAN_LIST.length);
const NO_BANS = () => packBans([], 0);

function windows(n: number): OffenceWindows {
  const w = new OffenceWindows(1_000_000);
  for (let i = 0; i < n; i++) {
    w.record('ssh', ip(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`), 1000 + i, 600_000, 5);
    if (i % 3 === 0) w.record('mail', ip(`2001:db8::${(i % 65536).toString(16)}`), 2000 + i, 600_000, 3);
  }
  return w;
}

async function until<T>(what: string, get: () => T | undefined, ms = 10_000): Promise<T> {
  for (const end = Date.now() + ms; ; ) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('the thread writes what the save at stop writes, from a snapshot whose buffers it was given', async () => {
  const w = windows(20_000);
  const wall = 1_700_000_500_000;
  const mono = 60_000;
  writeFileAtomic(join(dir, 'at-stop.json'), stateText({ wall, mono, windows: w.entries(), bans: [...BAN_LIST].sort((a, b) => a.at - b.at) }));
  const snap = w.snapshot();
  const t = new StateSaveThread();
  try {
    const out = await t.save({ path: join(dir, 'thread.json'), wall, mono, windows: snap, bans: bans(), maxChars: MAX_STATE_CHARS });
    assert.deepEqual(out, { kind: 'written', windowsLeftOut: 0 });
    assert.equal(readFileSync(join(dir, 'thread.json'), 'utf8'), readFileSync(join(dir, 'at-stop.json'), 'utf8'));
    assert.equal(snap[0]!.view.keys.byteLength, 0, 'the arrays were moved to the thread, not copied');
    // a second save on the same thread
    const again = await t.save({ path: join(dir, 'thread.json'), wall: wall + 1, mono: mono + 1, windows: windows(10).snapshot(), bans: NO_BANS(), maxChars: MAX_STATE_CHARS });
    assert.equal(again.kind, 'written');
    assert.equal(JSON.parse(readFileSync(join(dir, 'thread.json'), 'utf8')).windows.length, 14);
  } finally {
    await t.close();
  }
  assert.deepEqual(readdirSync(dir).sort(), ['at-stop.json', 'thread.json'], 'no temporary file is left behind');
});

test('the thread runs at nice 19, and only it: the process keeps its priority', async () => {
  const t = new StateSaveThread();
  try {
    const started = await until('the thread to start', () => t.started);
    assert.ok(started.tid !== undefined && started.tid !== process.pid);
    assert.equal(started.nice, 19);
    // field 19 of /proc/<pid>/task/<tid>/stat is the nice value, as the kernel has it
    const stat = (tid: number) => readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    assert.equal(stat(started.tid!)[16], '19');
    assert.equal(stat(process.pid)[16], '0');
  } finally {
    await t.close();
  }
});

test('a cancelled save leaves the state file as it was and no temporary file; the thread serves on', async () => {
  const sub = mkdtempSync(join(dir, 'cancel-'));
  const file = join(sub, 'state.json');
  writeFileSync(file, 'the previous state');
  const t = new StateSaveThread();
  try {
    const saving = t.save({ path: file, wall: 1_700_000_000_000, mono: 0, windows: windows(300_000).snapshot(), bans: bans(), maxChars: MAX_STATE_CHARS });
    t.cancel();
    assert.deepEqual(await saving, { kind: 'cancelled' });
    assert.equal(readFileSync(file, 'utf8'), 'the previous state');
    assert.deepEqual(readdirSync(sub), ['state.json']);
    assert.equal((await t.save({ path: file, wall: 1, mono: 0, windows: [], bans: NO_BANS(), maxChars: MAX_STATE_CHARS })).kind, 'written', 'a cancel does not carry over');
  } finally {
    await t.close();
  }
});

test('a write that fails is answered with the error the save at stop meets, and the next save is made', async () => {
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, '');
  const path = join(blocker, 'state.json'); // a state file under a file
  const atStop = (() => {
    try {
      writeFileAtomic(path, stateText({ wall: 1, mono: 0, windows: [], bans: [] }));
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
    assert.fail('the save at stop failed');
  })();
  const t = new StateSaveThread();
  try {
    const out = await t.save({ path, wall: 1, mono: 0, windows: windows(10).snapshot(), bans: NO_BANS(), maxChars: MAX_STATE_CHARS });
    assert.deepEqual(out, { kind: 'failed', message: atStop.message, code: atStop.code });
    assert.ok(atStop.code);
    assert.equal((await t.save({ path: join(dir, 'after-failure.json'), wall: 1, mono: 0, windows: [], bans: NO_BANS(), maxChars: MAX_STATE_CHARS })).kind, 'written');
  } finally {
    await t.close();
  }
});

test('windows past the size limit are left out and counted; bans never are', async () => {
  const t = new StateSaveThread();
  try {
    const out = await t.save({ path: join(dir, 'cut.json'), wall: 1, mono: 0, windows: windows(1000).snapshot(), bans: bans(), maxChars: 2000 });
    assert.equal(out.kind, 'written');
    const saved = JSON.parse(readFileSync(join(dir, 'cut.json'), 'utf8'));
    assert.equal(saved.bans.length, 3);
    assert.ok(out.kind === 'written' && out.windowsLeftOut > 0 && out.windowsLeftOut + saved.windows.length === 1334);
  } finally {
    await t.close();
  }
});

test("the first save's handing over of buffers does not throw away the main thread's optimized code", () => {
  // V8 drops every optimized function that reads a typed array the first
  // time its isolate detaches a buffer; the thread's constructor has that
  // happen at once, before anything is hot (detachOneBuffer)
  const child = spawnSync(process.execPath, ['--allow-natives-syntax', fileURLToPath(new URL('./first-save-deopt-child.js', import.meta.url))], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), { before: true, after: true, saved: 'written', detached: true });
});

test('a thread that breaks rejects the save under way and every later one', async () => {
  const t = new StateSaveThread({ workerScript: new URL('./breaking-save-worker.js', import.meta.url) });
  await assert.rejects(t.save({ path: join(dir, 'never.json'), wall: 1, mono: 0, windows: windows(10).snapshot(), bans: NO_BANS(), maxChars: MAX_STATE_CHARS }), /the state-saving thread broke/);
  await assert.rejects(t.save({ path: join(dir, 'never.json'), wall: 1, mono: 0, windows: [], bans: NO_BANS(), maxChars: MAX_STATE_CHARS }), /the state-saving thread broke/);
  assert.ok(t.failure);
  await t.close();
});
