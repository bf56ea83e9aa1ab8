/**
 * The compact window tables against a plain reference model: the same
 * random operations must give the same counts, decisions and contents.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ip } from '../helpers/values.js';
import { OffenceWindows, snapshotEntries } from '../../src/track/offence-windows.js';

/** The obvious implementation: a Map of arrays in least-recently-touched order. */
class Reference {
  readonly m = new Map<string, number[]>();
  evicted = 0;
  constructor(readonly cap: number) {}
  record(bt: string, ip: string, now: number, interval: number, minocc: number): number {
    const key = `${bt} ${ip}`;
    let times = this.m.get(key);
    if (times === undefined) {
      if (minocc <= 1) return 1;
      if ([...this.m.keys()].filter((k) => k.startsWith(`${bt} `)).length >= this.cap) {
        const oldest = [...this.m.keys()].find((k) => k.startsWith(`${bt} `))!;
        this.m.delete(oldest);
        this.evicted++;
      }
      times = [];
    } else {
      this.m.delete(key);
      times = times.filter((t) => t >= now - interval);
    }
    const count = times.length + 1;
    if (count >= minocc) return count;
    times.push(now);
    this.m.set(key, times);
    return count;
  }
  forget(ip: string, bts: string[]): void {
    for (const bt of bts) this.m.delete(`${bt} ${ip}`);
  }
  /** every window is looked at, wherever it is in the order */
  prune(horizon: number): number {
    let dropped = 0;
    for (const [k, times] of this.m) {
      if (times.at(-1)! < horizon) {
        this.m.delete(k);
        dropped++;
      }
    }
    return dropped;
  }
}


function rng(seed: number) {
  return () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
}

test('random records, forgets, prunes and evictions agree with the reference model', () => {
  const rand = rng(42);
  const pool = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `2001:db8::${i.toString(16)}` : `192.0.2.${i % 256}`)).map((s) => ip(s).text);
  const unique = [...new Set(pool)];
  const w = new OffenceWindows(150);
  const ref = new Reference(150);
  let now = 0;
  for (let step = 0; step < 30_000; step++) {
    now += Math.floor(rand() * 2000);
    const a = unique[Math.floor(rand() * unique.length)]!;
    const bt = rand() < 0.7 ? 'ssh' : 'mail';
    const minocc = bt === 'ssh' ? 4 : 2;
    if (rand() < 0.03) {
      w.forget(ip(a), ['ssh', 'mail']);
      ref.forget(a, ['ssh', 'mail']);
      continue;
    }
    if (rand() < 0.005) {
      // the daemon's prune, which stops at the first window that is not quiet
      assert.equal(w.prune(now, () => 60_000), ref.prune(now - 60_000), `prune at step ${step}`);
      continue;
    }
    assert.equal(w.record(bt, ip(a), now, 60_000, minocc), ref.record(bt, a, now, 60_000, minocc), `step ${step}`);
  }
  assert.equal(w.evicted, ref.evicted);
  assert.equal(w.size, ref.m.size);
  // Same contents, in the same least-recently-touched order per blocktype (times not yet expired may differ: they expire on touch).
  const got = [...w.entries()].map((e) => `${e.blocktype} ${e.ip}`).sort();
  assert.deepEqual(got, [...ref.m.keys()].sort());
});

test('the cap holds over both address families: the window touched longest ago goes, whichever family it is', () => {
  const w = new OffenceWindows(3);
  const rec = (a: string, t: number) => w.record('ssh', ip(a), t, 60_000, 5);
  rec('192.0.2.1', 1);
  rec('2001:db8::2', 2);
  rec('192.0.2.3', 3);
  rec('192.0.2.1', 4); // touched again: now the newest
  rec('2001:db8::4', 5); // full: 2001:db8::2 was touched longest ago
  assert.deepEqual([...w.entries()].map((e) => e.ip).sort(), ['192.0.2.1', '192.0.2.3', '2001:db8::4']);
  rec('192.0.2.5', 6); // full: 192.0.2.3
  assert.deepEqual([...w.entries()].map((e) => e.ip).sort(), ['192.0.2.1', '192.0.2.5', '2001:db8::4']);
  assert.equal(w.evicted, 2);
  assert.equal(w.size, 3);
});

