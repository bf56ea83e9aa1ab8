import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { parseConfig } from '../../src/config/load.js';
import { BatchMatcher, batchMatcherSetup } from '../../src/match/batch-matcher.js';
import { readRing, RingWriter } from '../../src/match/datagram-ring.js';
import { FLOOD_FULL, FLOOD_FULL_BACK, FLOOD_WINDOWS, LOAD_WINDOW_MS, LOCAL_BUSY_BACK, LOCAL_BUSY_MAX, LOCAL_CHUNK, MatchThread, RING_BYTES, START_FAILED, START_REASON_AT, START_REASON_BYTES, STARTED, THREAD_FAILED } from '../../src/match/match-thread.js';
import { readResults, RuleTable, type LineReport } from '../../src/match/match-wire.js';
import { Matcher, type MatchResult } from '../../src/match/matcher.js';
import type { ParsedIp } from '../../src/lib/ip.js';
import { decodeDatagram } from '../../src/source/datagram.js';
import { parseSyslogLine } from '../../src/source/syslog-line.js';
import { MAX_DATAGRAM } from '../../src/source/syslog-socket.js';
import { generate } from '../bench/corpus.js';

const root = join(import.meta.dirname, '..', '..', '..');
// every preset: good patterns, several blocktypes, session patterns and patterns matching by process id
const config = parseConfig('include: [sshd, postfix, dovecot, pam-generic, exim, nginx]\n', join(root, 'match-thread-test.yml')).config;

/** What a result says, as plain values (rules by `where`, addresses by text). */
function describe(found: MatchResult | undefined): unknown {
  if (found === undefined) return null;
  const v = found.verdict;
  return {
    kind: v.kind,
    good: v.kind === 'good' ? [v.rule.where, v.ip.text] : null,
    bad: v.kind === 'bad' ? v.offences.map((o) => [o.blocktype, o.rule.where, o.ip.text]) : null,
    rejected: v.rejected ? [v.rejected.rule.where, v.rejected.reason, v.rejected.raw] : null,
    byPid: found.byPid?.map((p) => [p.blocktype, p.rule.where, p.session]) ?? null,
    seen: found.seen ? [found.seen.session, found.seen.ip.text, found.seen.start === true] : null,
  };
}

