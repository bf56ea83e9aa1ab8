/**
 * Matching on a thread of its own, so that the main thread, which reads the
 * socket and owns the engine, spends its time on little else.
 *
 * The main thread `add`s datagrams as they arrive (they go straight into a
 * ring both threads share, datagram-ring.ts) and `flush`es at the end of
 * each wake-up: the datagrams added since become one batch, stamped with
 * `meta()` (the daemon: the receive time).
 *
 * Contract:
 *   - batches are matched in the order made and their lines reported to
 *     `sink` in that order, each with its batch's meta;
 *   - the thread decides nothing (batch-matcher.ts): what the engine hears
 *     is what it would have heard matching the lines itself;
 *   - back-pressure: when the ring is full, `add` blocks the main thread
 *     until the matching thread has answered for enough of it. That stops
 *     the reading, so the kernel's socket queue fills and the syslog daemon
 *     waits, exactly as when one thread does it all; memory is the ring's
 *     RING_BYTES, whatever is sent;
 *   - while the main thread is busy at most LOCAL_BUSY_MAX of its time
 *     (measured over LOAD_WINDOW_MS: the CPU time it ran, given `cpu`;
 *     without it, the wall time from each wake-up's first datagram to the
 *     end of its flush, and the applying of the thread's answers), it
 *     matches every batch itself, LOCAL_CHUNK datagrams at a time, as they
 *     are read, unless wake-ups left the queue unemptied for more than
 *     FLOOD_FULL of the datagrams FLOOD_WINDOWS windows in a row. A hop to
 *     the thread and back costs more than matching: in the bench's traces,
 *     117 µs to start and 76 µs to come back at the median, and
 *     milliseconds when the two cores are taken, for 21 µs of matching. Busier than that, it hands batches over (a flood), and
 *     takes over again once it is busy less than LOCAL_BUSY_BACK;
 *   - then, a small batch that finds the thread with nothing to do (one
 *     attack line on a quiet server) is still matched here at once
 *     (measured: ban latency p50 1.0 ms through the thread when idle).
 *     Order is kept either way: a batch is matched here only when none is
 *     pending;
 *   - if the thread dies (a bug, a resource limit), never starts, stops
 *     answering, or has not answered when `close` gives up waiting, the
 *     error is reported to `onFault` once, and from then on, starting with
 *     the batches it had not answered, lines are matched on the main
 *     thread, from the same ring: no line is lost. A batch the thread had
 *     finished, but whose answer had not been read when it was given up
 *     (its bytes already reused), is reported when that answer arrives,
 *     after the lines matched here meanwhile: late, not lost. Only if the
 *     thread exits without it is the batch reported to `onDropped`.
 */
import { Worker } from 'node:worker_threads';
import { BatchMatcher, type BatchMatcherSetup, type BatchOut } from './batch-matcher.js';
import { RingWriter } from './datagram-ring.js';
import { readResults, RuleTable, type LineReport } from './match-wire.js';

export type ToMatchThread = { id: number; start: number; count: number };
/** a batch's answer */
export type MatchAnswer = { id: number } & BatchOut;
/** an answer, or word that the thread failed (the reason is in shared memory: STARTED) */
export type FromMatchThread = MatchAnswer | { failed: true };

/**
 * The shared ring: about 8 000 syslog lines of 120 bytes can wait in it,
 * eight full batches. Every byte of it is resident once a flood has gone
 * round it, so it is no bigger than keeping both threads busy needs.
 */
export const RING_BYTES = 1024 * 1024;
/** datagrams per batch at most: a wake-up reads up to DRAIN_MAX + 1 (source/syslog-socket.ts) */
export const BATCH_MAX = 1024;
/** a batch this small, with none pending, is matched on the calling thread */
export const LOCAL_BATCH_MAX = 16;
/**
 * the main thread's share of busy time up to which it matches every batch
 * itself. Handing over takes little off it (matching is about a sixth of
 * its work per line), and a line through the thread waits ten times as
 * long: so only near saturation. At 50 000 lines/s the bench's main thread
 * runs 0.37-0.44 of the time, in some windows 0.64.
 */
