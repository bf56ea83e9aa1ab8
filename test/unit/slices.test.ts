import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachInSlices } from '../../src/lib/slices.js';

test('a walk in slices sees every item, and timers run between its slices', async () => {
  let turns = 0;
  const counter = setInterval(() => turns++, 0);
  const seen: number[] = [];
  const done = await forEachInSlices(
    Array.from({ length: 20_000 }, (_, i) => i),
    (i) => {
      seen.push(i);
      const until = performance.now() + 0.002; // a costly item: the walk takes some 40 ms
      while (performance.now() < until);
    },
    { sliceMs: 1 },
  );
  clearInterval(counter);
  assert.equal(done, true);
  assert.equal(seen.length, 20_000);
  assert.ok(turns > 3, `timers ran ${turns} times`);
});

test('a walk in slices of a Map meets what is added between slices, and stops when cancelled', async () => {
  const m = new Map(Array.from({ length: 1000 }, (_, i) => [i, i]));
  const added = setImmediate(() => m.set(-1, -1)); // between two slices
  const seen: number[] = [];
  assert.equal(await forEachInSlices(m.values(), (v) => seen.push(v), { sliceMs: 0 }), true);
  clearImmediate(added);
  assert.equal(seen.at(-1), -1);
  let cancel = false;
  const few: number[] = [];
  const stopped = forEachInSlices(m.values(), (v) => few.push(v), { sliceMs: 0, cancelled: () => cancel });
  cancel = true;
  assert.equal(await stopped, false);
  assert.equal(few.length, 128, 'one slice, then the look at `cancelled`');
});
