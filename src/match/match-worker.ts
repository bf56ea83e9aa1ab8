/**
 * The matching thread's body: started by match-thread.ts, never imported.
 * Batches in, in order: where their datagrams lie in the shared ring
 * (datagram-ring.ts); what BatchMatcher found out, in the same order. After
 * each batch it counts one in `progress`, which the main thread watches
 * when it waits for room in the ring.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchMatcher, type BatchMatcherSetup } from './batch-matcher.js';
import type { FromMatchThread, ToMatchThread } from './match-thread.js';

const { setup, progress, ring } = workerData as { setup: BatchMatcherSetup; progress: SharedArrayBuffer; ring: SharedArrayBuffer };
const done = new Int32Array(progress);
const bytes = Buffer.from(ring);
const matcher = new BatchMatcher(setup);
const port = parentPort!;

port.on('message', (msg: ToMatchThread) => {
  const out = matcher.datagrams(bytes, msg.start, msg.count);
  port.postMessage({ id: msg.id, ...out } satisfies FromMatchThread);
  Atomics.add(done, 0, 1);
  Atomics.notify(done, 0);
});
