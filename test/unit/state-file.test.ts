import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeState, encodeState, readStateFile, writeFileAtomic, writeFileAtomicInSlices } from '../../src/state/state-file.js';

const dir = mkdtempSync(join(tmpdir(), 'banban-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const LIMITS = { maxWindows: 100, maxBans: 100, maxTimes: 10 };

test('a saved state reads back the same, written in pieces', () => {
  const windows = Array.from({ length: 5000 }, (_, i) => ({ blocktype: 'ssh', ip: `10.0.${i >> 8}.${i & 255}`, times: [1_700_000_000_000 + i] }));
  const bans = [{ ip: '2001:db8::1', target: 'BLOCKER', blocktype: 'ssh', at: 1_700_000_000_000, until: 1_700_003_600_000 }];
  const file = join(dir, 'state.json');
  writeFileAtomic(file, encodeState({ savedAt: 1_700_000_000_500, windows: windows.values(), bans }));
  const back = decodeState(readFileSync(file, 'utf8'), { maxWindows: 10_000, maxBans: 10, maxTimes: 2 });
  assert.ok(back.ok);
  assert.equal(back.skipped, 0);
  assert.deepEqual(back.state.windows, windows);
  assert.deepEqual(back.state.bans, bans);
  assert.deepEqual(readdirSync(dir), ['state.json'], 'no temporary file is left behind');
});

test('a save written in slices lets the event loop run between them, and writes what a save at once writes', async () => {
  const sub = mkdtempSync(join(dir, 'slices-'));
  const windows = Array.from({ length: 50_000 }, (_, i) => ({ blocktype: 'ssh', ip: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, times: [1_700_000_000_000 + i] }));
  const state = () => encodeState({ savedAt: 1_700_000_000_500, windows: windows.values(), bans: [] });
  writeFileAtomic(join(sub, 'at-once.json'), state());
  let turns = 0;
  const counter = setInterval(() => turns++, 0);
  const written = await writeFileAtomicInSlices(join(sub, 'sliced.json'), state(), { sliceMs: 0 });
  clearInterval(counter);
  assert.equal(written, true);
  assert.ok(turns > 0, 'timers ran while it was being written');
  assert.equal(readFileSync(join(sub, 'sliced.json'), 'utf8'), readFileSync(join(sub, 'at-once.json'), 'utf8'));
  assert.deepEqual(readdirSync(sub).sort(), ['at-once.json', 'sliced.json'], 'no temporary file is left behind');
});

test('a save in slices that is cancelled leaves the state file as it was and no temporary file', async () => {
  const sub = mkdtempSync(join(dir, 'cancel-'));
  const file = join(sub, 'state.json');
  writeFileSync(file, 'the previous state');
  const windows = Array.from({ length: 50_000 }, (_, i) => ({ blocktype: 'ssh', ip: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, times: [1_700_000_000_000 + i] }));
  let slices = 0;
  const written = await writeFileAtomicInSlices(file, encodeState({ savedAt: 1, windows: windows.values(), bans: [] }), { sliceMs: 0, cancelled: () => ++slices > 3 });
  assert.equal(written, false);
  assert.equal(readFileSync(file, 'utf8'), 'the previous state');
  assert.deepEqual(readdirSync(sub), ['state.json']);
});

// above the largest process id Linux hands out (2^22): no process has these
const GONE = [4_194_305, 4_194_306];

test('reading the state removes what saves of an earlier process left behind, and nothing else', () => {
  const sub = mkdtempSync(join(dir, 'leftovers-'));
  const file = join(sub, 'state.json');
  writeFileAtomic(file, encodeState({ savedAt: 1_700_000_000_000, windows: [], bans: [] }));
  // a process still running (here the test runner, this one's parent) may be saving: its file stays
  const keep = ['state.json', 'other.json', '.state.json.x.tmp', `.state.json.${process.pid}.tmp`, `.state.json.${process.ppid}.bg.tmp`];
  for (const f of [...keep.slice(1), `.state.json.${GONE[0]}.tmp`, `.state.json.${GONE[1]}.bg.tmp`]) writeFileSync(join(sub, f), 'x');
  assert.equal(readStateFile(file, LIMITS, Date.now()).kind, 'loaded');
  assert.deepEqual(readdirSync(sub).sort(), keep.sort());
});

test('read only (a dry run), a corrupt state file and what earlier saves left stay as they are', () => {
  const sub = mkdtempSync(join(dir, 'readonly-'));
  const file = join(sub, 'state.json');
  writeFileSync(file, '{"version":1,"savedAt":1,"bans":[');
  writeFileSync(join(sub, `.state.json.${GONE[0]}.tmp`), 'x');
  const before = readdirSync(sub).sort();
  const r = readStateFile(file, LIMITS, Date.now(), { readOnly: true });
  assert.equal(r.kind, 'corrupt');
  assert.equal(r.kind === 'corrupt' ? r.setAsideTo : 'x', undefined);
  assert.deepEqual(readdirSync(sub).sort(), before);
});

test('a folder where the state file should be is reported, never renamed', () => {
  const sub = mkdtempSync(join(dir, 'folder-'));
  const file = join(sub, 'state.json');
  mkdirSync(file);
  writeFileSync(join(file, 'keep.txt'), 'x');
  assert.deepEqual(readStateFile(file, LIMITS, Date.now()), { kind: 'not-a-file', what: 'a folder' });
  assert.deepEqual(readdirSync(sub), ['state.json']);
  assert.ok(existsSync(join(file, 'keep.txt')));
});

test('entries that fail validation are skipped and counted, never trusted', () => {
  const text = JSON.stringify({
    version: 1,
    savedAt: 1,
    windows: [
      ['ssh', '192.0.2.1', [5]],
      ['ssh', '192.030.0.6', [5]],
      ['ssh', '2001:DB8::1', [5]],
      ['bad name!', '192.0.2.2', [5]],
      ['ssh', '192.0.2.3', []],
      ['ssh', '192.0.2.4', ['x']],
    ],
    bans: [
      ['192.0.2.9', 'BLOCKER', 'ssh', 1, 2],
      ['192.0.2.9', '../etc/passwd', 'ssh', 1, 2],
      ['192.0.2.9', 'BLOCKER', 'ssh', 3, 2],
      'junk',
    ],
  });
  const r = decodeState(text, LIMITS);
  assert.ok(r.ok);
  assert.deepEqual(r.state.windows.map((w) => w.ip), ['192.0.2.1']);
  assert.deepEqual(r.state.bans.map((b) => b.target), ['BLOCKER']);
  assert.equal(r.skipped, 8);
});

test('a file that is not a state file is set aside, and an absent one is no problem', () => {
  const file = join(dir, 'broken.json');
  assert.deepEqual(readStateFile(file, LIMITS, 0), { kind: 'none' });
  writeFileSync(file, '{"version": 2}');
  const r = readStateFile(file, LIMITS, Date.UTC(2026, 10, 22));
  assert.equal(r.kind, 'corrupt');
  assert.ok(r.kind === 'corrupt' && /unknown version/.test(r.reason));
  assert.equal(existsSync(file), false);
  assert.ok(r.kind === 'corrupt' && r.setAsideTo !== undefined && existsSync(r.setAsideTo));
});

test('a save that would be too long to read back keeps every ban and as many windows as fit, and says how many it left out', () => {
  const windows = Array.from({ length: 1000 }, (_, i) => ({ blocktype: 'ssh', ip: `10.0.${i >> 8}.${i & 255}`, times: [1_700_000_000_000 + i] }));
  const bans = Array.from({ length: 50 }, (_, i) => ({ ip: `192.0.2.${i}`, target: 'BLOCKER', blocktype: 'ssh', at: 1_700_000_000_000, until: 1_700_003_600_000 }));
  let left = -1;
  const text = [...encodeState({ savedAt: 1, windows: windows.values(), bans }, 20_000, (n) => (left = n))].join('');
  assert.ok(text.length <= 20_000, `${text.length} characters`);
  const back = decodeState(text, { maxWindows: 10_000, maxBans: 100, maxTimes: 2 });
  assert.ok(back.ok);
  assert.deepEqual(back.state.bans, bans, 'every ban');
  assert.ok(back.state.windows.length > 100, `${back.state.windows.length} windows kept`);
  assert.deepEqual(back.state.windows, windows.slice(0, back.state.windows.length));
  assert.equal(left, windows.length - back.state.windows.length);
  let told = false;
  [...encodeState({ savedAt: 1, windows: windows.values(), bans }, 10_000_000, () => (told = true))];
  assert.equal(told, false, 'nothing said when everything fits');
});

test('a state file too large to read back is set aside, never left for the next save to overwrite', () => {
  const huge = join(dir, 'huge.json');
  writeFileSync(huge, '');
  truncateSync(huge, 0x1fffffe8 + 1); // sparse: no disk used
  const r = readStateFile(huge, LIMITS, Date.UTC(2026, 10, 22));
  assert.ok(r.kind === 'corrupt' && /it is 512 MiB, more than can be read back/.test(r.reason), JSON.stringify(r));
  assert.equal(existsSync(huge), false);
  assert.ok(r.kind === 'corrupt' && r.setAsideTo !== undefined && statSync(r.setAsideTo).size === 0x1fffffe8 + 1);
  rmSync(r.kind === 'corrupt' ? r.setAsideTo! : huge);
});
