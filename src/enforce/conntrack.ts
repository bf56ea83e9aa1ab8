/**
 * Cutting an attacker's live flows: `conntrack -D -s ADDR` and `-D -d ADDR`
 * (with `-f ipv6` for IPv6), so an established connection stops matching the
 * ESTABLISHED accept rule and meets the recent DROP rule instead.
 *
 * The Perl banban ran conntrack synchronously (about 11 ms a call), which
 * stalled line processing under attack. Here:
 *   - calls run asynchronously, at most `concurrency` (1) at once, from a bounded
 *     queue; when the queue is full the oldest request is dropped and counted
 *     (the ban itself is already in the kernel list; only the flow cut is lost);
 *   - one process serves many addresses: `conntrack -R FILE` reads `-D -s ADDR`
 *     lines from a file (conntrack-tools 1.4.6 and later; it opens the file
 *     by name, and Node's child stdin is a socket that /dev/stdin cannot
 *     open, hence a file in a private temporary folder), so a burst of
 *     bans costs a few forks, not two per address. Forking a large process
 *     is the expensive part for the daemon; each delete's kernel time
 *     (about 3 ms here, however it is asked for) is spent in the child, on
 *     the other core. An older conntrack that refuses -R is detected on the
 *     first batch, and banban falls back to two calls per address;
 *   - conntrack runs at nice 19, so its kernel work yields the CPU to the
 *     daemon's line processing, as far as kernel work yields at all: each
 *     `-D` walks the whole conntrack hash (262 144 buckets here), about
 *     3.3 ms of system time, even with an exact tuple or an empty table, and
 *     nice does little against that. One process at a time leaves the daemon
 *     at least one core: measured, lines/s right after a flood of 20 000
 *     bans went from 0.52 to 0.67 of the same without resetconns (README,
 *     Benchmarks, 3);
 *   - an address cut within `dedupMs` is not cut again;
 *   - a missing binary is reported once; blocking goes on without it, and the
 *     binary is looked for again after `recheckMs`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ParsedIp } from '../lib/ip.js';
import type { Logger } from '../lib/log.js';

export interface ConntrackOptions {
  command?: string;
  concurrency?: number;
  maxQueue?: number;
  dedupMs?: number;
  recheckMs?: number;
  timeoutMs?: number;
  /** most addresses one `conntrack -R -` is given */
  batchMax?: number;
  /** start in batch mode (true) or one call per address */
  batch?: boolean;
  now?: () => number;
}

export interface ConntrackStats {
  requested: number;
  completed: number;
  failed: number;
  dropped: number;
  deduplicated: number;
  skippedMissing: number;
}

export class ConntrackKiller {
  readonly #command: string;
  readonly #concurrency: number;
  readonly #maxQueue: number;
  readonly #dedupMs: number;
  readonly #recheckMs: number;
  readonly #timeoutMs: number;
  readonly #batchMax: number;
  readonly #now: () => number;
  /** whether this conntrack reads batches (-R); cleared on the first refusal */
  #batch: boolean;
  readonly #queue: ParsedIp[] = [];
  readonly #recent = new Map<string, number>();
  #running = 0;
  #scheduled = false;
  #closed = false;
  #tmpDir: string | undefined;
  #batches = 0;
  #missingSince: number | undefined;
  #idle: (() => void)[] = [];
  readonly stats: ConntrackStats = { requested: 0, completed: 0, failed: 0, dropped: 0, deduplicated: 0, skippedMissing: 0 };

  constructor(
    readonly log: Logger,
    opts: ConntrackOptions = {},
  ) {
    this.#command = opts.command ?? 'conntrack';
    this.#concurrency = opts.concurrency ?? 1;
    this.#maxQueue = opts.maxQueue ?? 10_000;
    this.#dedupMs = opts.dedupMs ?? 10_000;
    this.#recheckMs = opts.recheckMs ?? 300_000;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#batchMax = opts.batchMax ?? 500;
    this.#batch = opts.batch ?? true;
    this.#now = opts.now ?? Date.now;
  }

