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

/** records its arguments and the number of copies running at once, then sleeps a little */
function fakeConntrack(): { command: string; calls: () => string[]; maxParallel: () => number } {
  const calls = join(dir, 'calls');
  const running = join(dir, 'running');
  writeFileSync(calls, '');
  writeFileSync(running, '');
  const command = join(dir, 'conntrack');
  writeFileSync(
    command,
    `#!/bin/sh
echo "$*" >> ${calls}
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
  assert.deepEqual(fake.calls().sort(), ['-D -d 192.0.2.1', '-D -s 192.0.2.1', '-f ipv6 -D -d 2001:db8::1', '-f ipv6 -D -s 2001:db8::1']);
  assert.equal(k.stats.completed, 2);
  assert.equal(k.stats.failed, 0);
});

test('kill returns at once and no more than the configured number of calls run together', async () => {
  const fake = fakeConntrack();
  const { log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command, concurrency: 2 });
  for (let i = 1; i <= 8; i++) k.kill(ip(`192.0.2.${i}`));
  assert.equal(k.stats.completed, 0, 'nothing has run yet: the caller was not held up');
  await k.idle();
  assert.equal(k.stats.completed, 8);
  assert.ok(fake.maxParallel() <= 4, `two cuts of two calls each at most, saw ${fake.maxParallel()}`);
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
  const k = new ConntrackKiller(log, { command: fake.command, concurrency: 1, maxQueue: 2 });
  for (let i = 1; i <= 5; i++) k.kill(ip(`192.0.2.${i}`));
  await k.idle();
  assert.equal(k.stats.dropped, 2);
  assert.equal(k.stats.completed, 3);
});
