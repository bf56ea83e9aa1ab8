/**
 * The matching thread's body: started by match-thread.ts, never imported.
 * Batches in, in order: where their datagrams lie in the shared ring
 * (datagram-ring.ts); what BatchMatcher found out, in the same order. After
 * each batch it counts one in `progress`, which the main thread watches
 * when it waits for room in the ring; once, before any batch, it says there
 * whether it started (`STARTED`), and there too if a batch threw.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchMatcher, type BatchMatcherSetup } from './batch-matcher.js';
import { START_FAILED, START_READY, START_REASON_AT, START_REASON_BYTES, START_REASON_LENGTH, STARTED, THREAD_FAILED, type FromMatchThread, type ToMatchThread } from './match-thread.js';

const { setup, progress, ring } = workerData as { setup: BatchMatcherSetup; progress: SharedArrayBuffer; ring: SharedArrayBuffer };
const done = new Int32Array(progress);
const bytes = Buffer.from(ring);
const port = parentPort!;
let matcher: BatchMatcher | undefined;
try {
  matcher = new BatchMatcher(setup);
  signal(STARTED, START_READY);
} catch (err) {
  failed(START_FAILED, err);
}

port.on('message', (msg: ToMatchThread) => {
  if (matcher === undefined) return; // failed: the main thread has been told, and matches every batch itself
  let out;
  try {
    out = matcher.datagrams(bytes, msg.start, msg.count);
  } catch (err) {
    matcher = undefined;
    failed(THREAD_FAILED, err);
    return;
  }
  port.postMessage({ id: msg.id, ...out } satisfies FromMatchThread);
  Atomics.add(done, 0, 1);
  Atomics.notify(done, 0);
});

/**
 * Says so in shared memory first, with why (a main thread waiting for room
 * in the ring gets no events), then as a message; and throws nothing. The
 * main thread ends a failed thread at once (terminate), and Node 20 aborts
 * the whole process when a thread is ended while it is still raising an
 * uncaught exception (v8::ToLocalChecked Empty MaybeLocal, seen once in a
 * test run): so this thread stays idle until it is ended.
 */
function failed(state: number, err: unknown): void {
  const reason = Buffer.from(err instanceof Error ? err.message : String(err)).subarray(0, START_REASON_BYTES);
  Buffer.from(progress, START_REASON_AT, START_REASON_BYTES).set(reason);
  Atomics.store(done, START_REASON_LENGTH, reason.length);
  signal(STARTED, state);
  port.postMessage({ failed: true } satisfies FromMatchThread);
}

function signal(slot: number, value: number): void {
  Atomics.store(done, slot, value);
  Atomics.notify(done, 0); // the main thread waits on slot 0
}
