/**
 * The real matching thread (src/match/match-worker.ts), with its second
 * batch made to throw: for the test that a main thread waiting for room in
 * the ring learns of it from shared memory at once.
 */
import { BatchMatcher } from '../../src/match/batch-matcher.js';

const real = BatchMatcher.prototype.datagrams;
let batches = 0;
BatchMatcher.prototype.datagrams = function (this: BatchMatcher, ...args: Parameters<typeof real>) {
  if (++batches === 2) throw new Error('a batch broke the matching thread');
  return real.apply(this, args);
};
await import('../../src/match/match-worker.js');
