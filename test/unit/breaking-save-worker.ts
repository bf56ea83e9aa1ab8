/**
 * A state-saving thread that starts and then breaks at its first save: for
 * the fault tests of state-save-thread.ts and of the daemon's fallback
 * (saving on the main thread).
 */
import { parentPort } from 'node:worker_threads';

parentPort!.on('message', () => {
  throw new Error('the state-saving thread broke');
});
