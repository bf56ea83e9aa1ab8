/**
 * The real matching thread (src/match/match-worker.ts), given a setup it
 * cannot build a matcher from: for the failed-start test in
 * match-thread.test.ts.
 */
import { workerData } from 'node:worker_threads';

(workerData as { setup: { matcher: unknown } }).setup.matcher = null;
await import('../../src/match/match-worker.js');
