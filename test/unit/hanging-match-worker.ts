/**
 * A matching thread that answers its first batch like the real one
 * (src/match/match-worker.ts) and then never answers again, busy for ever
 * (as a runaway match would be): for the close and stall tests in
 * match-thread.test.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchMatcher, type BatchMatcherSetup } from '../../src/match/batch-matcher.js';
import { START_READY, STARTED, type ToMatchThread } from '../../src/match/match-thread.js';

const { setup, progress, ring } = workerData as { setup: BatchMatcherSetup; progress: SharedArrayBuffer; ring: SharedArrayBuffer };
const done = new Int32Array(progress);
const matcher = new BatchMatcher(setup);
Atomics.store(done, STARTED, START_READY);
Atomics.notify(done, 0);
let batches = 0;
parentPort!.on('message', (msg: ToMatchThread) => {
  if (++batches === 2) for (;;); // terminate() ends it
  parentPort!.postMessage({ id: msg.id, ...matcher.datagrams(Buffer.from(ring), msg.start, msg.count) });
  Atomics.add(done, 0, 1);
  Atomics.notify(done, 0);
});
