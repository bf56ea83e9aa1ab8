/**
 * The conntrack queue's own rules (concurrency, dedup, a missing binary),
 * with a small script standing in for conntrack so that timing and
 * arguments can be observed. The real conntrack is exercised in test/e2e.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConntrackKiller } from '../../src/enforce/conntrack.js';
import { ip, logCollector } from '../helpers/values.js';

const dir = mkdtempSync(join(tmpdir(), 'banban-ct-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Records each delete it is asked for (one per line: from its arguments, or
 * from stdin with -R -) and the number of copies running at once, then
 * sleeps a little. With `noBatch` it refuses -R as conntrack before 1.4.6 does.
 */
function fakeConntrack({ noBatch = false } = {}): { command: string; calls: () => string[]; runs: () => number; maxParallel: () => number } {
  const calls = join(dir, 'calls');
  const running = join(dir, 'running');
  writeFileSync(calls, '');
  writeFileSync(running, '');
  const command = join(dir, 'conntrack');
  writeFileSync(
    command,
    `#!/bin/sh
if [ "$1" = "-R" ]; then
  if [ ${noBatch ? 1 : 0} = 1 ]; then echo "conntrack v1.4.5 (conntrack-tools): Invalid option -R" >&2; exit 2; fi
  cat "$2" >> ${calls}
else
  echo "$*" >> ${calls}
fi
echo + >> ${running}
sleep 0.05
echo - >> ${running}
echo "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted." >&2
exit 1
`,
  );
  chmodSync(command, 0o755);
  return {
    command,
    calls: () => readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean),
    runs: () => readFileSync(running, 'utf8').split('\n').filter((c) => c === '+').length,
    maxParallel: () => {
      let now = 0;
      let max = 0;
      for (const c of readFileSync(running, 'utf8').split('\n')) {
        if (c === '+') max = Math.max(max, ++now);
        if (c === '-') now--;
      }
      return max;
    },
  };
}


test('flows are cut by source and destination, with -f ipv6 for IPv6, and "nothing to delete" is no failure', async () => {
  const fake = fakeConntrack();
  const { log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command });
  k.kill(ip('192.0.2.1'));
  k.kill(ip('2001:db8::1'));
  await k.idle();
  assert.deepEqual(fake.calls().sort(), ['-D -d 192.0.2.1', '-D -f ipv6 -d 2001:db8::1', '-D -f ipv6 -s 2001:db8::1', '-D -s 192.0.2.1']);
  assert.equal(k.stats.completed, 2);
  assert.equal(k.stats.failed, 0);
});

test('kill returns at once, a burst is cut by a few batch processes, and no more than the configured number run together', async () => {
  const fake = fakeConntrack();
  const { log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command, concurrency: 2, batchMax: 100 });
  for (let i = 0; i < 600; i++) k.kill(ip(`10.0.${i >> 8}.${i & 255}`));
  assert.equal(k.stats.completed, 0, 'nothing has run yet: the caller was not held up');
  await k.idle();
  assert.equal(k.stats.completed, 600);
  assert.equal(fake.calls().length, 1200);
  assert.ok(fake.runs() <= 7, `${fake.runs()} processes for 600 addresses`);
  assert.ok(fake.maxParallel() <= 2, `at most two at once, saw ${fake.maxParallel()}`);
});

test('a conntrack without -R is detected, and flows are cut one address at a time', async () => {
  const fake = fakeConntrack({ noBatch: true });
  const { lines, log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command });
  for (let i = 1; i <= 3; i++) k.kill(ip(`192.0.2.${i}`));
  await k.idle();
  assert.equal(k.stats.completed, 3);
  assert.deepEqual(fake.calls().sort(), ['-D -d 192.0.2.1', '-D -d 192.0.2.2', '-D -d 192.0.2.3', '-D -s 192.0.2.1', '-D -s 192.0.2.2', '-D -s 192.0.2.3']);
  assert.ok(lines.some((l) => String(l['msg']).includes('cannot read batches')));
});

test('an address cut a moment ago is not cut again', async () => {
  const fake = fakeConntrack();
  const { log } = logCollector();
  let now = 0;
  const k = new ConntrackKiller(log, { command: fake.command, dedupMs: 10_000, now: () => now });
  k.kill(ip('192.0.2.1'));
  k.kill(ip('192.0.2.1'));
  now = 11_000;
  k.kill(ip('192.0.2.1'));
  await k.idle();
  assert.equal(k.stats.deduplicated, 1);
  assert.equal(fake.calls().length, 4);
});

test('a missing conntrack binary gives one warning and blocking goes on', async () => {
  const { lines, log } = logCollector();
  const k = new ConntrackKiller(log, { command: join(dir, 'no-such-conntrack') });
  k.kill(ip('192.0.2.1'));
  await k.idle();
  k.kill(ip('192.0.2.2'));
  k.kill(ip('192.0.2.3'));
  await k.idle();
  assert.equal(lines.filter((l) => String(l['msg']).startsWith('conntrack not found')).length, 1);
  assert.equal(k.stats.skippedMissing, 2);
});

test('when the queue is full the oldest request is dropped and counted', async () => {
  const fake = fakeConntrack();
  const { log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command, concurrency: 1, maxQueue: 2, batchMax: 1 });
  for (let i = 1; i <= 5; i++) k.kill(ip(`192.0.2.${i}`));
  await k.idle();
  assert.equal(k.stats.dropped, 3, 'all five came in one tick: the queue of two kept the newest');
  assert.equal(k.stats.completed, 2);
  assert.deepEqual(fake.calls().sort(), ['-D -d 192.0.2.4', '-D -d 192.0.2.5', '-D -s 192.0.2.4', '-D -s 192.0.2.5']);
});