export const LOCAL_BUSY_MAX = 0.8;
/** ... and, handing over, the share under which it takes every batch back */
export const LOCAL_BUSY_BACK = 0.6;
/**
 * A flood whatever the CPU time says: more than this share of a window's
 * datagrams came in wake-ups that read `wakeMax` and left the queue
 * unemptied. On two cores taken by the sender and the kernel, the main
 * thread under a flood runs only 0.65-0.73 of the time, and 75-81% of the
 * datagrams come in such wake-ups; under the bench's 50 000 lines/s
 * stream 0.6-1.4% do (in one 100 ms window of 247, 58%: a stall's backlog).
 */
export const FLOOD_FULL = 0.5;
/** ... and the share under which it is over */
export const FLOOD_FULL_BACK = 0.25;
/**
 * ... for this many windows in a row: the backlog of a stall (the first
 * save's, in the bench) fills a window or two, and a thread handed a batch
 * after idling for minutes took 10-112 ms to answer it
 */
export const FLOOD_WINDOWS = 3;
/** ... measured over this long, ms */
export const LOAD_WINDOW_MS = 100;
/** ... and, meanwhile, datagrams matched at a time as they are read: a ban waits for its chunk, not its whole wake-up */
export const LOCAL_CHUNK = 32;
/** the matching thread's young generation, MiB: what a batch allocates dies with it (see main.ts) */
const YOUNG_GENERATION_MB = 3;
/** how long `add` waits for a thread that answers nothing before giving up on it */
const STALL_MS = 10_000;
/** ... and for one that has not said it started (it takes well under a second, even on a busy machine) */
const START_STALL_MS = 2_000;

/**
 * The shared `progress` words: [0] batches the thread has finished, a
 * 32-bit count that wraps (the main thread waits on it), [STARTED] the
 * thread's state: 0 not started yet, START_READY, START_FAILED, or
 * THREAD_FAILED (a batch threw), with the reason's length in
 * [START_REASON_LENGTH] and its UTF-8 bytes after the words. A failure is
 * said here first, then by a message ({failed: true}), which cannot reach
 * a main thread blocked waiting for room in the ring; the thread throws
 * nothing (match-worker.ts says why).
 */
export const STARTED = 1;
export const START_READY = 1;
export const START_FAILED = -1;
export const THREAD_FAILED = -2;
export const START_REASON_LENGTH = 2;
export const START_REASON_AT = 12;
export const START_REASON_BYTES = 256;

export interface MatchThreadOptions<M> {
  setup: BatchMatcherSetup;
  /** the stamp a batch gets when it is closed */
  meta: () => M;
  /** one call per line that has something to say, in order */
  sink: (report: LineReport, meta: M) => void;
  /** the thread is gone (once): from now on lines are matched on this one */
  onFault: (err: Error) => void;
  /** a batch could not be matched on this thread either: its lines are lost, this says why */
  onDropped: (err: Error) => void;
  /** ring size, for tests */
  ringBytes?: number;
  /** LOCAL_BATCH_MAX; 0 sends every batch to the thread (tests, with localBusyMax 0) */
  localBatchMax?: number;
  /** LOCAL_BUSY_MAX; 0: batches are matched here only by localBatchMax's rule (tests) */
  localBusyMax?: number;
  /** the wall clock windows are timed with, ms (tests) */
  now?: () => number;
  /** where the datagrams handed to the thread are counted (the daemon's stats: one count across reloads) */
  tally?: { handedOver: number };
  /**
   * datagrams a wake-up reads at most (the socket's DRAIN_MAX + 1): one
   * that read this many left datagrams queued (FLOOD_FULL). Without it,
   * only the CPU time decides
   */
  wakeMax?: number;
  /**
   * the calling (main) thread's CPU time, ms (lib/clock.ts threadCpuClock):
   * its growth over a window is the busy time. Without it, or when it
   * reads NaN, busy is the wall time from wake-ups to flushes, which on a
   * machine whose cores are taken counts the time the thread was preempted
   * (in the bench's traces that sent a third of the probes to the thread,
   * at ten times the latency)
   */
  cpu?: () => number;
  /** the thread's script, for tests (a thread that fails on purpose) */
  workerScript?: URL;
  /** START_STALL_MS, for tests */
  startStallMs?: number;
  /** STALL_MS, for tests */
  stallMs?: number;
}

interface Batch<M> {
  id: number;
  /** of the batches handed to the thread, which this is (0, 1, ...: a 32-bit count that wraps, as the thread's does) */
  handed: number;
  start: number;
  count: number;
  /** ring bytes its records took */
  bytes: number;
  meta: M;
  /** its bytes were given back before its answer was read (the thread had finished it) */
  released: boolean;
}

