/**
 * The socket edge's two ways of reading what is queued (source/syslog-socket.ts):
 * the batch receiver (recvmmsg, lib/native-edge.c) and one read(2) per datagram.
 * Both must hand over the same datagrams, in the same order, cut by the same rule.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { nativeEdge, nativeEdgeProblem } from '../../src/lib/native-edge.js';
import { MAX_DATAGRAM, RECV_BATCH, SyslogSocket, sendDatagram } from '../../src/source/syslog-socket.js';

const require = createRequire(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'banban-socket-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** datagrams of the lengths that matter: empty, one byte, a line, the largest whole one, one longer than the slot */
const DATAGRAMS = [0, 1, 120, MAX_DATAGRAM - 1, MAX_DATAGRAM, MAX_DATAGRAM + 4464].map((n, i) => Buffer.alloc(n, 0x41 + i));
/** what a receiver is handed of each: the first MAX_DATAGRAM bytes (a length of MAX_DATAGRAM is "may have been cut") */
const EXPECTED = DATAGRAMS.map((d) => d.subarray(0, MAX_DATAGRAM));

test('the build made the native edge, and it loads', () => {
  assert.equal(nativeEdgeProblem(), undefined, 'npm run build compiles src/lib/native-edge.c with gcc and node_api.h');
});

test('recvBatch reads what is queued into slots, cuts a datagram at its slot, says an empty queue as 0 and a bad descriptor as -EBADF', () => {
  const edge = nativeEdge();
  assert.ok(typeof edge !== 'string', edge as string);
  const { recvBatch } = edge;
  const unix = require('unix-dgram') as { createSocket(t: 'unix_dgram'): { fd: number; bind(p: string): void; on(e: string, cb: (...a: unknown[]) => void): void; close(): void } };
  const raw = unix.createSocket('unix_dgram');
  const rawPath = join(dir, 'raw.sock');
  raw.on('error', (e) => assert.fail(String(e)));
  raw.bind(rawPath);
  // queued now, read now: unix-dgram's own poll has not had a turn of the event loop yet
  for (const d of DATAGRAMS) assert.equal(sendDatagram(rawPath, d), undefined);
  const slots = Buffer.alloc(4 * MAX_DATAGRAM);
  const lengths = new Int32Array(4);
  const got: Buffer[] = [];
  for (let n; (n = recvBatch(raw.fd, slots, MAX_DATAGRAM, lengths)) > 0; ) {
    assert.ok(n <= lengths.length, 'never more than lengths.length a call');
    for (let i = 0; i < n; i++) got.push(Buffer.from(slots.subarray(i * MAX_DATAGRAM, i * MAX_DATAGRAM + lengths[i]!)));
  }
  assert.deepEqual(got.map((b) => b.length), EXPECTED.map((b) => b.length));
  assert.ok(got.every((b, i) => b.equals(EXPECTED[i]!)));
  assert.equal(recvBatch(raw.fd, slots, MAX_DATAGRAM, lengths), 0, 'nothing queued: 0, not an error');
  raw.close();
  assert.equal(recvBatch(raw.fd, slots, MAX_DATAGRAM, lengths), -9, 'a closed descriptor: -EBADF');
  assert.throws(() => recvBatch(0, Buffer.alloc(10), MAX_DATAGRAM, lengths), /smaller than lengths.length \* slotBytes/);
  assert.throws(() => recvBatch(0, slots, MAX_DATAGRAM, new Uint32Array(4) as unknown as Int32Array), /Int32Array/);
});

/** Opens a socket, queues every datagram before the first turn of the event loop, and collects what it hands over, burst by burst. */
async function receiveAll(name: string, batchReceive: boolean): Promise<{ batched: boolean; datagrams: Buffer[]; bursts: number }> {
  const path = join(dir, `${name}.sock`);
  const datagrams: Buffer[] = [];
  let bursts = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const s = SyslogSocket.open({
    path,
    batchReceive,
    onDatagram: (b) => datagrams.push(Buffer.from(b)), // a view of reused memory: copied
    onBurstEnd: () => {
      bursts++;
      if (datagrams.length >= DATAGRAMS.length) done();
    },
    onError: (e) => assert.fail(e),
  });
  try {
    for (const d of DATAGRAMS) assert.equal(sendDatagram(path, d), undefined);
    await finished;
    return { batched: s.batched, datagrams, bursts };
  } finally {
    s.close();
  }
}

test('batch receiver and read(2) hand over the same datagrams, in order, cut by the same rule, in one burst', async () => {
  const batched = await receiveAll('batched', true);
  const single = await receiveAll('single', false);
  assert.equal(batched.batched, true);
  assert.equal(single.batched, false);
  for (const r of [batched, single]) {
    assert.deepEqual(r.datagrams.map((b) => b.length), EXPECTED.map((b) => b.length));
    assert.ok(r.datagrams.every((b, i) => b.equals(EXPECTED[i]!)));
    assert.equal(r.bursts, 1, 'queued datagrams are read in the wake-up of the first');
  }
  assert.ok(RECV_BATCH >= DATAGRAMS.length);
});