const datagrams = (): Buffer[] => {
  const lines = generate(4000, 11).wire.split('\n').filter((l) => l !== '');
  const corpus = readFileSync(join(root, 'test', 'corpus', 'injection.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { line: string }).line);
  const crafted = [
    'Nov 22 06:25:01 h sshd[77]: Connection from 198.51.100.7 port 40000 on 192.0.2.1 port 22',
    'Nov 22 06:25:02 h sshd[77]: fatal: Read from socket failed: Connection reset by peer [preauth]',
    'Nov 22 06:25:02 h postfix/smtpd[90]: connect from unknown[198.51.100.8]',
    'Nov 22 06:25:02 h postfix/smtpd[90]: lost connection after AUTH from unknown[198.51.100.8]',
    'Nov 22 06:25:03 h sshd[78]: Failed password for root from 999.1.1.1 port 1 ssh2',
    'Nov 22 06:25:04 h sshd[79]: Accepted password for bob from 2001:db8::1 port 5 ssh2',
    'Nov 22 06:25:05 h sshd[80]: Invalid user x from 192.0.2.9 port 2\nNov 22 06:25:05 h sshd[80]: Invalid user x from 192.0.2.66 port 2',
    '',
    'Nov 22 06:25:06 h sshd[81]: Invalid user \0 from 192.0.2.10 port 2',
    `Nov 22 06:25:07 h sshd[82]: Invalid user ${'x'.repeat(9000)} from 192.0.2.11 port 2`,
  ];
  return [...lines, ...corpus, ...crafted].map((l) => Buffer.from(l)).concat([Buffer.alloc(MAX_DATAGRAM, 0x41)]);
};

test('what crosses from the matching thread is exactly what the matcher found, line by line', () => {
  const input = datagrams();
  const matcher = new Matcher(config);
  const expected = input.map((buf) => {
    const d = decodeDatagram(buf, config.maxLine, MAX_DATAGRAM);
    if (!d.ok) return { skipped: d.reason };
    const found = matcher.find(parseSyslogLine(d.line).text);
    return { cut: d.cut, found: describe(found) };
  });

  const ring = new RingWriter(new SharedArrayBuffer(1 << 24));
  for (const b of input) assert.ok(ring.write(b) > 0);
  const out = new BatchMatcher(batchMatcherSetup(config, MAX_DATAGRAM)).datagrams(ring.bytes, 0, input.length);
  assert.equal(out.lines, input.length);
  const got: unknown[] = input.map(() => ({ cut: false, found: null }));
  readResults(out.results, new RuleTable(config), (r) => {
    got[r.line] = r.skipped !== undefined ? { skipped: r.skipped } : { cut: r.cut, found: describe(r.found) };
  });
  // a line with nothing to say is not sent at all; its expected description is "nothing"
  const nothing = JSON.stringify(describe({ verdict: { kind: 'none' } }));
  const normal = (e: unknown) => (JSON.stringify((e as { found: unknown }).found) === nothing ? { ...(e as object), found: null } : e);
  assert.deepEqual(got, expected.map(normal));
  const kinds = new Set(expected.map((e) => ('skipped' in e ? `skip:${e.skipped}` : ((e.found as { kind: string } | null)?.kind ?? 'none'))));
  for (const k of ['good', 'bad', 'none', 'skip:empty', 'skip:NUL byte', 'skip:too long', 'skip:truncated']) assert.ok(kinds.has(k), `the input covers ${k}`);
  assert.ok(expected.some((e) => 'found' in e && (e.found as { byPid: unknown } | null)?.byPid), 'the input covers a match by process id');
  assert.ok(expected.some((e) => 'found' in e && (e.found as { rejected: unknown } | null)?.rejected), 'the input covers a rejected capture');
  assert.ok(expected.some((e) => 'cut' in e && e.cut), 'the input covers a cut datagram');
});

test('an address a batch names again crosses once, and comes back as one object; a reference to none is refused', () => {
  const lines = [failed('192.0.2.7', 1), failed('2001:db8::7', 2), failed('192.0.2.7', 3), failed('192.0.2.8', 4), failed('2001:db8::7', 5)];
  const ring = new RingWriter(new SharedArrayBuffer(1 << 16));
  for (const l of lines) ring.write(Buffer.from(l));
  const out = new BatchMatcher(batchMatcherSetup(config, MAX_DATAGRAM)).datagrams(ring.bytes, 0, lines.length);
  assert.equal(out.results.strs.filter((x) => /^(?:192\.0\.2\.|2001:db8::)/.test(x)).length, 3, 'three distinct addresses, each sent once');
  const ips: ParsedIp[] = [];
  readResults(out.results, new RuleTable(config), (r) => {
    const v = r.skipped === undefined ? r.found?.verdict : undefined;
    if (v?.kind === 'bad') ips.push(v.offences[0]!.ip);
  });
  assert.deepEqual(ips.map((ip) => ip.text), ['192.0.2.7', '2001:db8::7', '192.0.2.7', '192.0.2.8', '2001:db8::7']);
  assert.equal(ips[0], ips[2]);
  assert.equal(ips[1], ips[4]);
  assert.deepEqual([...ips[1]!.bytes], [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 7]);
  // the first address's record, made to name an address the batch has not had yet
  const ints = [...out.results.ints];
  ints[ints.indexOf(-1)] = 5;
  assert.throws(() => readResults({ ints, strs: out.results.strs }, new RuleTable(config), () => {}), /name address 5 of a batch that has 0/);
});

test('a process a batch names again crosses once, and comes back as one string', () => {
  const lines = [failed('192.0.2.7', 1), failed('192.0.2.8', 1), failed('192.0.2.9', 2), failed('192.0.2.7', 1)];
  const ring = new RingWriter(new SharedArrayBuffer(1 << 16));
  for (const l of lines) ring.write(Buffer.from(l));
  const out = new BatchMatcher(batchMatcherSetup(config, MAX_DATAGRAM)).datagrams(ring.bytes, 0, lines.length);
  assert.deepEqual(out.results.strs.filter((x) => x.startsWith('sshd[')), ['sshd[1]', 'sshd[2]'], 'two processes, each sent once');
  const sessions: string[] = [];
  readResults(structuredClone(out.results), new RuleTable(config), (r) => {
    if (r.skipped === undefined && r.found?.seen) sessions.push(r.found.seen.session);
  });
  assert.deepEqual(sessions, ['sshd[1]', 'sshd[1]', 'sshd[2]', 'sshd[1]']);
});

test('a batch that fails part-way leaves nothing of itself in the next batch\'s results', () => {
  const bm = new BatchMatcher(batchMatcherSetup(config, MAX_DATAGRAM));
  const broken = new RingWriter(new SharedArrayBuffer(1 << 16));
  broken.write(Buffer.from(failed('192.0.2.1', 1)));
  broken.write(Buffer.from(failed('192.0.2.2', 2)));
  broken.bytes.writeUInt32LE(0x7fff0000, broken.head); // a third record that runs past the end
  assert.throws(() => bm.datagrams(broken.bytes, 0, 3), /runs past the end/);
  const ring = new RingWriter(new SharedArrayBuffer(1 << 16));
  ring.write(Buffer.from(failed('192.0.2.3', 3)));
  const got: string[] = [];
  readResults(bm.datagrams(ring.bytes, 0, 1).results, new RuleTable(config), (r) => {
    const v = r.skipped === undefined ? r.found?.verdict : undefined;
    got.push(`${r.line} ${v?.kind === 'bad' ? v.offences[0]!.ip.text : '?'}`);
  });
  assert.deepEqual(got, ['0 192.0.2.3']);
});

/** Runs batches through a MatchThread and collects what comes back, in order. */
function collector(opts: { workerScript?: URL; localBatchMax?: number; localBusyMax?: number; now?: () => number; ringBytes?: number; startStallMs?: number; stallMs?: number; tally?: { handedOver: number } } = {}) {
  const seen: { batch: number; report: LineReport }[] = [];
  const faults: string[] = [];
  const dropped: string[] = [];
  let label = -1;
  const thread = new MatchThread<number>({
    setup: batchMatcherSetup(config, MAX_DATAGRAM),
    meta: () => label,
    sink: (report, batch) => seen.push({ batch, report }),
    onFault: (err) => faults.push(err.message),
    onDropped: (err) => dropped.push(err.message),
    localBatchMax: 0, // these tests are about the thread: every batch goes there
    localBusyMax: 0,
    ...opts,
  });
  const submit = (lines: string[], batch: number) => {
    label = batch; // a batch is stamped when it closes, which a full ring can make happen inside add
    for (const l of lines) thread.add(Buffer.from(l));
    thread.flush();
  };
  return { thread, seen, faults, dropped, submit };
}

const failed = (ip: string, pid: number) => `<38>Nov 22 06:25:01 h sshd[${pid}]: Failed password for root from ${ip} port 4242 ssh2`;

test('the matching thread answers batches in the order they were sent, under back-pressure too', async () => {
  const c = collector();
  const perBatch = 1000;
  const batches = Math.ceil((RING_BYTES * 2) / (perBatch * 80)); // twice what the ring holds: add must wait, not drop
  for (let b = 0; b < batches; b++) {
    c.submit(
      Array.from({ length: perBatch }, (_, i) => failed(`10.${b}.${i >> 8}.${i & 255}`, i)),
      b,
    );
  }
  await c.thread.idle();
  assert.equal(c.thread.threadGone, false, 'matched on the thread all along');
  await c.thread.close();
  assert.equal(c.seen.length, batches * perBatch);
  assert.deepEqual(c.faults, []);
  for (let k = 0; k < c.seen.length; k++) {
    const { batch, report } = c.seen[k]!;
    const b = Math.floor(k / perBatch);
    const i = k % perBatch;
    assert.equal(batch, b);
    const v = report.skipped === undefined ? report.found?.verdict : undefined;
    assert.equal(v?.kind === 'bad' ? v.offences[0]!.ip.text : undefined, `10.${b}.${i >> 8}.${i & 255}`);
  }
});

test('back-pressure still works after small batches were matched here: the thread counts only what it was given', async () => {
  // A quiet server matches its lone lines on the main thread; a flood that then fills the ring must
  // wait only for the thread's own batches. (It once compared the thread's count with batch numbers
  // that included the local ones, waited 10 s for room it already had, and gave up on the thread.)
  const tally = { handedOver: 0 };
  const c = collector({ localBatchMax: 4, tally });
  for (let b = 0; b < 20; b++) c.submit([failed(`192.0.2.${b}`, b)], b);
  assert.equal(c.thread.pending, 0, 'the small batches were matched here');
  assert.equal(tally.handedOver, 0, 'and none counted as handed over');
  const perBatch = 1000;
  const batches = Math.ceil((RING_BYTES * 2) / (perBatch * 80)); // twice what the ring holds
  for (let b = 0; b < batches; b++) c.submit(Array.from({ length: perBatch }, (_, i) => failed(`10.${b}.${i >> 8}.${i & 255}`, i)), 20 + b);
  await c.thread.idle();
  assert.equal(tally.handedOver, batches * perBatch, 'every datagram of the flood was counted as handed over');
  assert.deepEqual(c.faults, []);
  assert.equal(c.thread.threadGone, false, 'matched on the thread all along');
  await c.thread.close();
  assert.equal(c.seen.length, 20 + batches * perBatch);
});

test('when the matching thread dies, the batches it owed and all later ones are matched on the main thread', async () => {
  const c = collector({ workerScript: new URL('./dying-match-worker.js', import.meta.url) });
  c.submit([failed('192.0.2.1', 1)], 0);
  c.submit([failed('192.0.2.2', 2)], 1); // the thread breaks on this one
  c.submit([failed('192.0.2.3', 3)], 2);
  await c.thread.idle();
  c.submit([failed('192.0.2.4', 4)], 3); // after the fault: matched here at once
  await c.thread.close();
  assert.deepEqual(c.faults, ['the matching thread broke'], 'the fault is reported once');
  assert.equal(c.thread.threadGone, true);
  assert.deepEqual(c.dropped, []);
  const addresses = c.seen.map(({ batch, report }) => `${batch} ${report.skipped === undefined && report.found?.verdict.kind === 'bad' ? report.found.verdict.offences[0]!.ip.text : '?'}`);
  assert.deepEqual(addresses, ['0 192.0.2.1', '1 192.0.2.2', '2 192.0.2.3', '3 192.0.2.4']);
});

/** The address each reported line named, in the order reported. */
const addressesOf = (c: ReturnType<typeof collector>) =>
  c.seen.map(({ report }) => (report.skipped === undefined && report.found?.verdict.kind === 'bad' ? report.found.verdict.offences[0]!.ip.text : '?'));
const linesOf = (batch: number, n: number) => Array.from({ length: n }, (_, i) => failed(`10.${batch}.${i >> 8}.${i & 255}`, i));

test('a close that finds batches unanswered matches them here, in order, and says so', async () => {
  const c = collector({ workerScript: new URL('./hanging-match-worker.js', import.meta.url) });
  for (let b = 0; b < 3; b++) c.submit(linesOf(b, 5), b); // the thread answers batch 0 and hangs on batch 1
  await c.thread.close(300);
  assert.equal(c.faults.length, 1);
  assert.match(c.faults[0]!, /had not answered 2 batches 0.3 s after it was asked to finish/);
  assert.deepEqual(c.dropped, []);
  assert.deepEqual(addressesOf(c), [0, 1, 2].flatMap((b) => linesOf(b, 5).map((_, i) => `10.${b}.0.${i}`)));
});

test('a batch the thread finished before it was given up is reported when its answer arrives, late but not lost', async () => {
  const c = collector({ workerScript: new URL('./hanging-match-worker.js', import.meta.url), ringBytes: 16 * 1024, stallMs: 300 });
  c.submit(linesOf(0, 60), 0); // answered, but the answer is read only after the main thread stops waiting
  c.submit(linesOf(1, 60), 1); // the thread hangs on it
  c.submit(linesOf(2, 400), 2); // fills the ring: batch 0's bytes are reused, then the thread is given up
  await c.thread.idle();
  await c.thread.close();
  assert.deepEqual(c.faults, ['the matching thread answered nothing for 0.3 s']);
  assert.deepEqual(c.dropped, []);
  const got = addressesOf(c);
  assert.equal(got.length, 520, 'every line reported once');
  assert.deepEqual(got.slice(-60), linesOf(0, 60).map((_, i) => `10.0.0.${i}`), 'batch 0 last: its answer came after the lines matched here');
  assert.deepEqual(new Set(got), new Set([0, 1, 2].flatMap((b) => linesOf(b, b === 2 ? 400 : 60).map((_, i) => `10.${b}.${i >> 8}.${i & 255}`))));
});

test('a batch that throws on the thread is known at once to a main thread waiting for room, with why', async () => {
  const c = collector({ workerScript: new URL('./throwing-match-worker.js', import.meta.url), ringBytes: 16 * 1024, stallMs: 60_000 });
  c.submit(linesOf(0, 60), 0);
  c.submit(linesOf(1, 60), 1); // throws on the thread
  c.submit(linesOf(2, 400), 2); // fills the ring while the thread is dead: not a 60 s wait
  await c.thread.idle();
  await c.thread.close();
  assert.deepEqual(c.faults, ['the matching thread failed: a batch broke the matching thread']);
  assert.deepEqual(c.dropped, []);
  assert.equal(c.seen.length, 520);
});

test('a matching thread that never starts is given up on when the ring is full, and its lines are matched here, none lost', async () => {
  const c = collector({ workerScript: new URL('./stuck-match-worker.js', import.meta.url), ringBytes: 16 * 1024, startStallMs: 300 });
  const lines = Array.from({ length: 400 }, (_, i) => failed(`10.0.${i >> 8}.${i & 255}`, i)); // about twice what the ring holds
  c.submit(lines, 0);
  await c.thread.idle();
  assert.deepEqual(c.faults, ['the matching thread did not start within 0.3 s']);
  assert.equal(c.thread.threadGone, true);
  assert.deepEqual(c.dropped, []);
  await c.thread.close();
  const got = c.seen.map(({ report }) => (report.skipped === undefined && report.found?.verdict.kind === 'bad' ? report.found.verdict.offences[0]!.ip.text : '?'));
  assert.deepEqual(got, lines.map((_, i) => `10.0.${i >> 8}.${i & 255}`));
});

test('a matching thread that fails to start says why, and its lines are matched here, none lost', async () => {
  const c = collector({ workerScript: new URL('./failing-start-match-worker.js', import.meta.url), ringBytes: 16 * 1024 });
  const lines = Array.from({ length: 400 }, (_, i) => failed(`10.1.${i >> 8}.${i & 255}`, i)); // about twice what the ring holds
  c.submit(lines, 0);
  await c.thread.idle();
  await c.thread.close();
  assert.equal(c.faults.length, 1);
  assert.match(c.faults[0]!, /^the matching thread failed to start: .*(null|undefined|Cannot read)/);
  assert.deepEqual(c.dropped, []);
  assert.equal(c.seen.length, lines.length);
});

test('a small batch with none pending is matched at once on the calling thread; with one pending it waits its turn', async () => {
  const c = collector({ localBatchMax: 4 });
  c.submit([failed('192.0.2.1', 1)], 0);
  assert.equal(c.seen.length, 1, 'reported before flush returned');
  assert.equal(c.thread.pending, 0);
  c.submit(Array.from({ length: 50 }, (_, i) => failed(`198.51.100.${i}`, i)), 1); // big: to the thread
  assert.equal(c.thread.pending, 1);
  c.submit([failed('192.0.2.2', 2)], 2); // small, but behind a pending batch: to the thread too
  assert.equal(c.thread.pending, 2);
  await c.thread.idle();
  assert.equal(c.thread.threadGone, false);
  await c.thread.close();
  assert.deepEqual(c.faults, []);
  assert.deepEqual([...new Set(c.seen.map((x) => x.batch))], [0, 1, 2], 'in the order sent');
  assert.equal(c.seen.length, 52);
});

test('a main thread busy at most LOCAL_BUSY_MAX matches every batch itself, LOCAL_CHUNK datagrams at a time; busier, it hands them over, and takes over again once idle enough', async () => {
  let clock = 0;
  let label = 0;
  const seen: number[] = [];
  const faults: string[] = [];
  const thread = new MatchThread<number>({
    setup: batchMatcherSetup(config, MAX_DATAGRAM),
    meta: () => label++,
    sink: (_report, batch) => seen.push(batch),
    onFault: (err) => faults.push(err.message),
    onDropped: (err) => faults.push(err.message),
    now: () => clock,
  });
  const wake = (n: number, busyMs: number, idleMs: number) => {
    for (let i = 0; i < n; i++) thread.add(Buffer.from(failed(`198.51.100.${i % 250}`, i)));
    clock += busyMs;
    thread.flush();
    clock += idleMs;
  };
  assert.equal(thread.matchingHere, true, 'a new thread starts out matching here');
  wake(100, 0.1, 1); // 100 datagrams in one wake-up, on an idle main thread
  assert.equal(seen.length, 100, 'matched here, before flush returned');
  assert.equal(thread.pending, 0);
  assert.deepEqual([...new Set(seen)], [0, 1, 2, 3], `in chunks of ${LOCAL_CHUNK} (three full, the rest at the flush)`);
  // a flood: busy 9 ms of every 10 for more than a window
  for (let t = 0; t <= LOAD_WINDOW_MS; t += 10) wake(LOCAL_CHUNK - 1, 9, 1);
  assert.equal(thread.matchingHere, false, 'busier than LOCAL_BUSY_MAX: batches go to the thread');
  await thread.idle();
  const before = seen.length;
  wake(100, 1, 0);
  assert.equal(thread.pending, 1, 'a big batch is handed over');
  assert.equal(seen.length, before);
  await thread.idle();
  assert.equal(seen.length, before + 100);
  // quieter, but busy more than LOCAL_BUSY_BACK: still handing over (hysteresis)
  const between = (LOCAL_BUSY_BACK + LOCAL_BUSY_MAX) / 2;
  for (let t = 0; t <= LOAD_WINDOW_MS; t += 10) wake(20, 10 * between, 10 - 10 * between);
  assert.equal(thread.matchingHere, false);
  for (let t = 0; t <= LOAD_WINDOW_MS; t += 10) wake(20, 0.1, 9.9);
  assert.equal(thread.matchingHere, true, 'idle enough: every batch matched here again');
  await thread.idle();
  await thread.close();
  assert.deepEqual(faults, []);
  for (let k = 1; k < seen.length; k++) assert.ok(seen[k]! >= seen[k - 1]!, 'batches reported in the order made');
});

test('given a CPU clock, busy is the CPU time the main thread ran: time it was preempted mid-wake-up does not count; a clock that reads NaN falls back to the wake-ups', async () => {
  let clock = 0;
  let cpu = 0;
  const seen: number[] = [];
  const thread = new MatchThread<number>({
    setup: batchMatcherSetup(config, MAX_DATAGRAM),
    meta: () => 0,
    sink: (_report, batch) => seen.push(batch),
    onFault: (err) => assert.fail(err.message),
    onDropped: (err) => assert.fail(err.message),
    now: () => clock,
    cpu: () => cpu,
  });
  // each wake-up spans 9 ms of every 10 by the wall clock, of which it ran cpuMs
  const wake = (cpuMs: number) => {
    for (let i = 0; i < 4; i++) thread.add(Buffer.from(failed(`198.51.100.${i}`, i)));
    clock += 9;
    cpu += cpuMs;
    thread.flush();
    clock += 1;
  };
  for (let t = 0; t <= 2 * LOAD_WINDOW_MS; t += 10) wake(2);
  assert.equal(thread.matchingHere, true, 'ran 2 ms of every 10 (preempted for 7): still matching here');
  for (let t = 0; t <= 2 * LOAD_WINDOW_MS; t += 10) wake(10 * LOCAL_BUSY_MAX + 1);
  assert.equal(thread.matchingHere, false, 'ran more than LOCAL_BUSY_MAX of the time: handing over');
  for (let t = 0; t <= 2 * LOAD_WINDOW_MS; t += 10) wake(10 * LOCAL_BUSY_BACK - 1);
  assert.equal(thread.matchingHere, true, 'ran less than LOCAL_BUSY_BACK of the time: matching here again');
  cpu = NaN; // the clock could not be read: the wake-ups' 9 ms of every 10 count
  for (let t = 0; t <= 2 * LOAD_WINDOW_MS; t += 10) wake(1);
  assert.equal(thread.matchingHere, false, 'without the CPU clock, the wake-ups\' wall time decides');
  await thread.idle();
  await thread.close();
  assert.equal(seen.length, 4 * 4 * (2 * LOAD_WINDOW_MS / 10 + 1), 'every line reported');
});

test('wake-ups that leave the queue unemptied (wakeMax read) for more than FLOOD_FULL of FLOOD_WINDOWS windows in a row are a flood, whatever the CPU time: batches go to the thread until they are fewer than FLOOD_FULL_BACK', async () => {
  let clock = 0;
  const cpu = 0; // a main thread that never seems busy: the cores are taken by others
  let reported = 0;
  const wakeMax = 40;
  const thread = new MatchThread<number>({
    setup: batchMatcherSetup(config, MAX_DATAGRAM),
    meta: () => 0,
    sink: () => reported++,
    onFault: (err) => assert.fail(err.message),
    onDropped: (err) => assert.fail(err.message),
    now: () => clock,
    cpu: () => cpu,
    wakeMax,
  });
  let sent = 0;
  const wake = (n: number) => {
    for (let i = 0; i < n; i++, sent++) thread.add(Buffer.from(failed(`198.51.100.${i % 250}`, i)));
    clock += 1;
    thread.flush();
    clock += 9;
  };
  // a stall's backlog now and then: one full wake-up among small ones
  for (let t = 0; t <= 2 * LOAD_WINDOW_MS; t += 10) wake(t === 50 ? wakeMax : 5);
  assert.equal(thread.matchingHere, true, `${wakeMax} of ${wakeMax + 9 * 5} datagrams in a full wake-up: not a flood`);
  const flood = (ms: number) => {
    for (let t = 0; t < ms; t += 10) wake(t % 20 === 0 ? wakeMax : 10);
  };
  flood((FLOOD_WINDOWS - 1) * LOAD_WINDOW_MS);
  assert.equal(thread.matchingHere, true, `most datagrams in full wake-ups for ${FLOOD_WINDOWS - 1} windows: a stall's backlog, not a flood`);
  for (let t = 0; t <= LOAD_WINDOW_MS; t += 10) wake(5);
  flood((FLOOD_WINDOWS + 1) * LOAD_WINDOW_MS);
  assert.equal(thread.matchingHere, false, `for ${FLOOD_WINDOWS} windows in a row: a flood, handed over`);
  assert.ok(FLOOD_FULL_BACK < 0.3 && FLOOD_FULL > 0.3);
  for (let t = 0; t <= 2 * LOAD_WINDOW_MS; t += 10) wake(t % 40 === 0 ? wakeMax : 30);
  assert.equal(thread.matchingHere, false, 'a third of them in full wake-ups: still a flood (hysteresis)');
  for (let t = 0; t <= 2 * LOAD_WINDOW_MS; t += 10) wake(5);
  assert.equal(thread.matchingHere, true, 'over: matching here again');
  await thread.idle();
  await thread.close();
  assert.ok(reported > 0 && sent > 0);
});

test('a matching thread that fails, at start or on a batch, says so and throws nothing: it is ended while idle, never while raising', async () => {
  // Node 20 aborts the whole process when a thread is ended (terminate) while it raises an
  // uncaught exception, and the main thread ends a failed one as soon as shared memory says so.
  const run = async (script: string, datagramsSent: number) => {
    const progress = new SharedArrayBuffer(START_REASON_AT + START_REASON_BYTES);
    const ringBuffer = new SharedArrayBuffer(16 * 1024);
    const ring = new RingWriter(ringBuffer);
    const w = new Worker(new URL(script, import.meta.url), { workerData: { setup: batchMatcherSetup(config, MAX_DATAGRAM), progress, ring: ringBuffer } });
    const events: string[] = [];
    // settled by word of the failure, or by the thread raising it (the old way) and ending
    const said = new Promise<void>((resolve) => {
      w.on('error', (err) => events.push(`error: ${err.message}`));
      w.on('exit', (code) => {
        events.push(`exit ${code}`);
        resolve();
      });
      w.on('message', (m: { failed?: true; id?: number }) => {
        events.push(m.failed ? 'failed' : `answer ${m.id}`);
        if (m.failed) resolve();
      });
    });
    for (let id = 1; id <= datagramsSent; id++) {
      const datagram = Buffer.from(failed(`10.9.0.${id}`, id));
      assert.ok(ring.write(datagram) > 0);
      w.postMessage({ id, start: ring.head - 4 - datagram.length, count: 1 });
    }
    await said;
    await new Promise((resolve) => setTimeout(resolve, 200)); // an uncaught exception's 'error' would come by now
    const done = new Int32Array(progress);
    const state = Atomics.load(done, STARTED);
    await w.terminate();
    return { events, state };
  };
  const start = await run('./failing-start-match-worker.js', 0);
  assert.deepEqual(start.events, ['failed', 'exit 1']);
  assert.equal(start.state, START_FAILED);
  const batch = await run('./throwing-match-worker.js', 3);
  assert.deepEqual(batch.events, ['answer 1', 'failed', 'exit 1'], 'the third batch is not answered either');
  assert.equal(batch.state, THREAD_FAILED);
});

test('records go round the ring, never across its end, and come back as written', () => {
  const ring = new RingWriter(new SharedArrayBuffer(4096));
  const written: string[] = [];
  const batches: { start: number; count: number; bytes: number }[] = [];
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let round = 0; round < 400; round++) {
    // a batch of 1..6 records of 0..300 bytes; the oldest batches are answered when room runs out
    const count = 1 + rand(6);
    let start = -1;
    let bytes = 0;
    for (let k = 0; k < count; k++) {
      const text = String.fromCharCode(97 + rand(26)).repeat(rand(300));
      let taken = ring.write(Buffer.from(text));
      while (taken === 0) {
        const oldest = batches.shift();
        assert.ok(oldest, 'an empty ring has room for any record it accepts');
        ring.release(oldest.bytes);
        const got: string[] = [];
        readRing(ring.bytes, oldest.start, oldest.count, (b, s, e) => got.push(b.toString('latin1', s, e)));
        assert.deepEqual(got, written.splice(0, oldest.count));
        taken = ring.write(Buffer.from(text));
      }
      if (start < 0) start = ring.head - 4 - text.length;
      bytes += taken;
      written.push(text);
    }
    batches.push({ start, count, bytes });
  }
});