export class MatchThread<M> {
  readonly table: RuleTable;
  readonly #opts: MatchThreadOptions<M>;
  readonly #ring: RingWriter;
  readonly #done: Int32Array;
  #worker: Worker | undefined;
  /** for batches matched here: small ones, and all once the thread is gone */
  readonly #local: BatchMatcher;
  /** handed to the thread, not yet answered, oldest first */
  readonly #pending: Batch<M>[] = [];
  /** finished by a thread that was then given up, their answers not yet read (#lost) */
  readonly #orphans: Batch<M>[] = [];
  /** the batch being gathered */
  #open = { start: 0, count: 0, bytes: 0 };
  #nextId = 0;
  /** batches handed to the thread so far (local ones take an id but are not counted here) */
  #handed = 0;
  #idle: (() => void)[] = [];
  #failure: Error | undefined;
  /** matching every batch here (LOCAL_BUSY_MAX), or handing over all but small ones */
  #localMode: boolean;
  readonly #now: () => number;
  /** when the wake-up under way added its first datagram, -1 when none is open */
  #wakeStart = -1;
  /** busy time in the window that started at #windowStart, ms, by the wall clock */
  #busy = 0;
  #windowStart: number;
  /** the CPU clock's reading at #windowStart (NaN without one) */
  #windowCpu: number;
  /** datagrams added in the wake-up under way */
  #wakeCount = 0;
  /** datagrams of the window's ended wake-ups, and of those among them that read `wakeMax` (the queue was not emptied) */
  #windowDatagrams = 0;
  #windowFull = 0;
  /** windows in a row with more than FLOOD_FULL of their datagrams in full wake-ups */
  #floodWindows = 0;

