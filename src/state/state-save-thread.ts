/**
 * The periodic save's thread. The main thread only copies what is to be
 * saved (OffenceWindows.snapshot: the tables' typed arrays, milliseconds
 * for a million windows; the active bans in columns, BansPacker) and posts it here, its buffers transferred, not copied again. This thread turns it into text and writes
 * it (stateText, writeFileAtomic), so that none of that work, nor the
 * garbage it makes, holds up a datagram: under a 50 000 lines/s stream,
 * saving a few hundred thousand windows in 2 ms slices on the main thread
 * still left ban latencies of 16-46 ms behind it (issue 6).
 *
 * The thread lowers its own scheduling priority (nice 19, Linux's nice is
 * a thread's own): on a machine with fewer free cores than busy threads a
 * save waits for the socket and the matching, not the other way round.
 *
 * Contract:
 *   - one save at a time: `save` is called again only once the last one
 *     settled;
 *   - `save` resolves with what became of the save (written, cancelled, or
 *     failed with the error's message and code); it rejects only when the
 *     thread itself is gone (could not start, threw, exited), and the
 *     caller then saves on the main thread (writeFileAtomicInSlices);
 *   - `cancel` is seen by the thread between two steps of its write (a
 *     step every 64 windows and every 64 KiB): it removes its temporary
 *     file and leaves the state file as it was;
 *   - the thread never keeps the process alive (unref), and `close` ends it;
 *   - making one detaches a throwaway buffer first (detachOneBuffer).
 */
import { Worker } from 'node:worker_threads';
import { bansSnapshotBuffers, type BansSnapshot } from '../enforce/ban-columns.js';
import { snapshotBuffers, type WindowsSnapshot } from '../track/offence-windows.js';

export interface SaveJob {
  readonly path: string;
  /** wall-clock and monotonic ms at the same moment (StateNow) */
  readonly wall: number;
  readonly mono: number;
  /** these two are transferred: the caller must not read them afterwards */
  readonly windows: WindowsSnapshot;
  readonly bans: BansSnapshot;
  readonly maxChars: number;
}

export type SaveOutcome =
  | { readonly kind: 'written'; readonly windowsLeftOut: number }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'failed'; readonly message: string; readonly code: string | undefined };

/** What the thread says: once that it started (its thread id and nice value, where /proc told them), then one answer a save. */
export type FromSaveThread = { readonly started: true; readonly tid: number | undefined; readonly nice: number | undefined } | ({ readonly id: number } & SaveOutcome);

/** What the thread is started with (workerData). */
export interface SaveThreadData {
  /** Int32Array over it: [0] is 1 while the save under way is cancelled */
  readonly cancel: SharedArrayBuffer;
}

export class StateSaveThread {
  readonly #worker: Worker;
  readonly #cancel = new Int32Array(new SharedArrayBuffer(4));
  #nextId = 0;
  #pending: { id: number; resolve: (o: SaveOutcome) => void; reject: (e: Error) => void } | undefined;
  #gone: Error | undefined;
  #started: { tid: number | undefined; nice: number | undefined } | undefined;

  /** `workerScript` is for tests (a thread that fails); throws when no thread could be made. */
  constructor(opts: { workerScript?: URL | string } = {}) {
    detachOneBuffer();
    const w = new Worker(opts.workerScript ?? new URL('./state-save-worker.js', import.meta.url), {
      workerData: { cancel: this.#cancel.buffer as SharedArrayBuffer } satisfies SaveThreadData,
    });
    w.on('message', (msg: FromSaveThread) => {
      if ('started' in msg) {
        this.#started = { tid: msg.tid, nice: msg.nice };
        return;
      }
      const { id, ...outcome } = msg;
      const p = this.#pending;
      if (p === undefined || p.id !== id) return;
      this.#pending = undefined;
      w.unref();
      p.resolve(outcome);
    });
    w.on('error', (err) => this.#lost(err));
    w.on('exit', (code) => this.#lost(new Error(`the state-saving thread exited (code ${code})`)));
    w.unref();
    this.#worker = w;
  }

  /** why the thread is gone, if it is */
  get failure(): Error | undefined {
    return this.#gone;
  }

  /** the thread's id and nice value, once it said them (each undefined where it could not read it) */
  get started(): { tid: number | undefined; nice: number | undefined } | undefined {
    return this.#started;
  }

  save(job: SaveJob): Promise<SaveOutcome> {
    if (this.#gone !== undefined) return Promise.reject(this.#gone);
    if (this.#pending !== undefined) return Promise.reject(new Error('a save is already under way on the state-saving thread'));
    Atomics.store(this.#cancel, 0, 0);
    const id = ++this.#nextId;
    return new Promise<SaveOutcome>((resolve, reject) => {
      this.#pending = { id, resolve, reject };
      this.#worker.ref(); // a save under way is finished before the process may end by itself
      try {
        this.#worker.postMessage({ id, job }, [...snapshotBuffers(job.windows), ...bansSnapshotBuffers(job.bans)]);
      } catch (err) {
        this.#pending = undefined;
        this.#worker.unref();
        reject(err as Error);
      }
    });
  }

  /**
   * The save under way stops at its next step and resolves 'cancelled'
   * (past the rename, its file is in place all the same: the state is then
   * only saved once more than needed).
   */
  cancel(): void {
    Atomics.store(this.#cancel, 0, 1);
    Atomics.notify(this.#cancel, 0);
  }

  async close(): Promise<void> {
    this.#lost(new Error('the state-saving thread was closed'));
    await this.#worker.terminate();
  }

  #lost(err: Error): void {
    this.#gone ??= err;
    const p = this.#pending;
    this.#pending = undefined;
    p?.reject(this.#gone);
  }
}

/**
 * A save hands its buffers over, which detaches them. The first buffer an
 * isolate ever detaches costs far more than itself: V8 then throws away the
 * optimized code of every function compiled on the promise that no buffer
 * would be (its ArrayBufferDetaching protector). On the daemon's main thread
 * that was most of the hot path, 45-55 functions (reading the socket,
 * parsing addresses, the windows' tables), run unoptimized until compiled
 * again on V8's helper threads, which are not niced: in a daemon under a
 * 50 000 lines/s stream the first save set off 66 compiles (270 ms of
 * compiling) where it now sets off 24 (110 ms, the save's own code; issue
 * 6, seen with --trace-deopt and --trace-protector-invalidation).
 * Detaching one empty buffer here, at start, before anything is hot, makes
 * the code compiled later not depend on it.
 */
function detachOneBuffer(): void {
  const b = new ArrayBuffer(0);
  structuredClone(b, { transfer: [b] });
}
