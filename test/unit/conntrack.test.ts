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
 * from the file given to -R), each dump (-L), and the number of copies
 * running at once, then sleeps a little. -L prints the flows of `flows()`,
 * in conntrack's own format. With `noBatch` it refuses -R as conntrack
 * before 1.4.6 does.
 */
function fakeConntrack({ noBatch = false } = {}) {
  const calls = join(dir, 'calls');
  const dumps = join(dir, 'dumps');
  const running = join(dir, 'running');
  const flows4 = join(dir, 'flows4');
  const flows6 = join(dir, 'flows6');
  for (const f of [calls, dumps, running, flows4, flows6]) writeFileSync(f, '');
  const command = join(dir, 'conntrack');
  writeFileSync(
    command,
    `#!/bin/sh
if [ "$1" = "-L" ]; then
  echo "$*" >> ${dumps}
  if [ "$2" = "-f" ]; then cat ${flows6}; else cat ${flows4}; fi
  echo "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown." >&2
  exit 0
fi
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
  const flow = (src: string, dst: string) =>
    `tcp      6 431999 ESTABLISHED src=${src} dst=${dst} sport=40000 dport=22 src=${dst} dst=${src} sport=22 dport=40000 [ASSURED] mark=0 use=1\n`;
  return {
    command,
    /** flows in the table: `from` -> `to` */
    flows: (list: [string, string][]) => {
      writeFileSync(flows4, list.filter(([a]) => !a.includes(':')).map(([a, b]) => flow(a, b)).join(''));
      writeFileSync(flows6, list.filter(([a]) => a.includes(':')).map(([a, b]) => flow(a, b)).join(''));
    },
    /** every address has a flow it started and a flow to it */
    bothWays: (addresses: string[]) => addresses.flatMap((a): [string, string][] => (a.includes(':') ? [[a, '2001:db8:ffff::1'], ['2001:db8:ffff::1', a]] : [[a, '198.51.100.1'], ['198.51.100.1', a]])),
    calls: () => readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean),
    dumps: () => readFileSync(dumps, 'utf8').trim().split('\n').filter(Boolean),
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

/** closed when the file's tests are done: each made a temporary folder for its batches */
const killers: ConntrackKiller[] = [];
after(() => {
  for (const k of killers) k.close();
});

test('only the flows the table holds are cut: by source and destination as found, with -f ipv6 for IPv6', async () => {
  const fake = fakeConntrack();
  // 192.0.2.1 started a flow; a flow went to 2001:db8::1; 192.0.2.9 has none
  fake.flows([
    ['192.0.2.1', '198.51.100.1'],
    ['2001:db8:ffff::1', '2001:db8::1'],
    ['198.51.100.7', '198.51.100.1'],
  ]);
  const { log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command, gapMs: 20 });
  killers.push(k);
  k.kill(ip('192.0.2.1'));
  k.kill(ip('2001:db8::1'));
  k.kill(ip('192.0.2.9'));
  await k.idle();
  assert.deepEqual(fake.dumps().sort(), ['-L', '-L -f ipv6'], 'one dump per family');
  assert.deepEqual(fake.calls().sort(), ['-D -f ipv6 -d 2001:db8::1', '-D -s 192.0.2.1']);
  assert.equal(k.stats.completed, 3);
  assert.equal(k.stats.failed, 0);
});

test('a burst of addresses without flows costs one dump and no delete', async () => {
  const fake = fakeConntrack();
  fake.flows([['198.51.100.7', '198.51.100.1']]);
  const { log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command, gapMs: 20 });
  killers.push(k);
  for (let i = 0; i < 300; i++) k.kill(ip(`10.1.${i >> 8}.${i & 255}`));
  await k.idle();
  assert.deepEqual(fake.dumps(), ['-L']);
  assert.deepEqual(fake.calls(), []);
  assert.equal(k.stats.completed, 300);
});

test('kill returns at once, a burst is cut by a few batch processes, and no more than the configured number run together', async () => {
  const fake = fakeConntrack();
  const { log } = logCollector();
  const addresses = Array.from({ length: 600 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  fake.flows(fake.bothWays(addresses));
  const k = new ConntrackKiller(log, { command: fake.command, concurrency: 2, batchMax: 100, gapMs: 20 });
  killers.push(k);
  for (const a of addresses) k.kill(ip(a));
  assert.equal(k.stats.completed, 0, 'nothing has run yet: the caller was not held up');
  await k.idle();
  assert.equal(k.stats.completed, 600);
  assert.equal(fake.calls().length, 1200);
  assert.ok(fake.runs() <= 7, `${fake.runs()} processes for 600 addresses`);
  assert.ok(fake.maxParallel() <= 2, `at most two at once, saw ${fake.maxParallel()}`);
});

test('a conntrack without -R is detected, and flows are cut one address at a time', async () => {
  const fake = fakeConntrack({ noBatch: true });
  fake.flows(fake.bothWays(['192.0.2.1', '192.0.2.2', '192.0.2.3']));
  const { lines, log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command, gapMs: 20 });
  killers.push(k);
  for (let i = 1; i <= 3; i++) k.kill(ip(`192.0.2.${i}`));
  await k.idle();
  assert.equal(k.stats.completed, 3);
  assert.deepEqual(fake.calls().sort(), ['-D -d 192.0.2.1', '-D -d 192.0.2.2', '-D -d 192.0.2.3', '-D -s 192.0.2.1', '-D -s 192.0.2.2', '-D -s 192.0.2.3']);
  assert.ok(lines.some((l) => String(l['msg']).includes('cannot read batches')));
});

test('an address cut a moment ago is not cut again', async () => {
  const fake = fakeConntrack();
  fake.flows(fake.bothWays(['192.0.2.1']));
  const { log } = logCollector();
  let now = 0;
  const k = new ConntrackKiller(log, { command: fake.command, dedupMs: 10_000, now: () => now, gapMs: 0 });
  killers.push(k);
  k.kill(ip('192.0.2.1'));
  k.kill(ip('192.0.2.1'));
  now = 11_000;
  k.kill(ip('192.0.2.1'));
  await k.idle();
  assert.equal(k.stats.deduplicated, 1);
  // the two requests let through (at 0 and at 11 s) went in one batch, which cuts each flow once
  assert.deepEqual(fake.calls(), ['-D -s 192.0.2.1', '-D -d 192.0.2.1']);
});

test('with ipv6_prefix, a banned network has the flows of each of its addresses the table shows cut, and no others', async () => {
  const fake = fakeConntrack();
  fake.flows([...fake.bothWays(['2001:db8:1:2::7', '2001:db8:1:2::8']), ['2001:db8:1:3::9', '2001:db8:ffff::1']]);
  const { log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command, gapMs: 0 });
  killers.push(k);
  k.ipv6Prefix = 64;
  k.kill(ip('2001:db8:1:2::'));
  await k.idle();
  assert.deepEqual(fake.calls().sort(), ['-D -f ipv6 -d 2001:db8:1:2::7', '-D -f ipv6 -d 2001:db8:1:2::8', '-D -f ipv6 -s 2001:db8:1:2::7', '-D -f ipv6 -s 2001:db8:1:2::8']);
});

test('a missing conntrack binary gives one warning and blocking goes on', async () => {
  const { lines, log } = logCollector();
  const k = new ConntrackKiller(log, { command: join(dir, 'no-such-conntrack') });
  killers.push(k);
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
  fake.flows(fake.bothWays(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5']));
  const { log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command, concurrency: 1, maxQueue: 2, batchMax: 1, gapMs: 20 });
  killers.push(k);
  for (let i = 1; i <= 5; i++) k.kill(ip(`192.0.2.${i}`));
  await k.idle();
  assert.equal(k.stats.dropped, 3, 'all five came in one tick: the queue of two kept the newest');
  assert.equal(k.stats.completed, 2);
  assert.deepEqual(fake.calls().sort(), ['-D -d 192.0.2.4', '-D -d 192.0.2.5', '-D -s 192.0.2.4', '-D -s 192.0.2.5']);
});

test('conntrack starts at most once per gap, so bans arriving one by one are cut in a few batches', async () => {
  const fake = fakeConntrack();
  const { log } = logCollector();
  const k = new ConntrackKiller(log, { command: fake.command, gapMs: 300 });
  killers.push(k);
  for (let i = 1; i <= 10; i++) {
    k.kill(ip(`192.0.2.${i}`));
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await k.idle();
  assert.equal(k.stats.completed, 10);
  assert.ok(fake.dumps().length <= 3, `${fake.dumps().length} conntrack starts for 10 bans in 250 ms with a 300 ms gap`);
});