  /** Queues the flow cut for this address; returns at once. */
  kill(ip: ParsedIp): void {
    this.stats.requested++;
    const now = this.#now();
    if (this.#missingSince !== undefined) {
      if (now - this.#missingSince < this.#recheckMs) {
        this.stats.skippedMissing++;
        return;
      }
      this.#missingSince = undefined;
    }
    if (this.#closed) return;
    const last = this.#recent.get(ip.text);
    if (last !== undefined && now - last < this.#dedupMs) {
      this.stats.deduplicated++;
      return;
    }
    // Kept in time order (delete, then set), so trimming stops at the first young entry.
    this.#recent.delete(ip.text);
    this.#recent.set(ip.text, now);
    this.#trimRecent(now);
    if (this.#queue.length >= this.#maxQueue) {
      this.#queue.shift();
      this.stats.dropped++;
    }
    this.#queue.push(ip);
    // Start after this burst of datagrams has been handled, so one process takes them all.
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#pump();
        if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.#running === 0 && (this.#queue.length === 0 || this.#closed) && !this.#scheduled) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (!this.#closed && this.#running < this.#concurrency && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#batch ? this.#batchMax : 1);
      this.#running++;
      (this.#batch ? this.#cutBatch(batch) : this.#cut(batch[0]!)).finally(() => {
        this.#running--;
        this.#pump();
        if (this.#running === 0 && this.#queue.length === 0) {
          for (const resolve of this.#idle.splice(0)) resolve();
        }
      });
    }
  }

  /** `conntrack -R FILE` with two delete lines per address; on a conntrack without -R, falls back for good. */
  async #cutBatch(ips: ParsedIp[]): Promise<void> {
    const lines = ips.map((ip) => {
      const family = ip.family === 6 ? '-f ipv6 ' : '';
      return `-D ${family}-s ${ip.text}\n-D ${family}-d ${ip.text}\n`;
    });
    let file: string | undefined;
    try {
      if (this.#closed) return;
      this.#tmpDir ??= mkdtempSync(join(tmpdir(), 'banban-conntrack-'));
      file = join(this.#tmpDir, `batch-${++this.#batches}`);
      writeFileSync(file, lines.join(''), { mode: 0o600 });
      await this.#run(['-R', file]);
      this.stats.completed += ips.length;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') return this.#missing();
      if (/invalid option|unknown option|illegal option|load-file/i.test(e.message)) {
        this.log.info({ err: e.message }, 'this conntrack cannot read batches (-R, conntrack-tools 1.4.6+): cutting flows one address at a time');
        this.#batch = false;
        this.#queue.unshift(...ips);
        return;
      }
      this.stats.failed += ips.length;
      this.log.warn({ addresses: ips.length, sample: ips.slice(0, 3).map((i) => i.text), err: e.message }, 'conntrack failed to delete flows');
    } finally {
      if (file !== undefined) rmSync(file, { force: true });
    }
  }

  #missing(): void {
    if (this.#missingSince === undefined) {
      this.log.warn({ command: this.#command }, 'conntrack not found: blocked addresses keep their open connections (install the conntrack package); blocking goes on');
    }
    this.#missingSince = this.#now();
    this.#queue.length = 0;
  }

  async #cut(ip: ParsedIp): Promise<void> {
    const family = ip.family === 6 ? ['-f', 'ipv6'] : [];
    try {
      await Promise.all([this.#run([...family, '-D', '-s', ip.text]), this.#run([...family, '-D', '-d', ip.text])]);
      this.stats.completed++;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') return this.#missing();
      this.stats.failed++;
      this.log.warn({ ip: ip.text, err: e.message }, 'conntrack failed to delete flows');
    }
  }

  #run(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = execFile(this.#command, args, { timeout: this.#timeoutMs, windowsHide: true, maxBuffer: 4 << 20 }, (err, _stdout, stderr) => {
        if (err === null) return resolve();
        // Exit 1 with "0 flow entries have been deleted" only means there was nothing to cut.
        if (typeof err.code === 'number' && err.code === 1 && /\b0 flow entries/.test(String(stderr))) return resolve();
        reject(err.code === 'ENOENT' ? err : new Error(`conntrack ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      });
      // A delete costs conntrack milliseconds of CPU: on a small machine it must not starve the daemon's own line processing.
      if (child.pid !== undefined) {
        try {
          setPriority(child.pid, 19);
        } catch {
          // already gone
        }
      }
    });
  }

  /** Stops taking work and removes the temporary folder (shutdown, tests); calls already running finish on their own. */
  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    if (this.#tmpDir !== undefined) rmSync(this.#tmpDir, { recursive: true, force: true });
    this.#tmpDir = undefined;
  }

  /** Drops dedup entries older than dedupMs, and the oldest beyond a hard cap: amortised O(1) per kill. */
  #trimRecent(now: number): void {
    for (const [ip, at] of this.#recent) {
      if (now - at < this.#dedupMs && this.#recent.size <= this.#maxQueue * 4) break;
      this.#recent.delete(ip);
    }
  }
}