  constructor(opts: MatchThreadOptions<M>) {
    this.#opts = opts;
    this.#now = opts.now ?? (() => performance.now());
    this.#windowStart = this.#now();
    this.#windowCpu = opts.cpu?.() ?? NaN;
    this.#localMode = (opts.localBusyMax ?? LOCAL_BUSY_MAX) > 0;
    this.table = new RuleTable(opts.setup.matcher);
    // Made now, not with the first small batch: that batch is a ban waiting.
    this.#local = new BatchMatcher(opts.setup);
    const ring = new SharedArrayBuffer(opts.ringBytes ?? RING_BYTES);
    this.#ring = new RingWriter(ring);
    const progress = new SharedArrayBuffer(START_REASON_AT + START_REASON_BYTES);
    this.#done = new Int32Array(progress);
    try {
      const w = new Worker(opts.workerScript ?? new URL('./match-worker.js', import.meta.url), {
        workerData: { setup: opts.setup, progress, ring },
        resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      });
      w.on('message', (msg: FromMatchThread) => {
        // a late answer of a thread given up is still read (#answer); its late word of failure is not news
        if (!('failed' in msg)) this.#answer(msg);
        else if (this.#worker === w) this.#lost(this.#saidFailure() ?? new Error('the matching thread failed'));
      });
      w.on('error', (err) => this.#lost(err));
      w.on('exit', (code) => {
        if (this.#worker === w) this.#lost(new Error(`the matching thread exited (code ${code})`));
        // Its messages have all been delivered by now: an answer still owed will not come.
        for (const b of this.#orphans.splice(0)) this.#opts.onDropped(new Error(`batch ${b.id} (${b.count} datagrams) was matched by the thread, which exited before its answer was read`));
        this.#wakeIfIdle();
      });
      w.unref(); // kept alive by the batches it owes (#hand refs it), not otherwise
      this.#worker = w;
    } catch (err) {
      this.#lost(err as Error);
    }
  }

  /** batches handed to the thread and not yet reported */
  get pending(): number {
    return this.#pending.length;
  }

  /** why the thread is gone, if it is */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** whether the thread is gone (could not start, died, or was closed), so that every batch is matched here */
  get threadGone(): boolean {
    return this.#worker === undefined;
  }

  /** whether every batch is matched here for now, the main thread not being busy (LOCAL_BUSY_MAX) */
  get matchingHere(): boolean {
    return this.#localMode;
  }

  /** One datagram, copied into the ring: use the buffer as you like once this returns. */
  add(datagram: Uint8Array): void {
    if (this.#wakeStart < 0) this.#wakeStart = this.#now();
    let taken = this.#ring.write(datagram);
    if (taken === 0) {
      this.#flushBatch();
      this.#makeRoom(datagram);
      taken = this.#ring.write(datagram);
      if (taken === 0) throw new Error('no room in the ring after waiting for it');
    }
    if (this.#open.count === 0) this.#open.start = this.#ring.head - 4 - datagram.length;
    this.#open.count++;
    this.#open.bytes += taken;
    this.#wakeCount++;
    if (this.#open.count >= BATCH_MAX || (this.#localMode && this.#open.count >= LOCAL_CHUNK && this.#pending.length === 0)) this.#flushBatch();
  }

  /** The end of a wake-up: the datagrams added since the last flush become a batch. */
  flush(): void {
    if (this.#wakeCount > 0) {
      this.#windowDatagrams += this.#wakeCount;
      if (this.#opts.wakeMax !== undefined && this.#wakeCount >= this.#opts.wakeMax) this.#windowFull += this.#wakeCount;
      this.#wakeCount = 0;
    }
    this.#flushBatch();
  }

  #flushBatch(): void {
    const open = this.#open;
    if (open.count === 0) return;
    this.#open = { start: 0, count: 0, bytes: 0 };
    const batch: Batch<M> = { id: this.#nextId++, handed: -1, start: open.start, count: open.count, bytes: open.bytes, meta: this.#opts.meta(), released: false };
    if (this.#worker === undefined || (this.#pending.length === 0 && (this.#localMode || batch.count <= (this.#opts.localBatchMax ?? LOCAL_BATCH_MAX)))) {
      this.#runLocally(batch);
    } else {
      if (this.#pending.length === 0) this.#worker.ref();
      if (this.#opts.tally) this.#opts.tally.handedOver += batch.count;
      batch.handed = this.#handed;
      this.#handed = (this.#handed + 1) | 0;
      this.#pending.push(batch);
      this.#worker.postMessage({ id: batch.id, start: batch.start, count: batch.count } satisfies ToMatchThread);
    }
    if (this.#wakeStart >= 0) {
      this.#busySince(this.#wakeStart);
      this.#wakeStart = -1;
    }
  }

  /**
   * Counts the main thread busy from `since` until now, and at the end of
   * each LOAD_WINDOW_MS decides whether it goes on matching every batch
   * here: busy at most LOCAL_BUSY_MAX of the window to stay, less than
   * LOCAL_BUSY_BACK (or localBusyMax, if lower) to come back (handing over
   * takes its matching off it).
   * Busy is the CPU time the thread ran in the window when the CPU clock
   * reads, else the wake-ups' wall time.
   */
  #busySince(since: number): void {
    const now = this.#now();
    this.#busy += now - since;
    const span = now - this.#windowStart;
    if (span < LOAD_WINDOW_MS) return;
    const cpu = this.#opts.cpu?.() ?? NaN;
    const ran = cpu - this.#windowCpu;
    const share = (Number.isNaN(ran) ? this.#busy : ran) / span;
    const most = this.#opts.localBusyMax ?? LOCAL_BUSY_MAX;
    const full = this.#windowDatagrams > 0 ? this.#windowFull / this.#windowDatagrams : 0;
    this.#floodWindows = full > FLOOD_FULL ? this.#floodWindows + 1 : 0;
    this.#localMode = this.#localMode ? share <= most && this.#floodWindows < FLOOD_WINDOWS : share < Math.min(LOCAL_BUSY_BACK, most) && full < FLOOD_FULL_BACK;
    this.#windowDatagrams = 0;
    this.#windowFull = 0;
    this.#busy = 0;
    this.#windowStart = now;
    this.#windowCpu = cpu;
  }

  /** Resolves once every batch flushed so far has been reported (or, for a late one, dropped). */
  idle(): Promise<void> {
    if (this.#settled()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #settled(): boolean {
    return this.#pending.length === 0 && this.#orphans.length === 0;
  }

  #wakeIfIdle(): void {
    if (this.#settled()) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /**
   * Flushes, waits (at most `timeoutMs`) for the batches in flight, then
   * ends the thread. Batches still unanswered then are matched here, as
   * when the thread fails.
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.flush();
    const settle = async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()))]);
      clearTimeout(timer);
    };
    await settle();
    if (this.#pending.length > 0) {
      this.#lost(new Error(`the matching thread had not answered ${this.#pending.length} batches ${timeoutMs / 1000} s after it was asked to finish`));
      await settle(); // answers of batches it had finished, on their way
    }
    const w = this.#worker;
    this.#worker = undefined;
    await w?.terminate();
  }

  #answer(msg: MatchAnswer): void {
    const started = this.#now();
    try {
      this.#apply(msg);
    } finally {
      this.#busySince(started);
    }
  }

  #apply(msg: MatchAnswer): void {
    const orphan = this.#orphans.findIndex((o) => o.id === msg.id);
    if (orphan >= 0) {
      const [late] = this.#orphans.splice(orphan, 1);
      this.#deliver(msg, late!.meta);
      return;
    }
    const b = this.#pending[0];
    if (b === undefined || b.id !== msg.id) {
      this.#lost(new Error(`the matching thread answered batch ${msg.id}, expected ${b?.id ?? 'none'}`));
      return;
    }
    this.#pending.shift();
    if (!b.released) this.#ring.release(b.bytes);
    this.#deliver(msg, b.meta);
  }

  #deliver(out: BatchOut, meta: M): void {
    try {
      readResults(out.results, this.table, (r) => this.#opts.sink(r, meta));
    } finally {
      if (this.#pending.length === 0) this.#worker?.unref();
      this.#wakeIfIdle();
    }
  }

  /**
   * Blocks until the thread has finished enough batches for `datagram` to
   * fit. Their answers cannot be read while blocked (they arrive as
   * events): their bytes are given back now, their answers read later.
   * Nor can the thread's 'error' event: a thread that failed to start says
   * so in shared memory, and one that says nothing is given up on after
   * START_STALL_MS (STALL_MS once it has started).
   */
  #makeRoom(datagram: Uint8Array): void {
    const started = Date.now();
    let k = 0;
    for (;;) {
      if (this.#worker === undefined) return; // #lost matched everything here: the ring is empty
      const finished = Atomics.load(this.#done, 0);
      for (; k < this.#pending.length && ((finished - this.#pending[k]!.handed) | 0) > 0; k++) {
        const b = this.#pending[k]!;
        if (!b.released) {
          this.#ring.release(b.bytes);
          b.released = true;
        }
      }
      if (this.#ring.cost(datagram.length) > 0) return;
      const said = this.#saidFailure();
      if (said !== undefined) {
        this.#lost(said);
        return;
      }
      const start = Atomics.load(this.#done, STARTED);
      const limit = start === START_READY ? (this.#opts.stallMs ?? STALL_MS) : (this.#opts.startStallMs ?? START_STALL_MS);
      if (Date.now() - started > limit) {
        this.#lost(new Error(start === START_READY ? `the matching thread answered nothing for ${limit / 1000} s` : `the matching thread did not start within ${limit / 1000} s`));
        return;
      }
      Atomics.wait(this.#done, 0, finished, Math.min(100, limit));
    }
  }

  /** The failure the thread said in shared memory (STARTED), with its reason, if it said one. */
  #saidFailure(): Error | undefined {
    const start = Atomics.load(this.#done, STARTED);
    if (start !== START_FAILED && start !== THREAD_FAILED) return undefined;
    const length = Math.min(START_REASON_BYTES, Atomics.load(this.#done, START_REASON_LENGTH));
    const reason = Buffer.from(this.#done.buffer, START_REASON_AT, length).toString('utf8');
    return new Error(`the matching thread ${start === START_FAILED ? 'failed to start' : 'failed'}: ${reason}`);
  }

  /** Matches a batch here; one that fails here too (it is what killed the thread) is reported and dropped. */
  #runLocally(b: Batch<M>): void {
    let out: BatchOut | undefined;
    try {
      out = this.#local.datagrams(this.#ring.bytes, b.start, b.count);
    } catch (err) {
      this.#opts.onDropped(err as Error);
    } finally {
      if (!b.released) this.#ring.release(b.bytes);
    }
    if (out) this.#deliver(out, b.meta);
  }

  #lost(err: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = err;
    const w = this.#worker;
    this.#worker = undefined;
    void w?.terminate();
    this.#opts.onFault(err);
    for (const b of this.#pending.splice(0)) {
      if (b.released) this.#orphans.push(b); // its answer may still be on its way: #answer
      else this.#runLocally(b);
    }
    this.#wakeIfIdle();
  }
}
