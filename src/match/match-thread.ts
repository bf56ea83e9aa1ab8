/**
 * Matching on a thread of its own, so that the main thread, which reads the
 * socket and owns the engine, spends its time on little else.
 *
 * Contract:
 *   - batches are matched in the order submitted and their lines reported
 *     to `sink` in that order, each with the `meta` it was submitted with
 *     (the daemon: the receive time);
 *   - the thread decides nothing (batch-matcher.ts): what the engine hears
 *     is what it would have heard matching the lines itself;
 *   - back-pressure: when more than MAX_BACKLOG_LINES are submitted and not
 *     yet matched, `submit` blocks the main thread until the backlog is down
 *     to half. That stops the reading, so the kernel's socket queue fills
 *     and the syslog daemon waits, exactly as when one thread does it all;
 *     memory stays bounded whatever is sent;
 *   - if the thread dies (a bug, a resource limit), the error is reported to
 *     `onFault` once, and from then on, starting with the batches it had
 *     not answered, lines are matched on the main thread: no line is lost.
 */
import { Worker } from 'node:worker_threads';
import { BatchMatcher, type BatchMatcherSetup, type BatchOut } from './batch-matcher.js';
import { readResults, RuleTable, type LineReport } from './match-wire.js';

export type MatchInput = { kind: 'datagrams'; bytes: Uint8Array };
export type ToMatchThread = MatchInput & { id: number };
export type FromMatchThread = { id: number } & BatchOut;

/** lines submitted and not yet matched before `submit` waits */
export const MAX_BACKLOG_LINES = 50_000;
/** how long `submit` waits for a thread that answers nothing before it gives up on it */
const STALL_MS = 10_000;

export interface MatchThreadOptions<M> {
  setup: BatchMatcherSetup;
  /** one call per line that has something to say, in order */
  sink: (report: LineReport, meta: M) => void;
  /** after the lines of a batch: how many it held */
  onBatch?: (lines: number, meta: M) => void;
  /** the thread is gone (once): from now on lines are matched on this one */
  onFault: (err: Error) => void;
  /** a batch could not be matched on this thread either: its lines are lost, this says why */
  onDropped: (err: Error) => void;
}

interface Pending<M> {
  id: number;
  input: MatchInput;
  meta: M;
  lines: number;
}

export class MatchThread<M> {
  readonly table: RuleTable;
  readonly #opts: MatchThreadOptions<M>;
  #worker: Worker | undefined;
  #local: BatchMatcher | undefined;
  readonly #pending: Pending<M>[] = [];
  readonly #done: Int32Array;
  #nextId = 0;
  #backlog = 0;
  #idle: (() => void)[] = [];
  #failure: Error | undefined;

  constructor(opts: MatchThreadOptions<M>) {
    this.#opts = opts;
    this.table = new RuleTable(opts.setup.matcher);
    const progress = new SharedArrayBuffer(4);
    this.#done = new Int32Array(progress);
    try {
      const w = new Worker(new URL('./match-worker.js', import.meta.url), { workerData: { setup: opts.setup, progress } });
      w.on('message', (msg: FromMatchThread) => this.#answer(msg));
      w.on('error', (err) => this.#lost(err));
      w.on('exit', (code) => {
        if (this.#worker === w) this.#lost(new Error(`the matching thread exited (code ${code})`));
      });
      w.unref(); // kept alive by the batches it owes (#submit refs it), not otherwise
      this.#worker = w;
    } catch (err) {
      this.#lost(err as Error);
    }
  }

  /** batches submitted and not yet reported */
  get pending(): number {
    return this.#pending.length;
  }

  /** why the thread is gone, if it is */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** whether matching happens on the main thread (the thread could not start, died, or was closed) */
  get local(): boolean {
    return this.#worker === undefined;
  }

  submit(input: MatchInput, meta: M, lines: number): void {
    if (this.#worker === undefined) {
      this.#runLocally(input, meta);
      return;
    }
    const p: Pending<M> = { id: this.#nextId++, input, meta, lines };
    if (this.#pending.length === 0) this.#worker.ref();
    this.#pending.push(p);
    this.#backlog += lines;
    // Copied to the thread (structured clone), so that what it never answers can still be matched here.
    this.#worker.postMessage({ ...input, id: p.id } satisfies ToMatchThread);
    if (this.#backlog > MAX_BACKLOG_LINES) this.#holdBack();
  }

  /** Resolves once every batch submitted so far has been reported. */
  idle(): Promise<void> {
    if (this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Waits (at most `timeoutMs`) for the batches in flight, then ends the thread. */
  async close(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()))]);
    clearTimeout(timer);
    const w = this.#worker;
    this.#worker = undefined;
    await w?.terminate();
  }

  #answer(msg: FromMatchThread): void {
    const p = this.#pending.shift();
    if (p === undefined || p.id !== msg.id) {
      if (p !== undefined) this.#pending.unshift(p); // matched here instead, with the rest
      this.#lost(new Error(`the matching thread answered batch ${msg.id}, expected ${p?.id ?? 'none'}`));
      return;
    }
    this.#backlog -= p.lines;
    this.#deliver(msg, p.meta);
  }

  #deliver(out: BatchOut, meta: M): void {
    try {
      readResults(out.results, this.table, (r) => this.#opts.sink(r, meta));
      this.#opts.onBatch?.(out.lines, meta);
    } finally {
      if (this.#pending.length === 0) {
        this.#worker?.unref();
        for (const resolve of this.#idle.splice(0)) resolve();
      }
    }
  }

  /** Blocks until the thread has matched enough of the backlog (see the contract). */
  #holdBack(): void {
    const target = MAX_BACKLOG_LINES / 2;
    const started = Date.now();
    // Answers cannot be read while blocked (they arrive as events). `done` counts every batch the
    // thread finished; those beyond the ones already read here are the oldest still pending.
    const read = this.#nextId - this.#pending.length;
    let k = 0;
    let backlog = this.#backlog;
    for (;;) {
      const finished = Atomics.load(this.#done, 0);
      for (; k < this.#pending.length && read + k < finished; k++) backlog -= this.#pending[k]!.lines;
      if (backlog <= target || this.#worker === undefined) return;
      if (Date.now() - started > STALL_MS) {
        this.#lost(new Error(`the matching thread answered nothing for ${STALL_MS / 1000} s`));
        return;
      }
      Atomics.wait(this.#done, 0, finished, 100);
    }
  }

  /** Matches a batch here; one that fails here too (it is what killed the thread) is reported and dropped. */
  #runLocally(input: MatchInput, meta: M): void {
    let out: BatchOut;
    try {
      this.#local ??= new BatchMatcher(this.#opts.setup);
      out = this.#local.datagrams(input.bytes);
    } catch (err) {
      this.#opts.onDropped(err as Error);
      return;
    }
    this.#deliver(out, meta);
  }

  #lost(err: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = err;
    const w = this.#worker;
    this.#worker = undefined;
    void w?.terminate();
    this.#opts.onFault(err);
    const unanswered = this.#pending.splice(0);
    this.#backlog = 0;
    for (const p of unanswered) this.#runLocally(p.input, p.meta);
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
