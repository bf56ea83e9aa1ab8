/**
 * The matching thread's body: started by match-thread.ts, never imported.
 * Batches in, in order; what BatchMatcher found out, in the same order.
 * After each batch it counts one in `progress`, which the main thread
 * watches to hold back when this thread falls behind.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchMatcher, type BatchMatcherSetup } from './batch-matcher.js';
import type { FromMatchThread, ToMatchThread } from './match-thread.js';

const { setup, progress } = workerData as { setup: BatchMatcherSetup; progress: SharedArrayBuffer };
const done = new Int32Array(progress);
const matcher = new BatchMatcher(setup);
const port = parentPort!;

port.on('message', (msg: ToMatchThread) => {
  const out = matcher.datagrams(msg.bytes);
  port.postMessage({ id: msg.id, ...out } satisfies FromMatchThread);
  Atomics.add(done, 0, 1);
  Atomics.notify(done, 0);
});