test('times stay exact across the base moving forward (months of uptime)', () => {
  const w = new OffenceWindows(10);
  const day = 86_400_000;
  let now = 1000;
  // One offence every 10 days for a year: never 3 within a day, never a block.
  for (let i = 0; i < 40; i++, now += 10 * day) assert.equal(w.record('ssh', ip('192.0.2.1'), now, day, 3), 1);
  // Then three within a second, after the base has moved several times.
  assert.equal(w.record('ssh', ip('192.0.2.2'), now, day, 3), 1);
  assert.equal(w.record('ssh', ip('192.0.2.2'), now + 500, day, 3), 2);
  assert.equal(w.record('ssh', ip('192.0.2.2'), now + 999, day, 3), 3);
  const e = [...w.entries()].find((x) => x.ip === '192.0.2.1')!;
  assert.deepEqual(e.times, [now - 10 * day]);
});

test('windows of a huge minocc start in arrays made smaller than the cap, which grow keeping every window', () => {
  const w = new OffenceWindows(100_000);
  const n = 70_000; // past the slots made at once for minocc 1000 (UPFRONT_BYTES / about 4 kB a slot)
  for (let i = 0; i < n; i++) w.record('ssh', ip(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`), i, 600_000, 1000);
  assert.equal(w.size, n);
  for (const i of [0, 1, 40_000, 66_000, n - 1]) assert.equal(w.record('ssh', ip(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`), n + i, 600_000, 1000), 2, `window ${i}`);
});

test('a snapshot keeps the windows as they were, whatever happens to them afterwards', () => {
  const w = new OffenceWindows(100_000);
  for (let i = 0; i < 3000; i++) w.record(i % 2 ? 'ssh' : 'mail', ip(`10.0.${i >> 8}.${i & 255}`), i, 60_000, 5);
  const before = [...w.entries()];
  const snap = w.snapshot();
  for (let i = 0; i < 3000; i++) w.record('ssh', ip(`10.1.${i >> 8}.${i & 255}`), 5000 + i, 60_000, 5); // new windows; the tables grow
  for (let i = 0; i < 1000; i++) w.forget(ip(`10.0.${i >> 8}.${i & 255}`), ['ssh', 'mail']);
  w.record('mail', ip('10.0.20.1'), 9000, 60_000, 5);
  assert.deepEqual([...snapshotEntries(snap)], before);
  assert.deepEqual([...snapshotEntries(snap)], before, 'and reads the same again');
  assert.notDeepEqual([...w.entries()], before);
});

test('a smaller cap keeps the most recently touched windows of both families, whichever family they are in', () => {
  const w = new OffenceWindows(10);
  for (let i = 0; i < 4; i++) w.record('ssh', ip(`2001:db8::${i}`), i, 600_000, 5); // older, IPv6
  for (let i = 0; i < 4; i++) w.record('ssh', ip(`192.0.2.${i}`), 100 + i, 600_000, 5); // newer, IPv4
  w.record('ssh', ip('2001:db8::9'), 200, 600_000, 5); // the newest, IPv6
  assert.deepEqual(
    [...w.entries()].map((e) => e.ip),
    ['2001:db8::', '2001:db8::1', '2001:db8::2', '2001:db8::3', '192.0.2.0', '192.0.2.1', '192.0.2.2', '192.0.2.3', '2001:db8::9'],
    'entries come in the order they were last touched, both families merged',
  );
  const small = w.withCap(4, () => 5);
  assert.deepEqual([...small.entries()].map((e) => e.ip), ['192.0.2.1', '192.0.2.2', '192.0.2.3', '2001:db8::9']);
});

