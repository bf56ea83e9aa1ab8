import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { threadCpuClock } from '../../src/lib/clock.js';

/** spins the calling thread for about `ms` of wall time */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('threadCpuClock reads the CPU time of the thread that opened it: it grows while that thread runs, not while it waits or while another thread runs', async () => {
  const cpu = threadCpuClock();
  assert.ok(cpu !== undefined, 'this machine has /proc/thread-self/schedstat');
  assert.equal(threadCpuClock(), cpu, 'one clock per thread, opened once');
  const a = cpu();
  spin(30);
  const b = cpu();
  assert.ok(b > a, `ran: ${a} then ${b}`);
  // another thread runs 300 ms of wall time while this one waits
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.clock).then(({ threadCpuClock }) => {
      const cpu = threadCpuClock();
      const start = cpu();
      const end = performance.now() + 300;
      while (performance.now() < end);
      parentPort.postMessage(cpu() - start);
    });`;
  const w = new Worker(code, { eval: true, workerData: { clock: new URL('../../src/lib/clock.js', import.meta.url).href } });
  const workerRan = await new Promise<number>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  const waited = cpu() - b;
  await w.terminate();
  assert.ok(workerRan > 0, `the worker's own clock grew: ${workerRan} ms`);
  assert.ok(waited < workerRan, `this thread's clock grew ${waited} ms while it waited on a worker that ran ${workerRan} ms`);
});
