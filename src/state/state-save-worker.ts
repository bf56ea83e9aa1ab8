/**
 * The state-saving thread's body: started by state-save-thread.ts, never
 * imported. Each message is one save (SaveJob): the snapshot's windows read
 * back (snapshotEntries), made into the state file's text (stateText) and
 * written atomically (writeFileAtomic), resting between steps and watching
 * the shared cancel flag. Each is answered with its outcome and the same id.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { snapshotBans } from '../enforce/ban-columns.js';
import { snapshotEntries } from '../track/offence-windows.js';
import { stateText, writeFileAtomic } from './state-file.js';
import type { FromSaveThread, SaveJob, SaveOutcome, SaveThreadData } from './state-save-thread.js';

const { cancel } = workerData as SaveThreadData;
const cancelled = new Int32Array(cancel);
/**
 * The thread works about 1 ms, then rests 4 (or until a cancel wakes it):
 * a fifth of a core. Even at nice 19, a save at full speed slowed the
 * daemon's main thread here (on this 2-core machine, a nice-19 process
 * spinning beside the daemon did too): in one process under a 50 000
 * lines/s stream, event-loop pauses over 4 ms in the 400 ms after each
 * save fell from 44-54 to 28-31 and the longest from 12-14 ms to 9. A save
 * takes five times as long, some seconds for a million windows, and saves
 * come a minute apart.
 */
const WORK_MS = 1;
const REST_MS = 4;
const port = parentPort!;

port.postMessage({ started: true, ...lowerPriority() } satisfies FromSaveThread);

port.on('message', ({ id, job }: { id: number; job: SaveJob }) => {
  port.postMessage({ id, ...save(job) } satisfies FromSaveThread);
});

function save(job: SaveJob): SaveOutcome {
  let windowsLeftOut = 0;
  try {
    const text = stateText({ wall: job.wall, mono: job.mono, windows: snapshotEntries(job.windows), bans: snapshotBans(job.bans) }, job.maxChars, (left) => (windowsLeftOut = left));
    let sliceStart = performance.now();
    const restOrCancel = () => {
      if (performance.now() - sliceStart >= WORK_MS) {
        Atomics.wait(cancelled, 0, 0, REST_MS);
        sliceStart = performance.now();
      }
      return Atomics.load(cancelled, 0) === 1;
    };
    const written = writeFileAtomic(job.path, text, { cancelled: restOrCancel, tmpTag: '.bg' });
    return written ? { kind: 'written', windowsLeftOut } : { kind: 'cancelled' };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { kind: 'failed', message: e.message, code: e.code };
  }
}

/**
 * nice 19 for this thread alone. Linux's nice value is a thread's own, and
 * setpriority(2) given a thread id changes that thread's: the id is read
 * from /proc/thread-self. Returns the id and the nice value then in force,
 * undefined where they could not be read (no /proc: the save runs at the
 * daemon's priority).
 */
function lowerPriority(): { tid: number | undefined; nice: number | undefined } {
  let tid: number | undefined;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return { tid: undefined, nice: undefined };
    try {
      setPriority(tid, 19);
    } catch {
      // not allowed here (a seccomp filter, a container): the save runs at the daemon's priority
    }
    return { tid, nice: getPriority(tid) };
  } catch {
    return { tid, nice: undefined };
  }
}
