/**
 * Cutting an attacker's live flows: `conntrack -D -s ADDR` and `-D -d ADDR`
 * (with `-f ipv6` for IPv6), so an established connection stops matching the
 * ESTABLISHED accept rule and meets the recent DROP rule instead.
 *
 * The Perl banban ran conntrack synchronously (about 11 ms a call), which
 * stalled line processing under attack. Here:
 *   - calls run asynchronously, at most `concurrency` at once, from a bounded
 *     queue; when the queue is full the oldest request is dropped and counted
 *     (the ban itself is already in the kernel list; only the flow cut is lost);
 *   - an address cut within `dedupMs` is not cut again;
 *   - a missing binary is reported once; blocking goes on without it, and the
 *     binary is looked for again after `recheckMs`.
 */
import { execFile } from 'node:child_process';
import type { ParsedIp } from '../lib/ip.js';
import type { Logger } from '../lib/log.js';

export interface ConntrackOptions {
  command?: string;
  concurrency?: number;
  maxQueue?: number;
  dedupMs?: number;
  recheckMs?: number;
  timeoutMs?: number;
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
  readonly #now: () => number;
  readonly #queue: ParsedIp[] = [];
  readonly #recent = new Map<string, number>();
  #running = 0;
  #missingSince: number | undefined;
  #idle: (() => void)[] = [];
  readonly stats: ConntrackStats = { requested: 0, completed: 0, failed: 0, dropped: 0, deduplicated: 0, skippedMissing: 0 };

  constructor(
    readonly log: Logger,
    opts: ConntrackOptions = {},
  ) {
    this.#command = opts.command ?? 'conntrack';
    this.#concurrency = opts.concurrency ?? 4;
    this.#maxQueue = opts.maxQueue ?? 10_000;
    this.#dedupMs = opts.dedupMs ?? 10_000;
    this.#recheckMs = opts.recheckMs ?? 300_000;
    this.#timeoutMs = opts.timeoutMs ?? 5_000;
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
    const last = this.#recent.get(ip.text);
    if (last !== undefined && now - last < this.#dedupMs) {
      this.stats.deduplicated++;
      return;
    }
    this.#recent.set(ip.text, now);
    if (this.#recent.size > this.#maxQueue * 2) this.#trimRecent(now);
    if (this.#queue.length >= this.#maxQueue) {
      this.#queue.shift();
      this.stats.dropped++;
    }
    this.#queue.push(ip);
    this.#pump();
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0) {
      const ip = this.#queue.shift()!;
      this.#running++;
      this.#cut(ip).finally(() => {
        this.#running--;
        this.#pump();
        if (this.#running === 0 && this.#queue.length === 0) {
          for (const resolve of this.#idle.splice(0)) resolve();
        }
      });
    }
  }

  async #cut(ip: ParsedIp): Promise<void> {
    const family = ip.family === 6 ? ['-f', 'ipv6'] : [];
    try {
      await Promise.all([this.#run([...family, '-D', '-s', ip.text]), this.#run([...family, '-D', '-d', ip.text])]);
      this.stats.completed++;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') {
        if (this.#missingSince === undefined) {
          this.log.warn(
            { command: this.#command },
            'conntrack not found: blocked addresses keep their open connections (install the conntrack package); blocking goes on',
          );
        }
        this.#missingSince = this.#now();
        this.#queue.length = 0;
        return;
      }
      this.stats.failed++;
      this.log.warn({ ip: ip.text, err: e.message }, 'conntrack failed to delete flows');
    }
  }

  #run(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(this.#command, args, { timeout: this.#timeoutMs, windowsHide: true }, (err, _stdout, stderr) => {
        if (err === null) return resolve();
        // Exit 1 with "0 flow entries have been deleted" only means there was nothing to cut.
        if (typeof err.code === 'number' && err.code === 1 && /\b0 flow entries/.test(String(stderr))) return resolve();
        reject(err.code === 'ENOENT' ? err : new Error(`conntrack ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      });
    });
  }

  #trimRecent(now: number): void {
    for (const [ip, at] of this.#recent) if (now - at >= this.#dedupMs) this.#recent.delete(ip);
  }
}