test('a reload that changes max_tracked moves the windows under the new cap, the ones touched longest ago dropped', () => {
  const w = new OffenceWindows(10);
  for (let i = 0; i < 6; i++) w.record('ssh', ip(`192.0.2.${i}`), i, 60_000, 5);
  w.record('mail', ip('2001:db8::1'), 10, 60_000, 5);
  w.record('gone', ip('192.0.2.99'), 11, 60_000, 5);
  assert.equal(w.withCap(10, () => 5), w, 'the same cap: the same windows');
  const minocc = new Map([['ssh', 5], ['mail', 5]]);
  const small = w.withCap(3, (bt) => minocc.get(bt));
  assert.equal(small.cap, 3);
  assert.deepEqual([...small.entries()].map((e) => `${e.blocktype} ${e.ip} ${e.times.join()}`).sort(), ['mail 2001:db8::1 10', 'ssh 192.0.2.3 3', 'ssh 192.0.2.4 4', 'ssh 192.0.2.5 5']);
  assert.equal(small.evicted, 3);
  assert.equal(small.record('ssh', ip('192.0.2.5'), 20, 60_000, 5), 2, 'the count goes on');
});

test('a reload that changes minocc keeps the windows, and the tables grow past their first size', () => {
  const w = new OffenceWindows(100_000);
  for (let i = 0; i < 5000; i++) w.record('ssh', ip(`10.0.${i >> 8}.${i & 255}`), i, 60_000, 5);
  assert.equal(w.size, 5000);
  assert.equal(w.record('ssh', ip('10.0.0.7'), 6000, 60_000, 3), 2, 'the window had one offence, now two');
  assert.equal(w.record('ssh', ip('10.0.0.7'), 6001, 60_000, 3), 3);
  assert.equal(w.size, 4999);
});

test('prune drops quiet windows and whole blocktypes no longer configured', () => {
  const w = new OffenceWindows(10);
  w.record('ssh', ip('192.0.2.1'), 0, 1000, 3);
  w.record('ssh', ip('192.0.2.2'), 5000, 1000, 3);
  w.record('old', ip('192.0.2.3'), 5000, 1000, 3);
  assert.equal(w.prune(5500, (bt) => (bt === 'ssh' ? 1000 : undefined)), 2);
  assert.deepEqual([...w.entries()].map((e) => e.ip), ['192.0.2.2']);
});

test('times out of order: a window is judged at its newest time, and an offence older than that by more than the interval does not count', () => {
  const w = new OffenceWindows(10);
  const s = 1000;
  // 100 s, 0 s, 130 s with a 60 s interval: as in time order, never three within 60 s
  assert.equal(w.record('ssh', ip('192.0.2.8'), 100 * s, 60 * s, 3), 1);
  assert.equal(w.record('ssh', ip('192.0.2.8'), 0, 60 * s, 3), 1, 'too old to count');
  assert.equal(w.record('ssh', ip('192.0.2.8'), 130 * s, 60 * s, 3), 2);
  // a little out of order still counts, in its place: 100, 90, 110 is three within 60 s
  assert.equal(w.record('ssh', ip('192.0.2.9'), 100 * s, 60 * s, 3), 1);
  assert.equal(w.record('ssh', ip('192.0.2.9'), 90 * s, 60 * s, 3), 2);
  assert.deepEqual([...w.entries()].find((e) => e.ip === '192.0.2.9')!.times, [90 * s, 100 * s], 'oldest first');
  assert.equal(w.record('ssh', ip('192.0.2.9'), 110 * s, 60 * s, 3), 3);
  // the oldest of the window falls out by the newest time, not by the line's own
  assert.equal(w.record('ssh', ip('192.0.2.10'), 0, 60 * s, 3), 1);
  assert.equal(w.record('ssh', ip('192.0.2.10'), 70 * s, 60 * s, 3), 1);
  assert.equal(w.record('ssh', ip('192.0.2.10'), 50 * s, 60 * s, 3), 2, '0 s is more than 60 s before 70 s');
});

test('a time from before the table can hold (more than a month before its newest) does not count, rather than count at the oldest time it can hold', () => {
  const w = new OffenceWindows(10);
  const day = 86_400_000;
  const march = Date.UTC(2026, 2, 1);
  assert.equal(w.record('ssh', ip('192.0.2.99'), march, 600_000, 3), 1);
  // three offences two hours apart, four months earlier: no window of 10 minutes holds two of them
  const nov = Date.UTC(2025, 10, 22, 7);
  for (const h of [0, 2, 4]) assert.equal(w.record('ssh', ip('192.0.2.7'), nov + h * 3_600_000, 600_000, 2), 0);
  assert.equal(w.record('ssh', ip('192.0.2.7'), march + day, 600_000, 2), 1);
});
