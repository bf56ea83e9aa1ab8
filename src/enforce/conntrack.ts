/**
 * Cutting an attacker's live flows: `conntrack -D -s ADDR` and `-D -d ADDR`
 * (with `-f ipv6` for IPv6), so an established connection stops matching the
 * ESTABLISHED accept rule and meets the recent DROP rule instead.
 *
 * The Perl banban ran conntrack synchronously (about 11 ms a call), which
 * stalled line processing under attack. Measured here: every `conntrack -D`
 * walks the whole conntrack hash (262 144 buckets), about 3.3 ms of system
 * time, even for an exact tuple or an empty table, and nice hardly slows
 * kernel work down; starting conntrack costs it about 4 ms and the daemon a
 * fork. So:
 *   - calls run asynchronously from a bounded queue; when it is full the
 *     oldest request is dropped and counted (the ban itself is already in
 *     the kernel list; only the flow cut is lost);
 *   - one conntrack at a time (`concurrency`), started at most once per
 *     `gapMs` (1 s): a flood of bans gathers into a few large batches, and
 *     the daemon keeps its cores. A ban after a quiet second is cut at
 *     once. (Measured with the bench's flood of 20 000 bans: at 200 ms,
 *     lines/s right after it fell to 0.73-0.87 of the same without
 *     resetconns; at 1 s, 0.91-1.1.);
 *   - a batch first lists the table (`conntrack -L`, one walk per family)
 *     and deletes only the addresses found in it, in the direction found:
 *     under a flood most banned addresses have no live flow, so a batch of
 *     thousands costs one or two walks instead of two per address. The ban
 *     is in the kernel list before this runs, so a flow missing from the
 *     list is one the firewall refuses anyway;
 *   - the deletes of a batch run in one process, `conntrack -R FILE`
 *     (conntrack-tools 1.4.6 and later; it opens the file by name, and
 *     Node's child stdin is a socket that /dev/stdin cannot open, hence a
 *     file in a private temporary folder). An older conntrack that refuses
 *     -R is detected on the first batch with flows to cut, and banban falls
 *     back to two calls per address;
 *   - conntrack is started by a small shell the daemon forks once
 *     (spawn-helper.ts), at nice 19: a fork of the daemon itself blocks
 *     its thread (4 ms with a million windows) and makes it fault on the
 *     pages it writes afterwards, each time;
 *   - an address cut within `dedupMs` is not cut again;
 *   - a missing binary is reported once; blocking goes on without it, and the
 *     binary is looked for again after `recheckMs`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipv6Network, ownText, parseIp, type ParsedIp } from '../lib/ip.js';
import type { Logger } from '../lib/log.js';
import { SpawnHelper } from './spawn-helper.js';

export interface ConntrackOptions {
  command?: string;
  concurrency?: number;
  maxQueue?: number;
  dedupMs?: number;
  recheckMs?: number;
  timeoutMs?: number;
  /** most addresses one batch (one dump, one `conntrack -R FILE`) takes */
  batchMax?: number;
  /** least time between two conntrack starts, ms */
  gapMs?: number;
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
  readonly #batchMax: number;
  /** one shell per call that may run at once (`concurrency`), started when first needed or by `prepare` */
  readonly #shells: SpawnHelper[];
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
  readonly #gapMs: number;
  #lastStart = -Infinity;
  #gapTimer: NodeJS.Timeout | undefined;
  #idle: (() => void)[] = [];
  readonly stats: ConntrackStats = { requested: 0, completed: 0, failed: 0, dropped: 0, deduplicated: 0, skippedMissing: 0 };
  /**
   * config.ipv6Prefix: below 128 an IPv6 address to cut is a network, and a
   * batch cuts the flows of every address in it that the table shows (one
   * call per address without -R cuts only the network's own address).
   */
  ipv6Prefix = 128;

  constructor(
    readonly log: Logger,
    opts: ConntrackOptions = {},
  ) {
    this.#command = opts.command ?? 'conntrack';
    this.#concurrency = opts.concurrency ?? 1;
    this.#maxQueue = opts.maxQueue ?? 10_000;
    this.#dedupMs = opts.dedupMs ?? 10_000;
    this.#recheckMs = opts.recheckMs ?? 300_000;
    this.#shells = Array.from({ length: this.#concurrency }, () => new SpawnHelper({ timeoutMs: opts.timeoutMs ?? 30_000 }));
    this.#batchMax = opts.batchMax ?? 5000;
    this.#gapMs = opts.gapMs ?? 1000;
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
    const text = ownText(ip); // kept for dedupMs, and queued: not a view of the log line
    const last = this.#recent.get(text);
    if (last !== undefined && now - last < this.#dedupMs) {
      this.stats.deduplicated++;
      return;
    }
    // Kept in time order (delete, then set), so trimming stops at the first young entry.
    this.#recent.delete(text);
    this.#recent.set(text, now);
    this.#trimRecent(now);
    if (this.#queue.length >= this.#maxQueue) {
      this.#queue.shift();
      this.stats.dropped++;
    }
    this.#queue.push(text === ip.text ? ip : { text, family: ip.family, bytes: ip.bytes });
    // Start after this burst of datagrams has been handled, so one process takes them all.
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#pump();
        if (this.#running === 0 && this.#gapTimer === undefined) for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
  }

  /**
   * Starts the shell that runs conntrack (the one fork of the daemon it
   * costs), if it is not running: the daemon calls this at start and on a
   * reload whose config resets connections, while it is small.
   */
  prepare(): void {
    for (const s of this.#shells) s.start();
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.#running === 0 && (this.#queue.length === 0 || this.#closed) && !this.#scheduled && this.#gapTimer === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (!this.#closed && this.#running < this.#concurrency && this.#queue.length > 0) {
      // Starting conntrack costs the daemon a fork and conntrack a few ms: at most one start each
      // gapMs, so that a flood of bans gathers into a few large batches rather than many small ones.
      const wait = this.#lastStart + this.#gapMs - this.#now();
      if (wait > 0) {
        this.#gapTimer ??= setTimeout(() => {
          this.#gapTimer = undefined;
          this.#pump();
        }, wait);
        return;
      }
      this.#lastStart = this.#now();
      const batch = this.#queue.splice(0, this.#batch ? this.#batchMax : 1);
      this.#running++;
      (this.#batch ? this.#cutBatch(batch) : this.#cut(batch[0]!)).finally(() => {
        this.#running--;
        this.#pump();
        if (this.#running === 0 && this.#queue.length === 0 && this.#gapTimer === undefined) {
          for (const resolve of this.#idle.splice(0)) resolve();
        }
      });
    }
  }

  /**
   * One batch: first `conntrack -L` (one walk of the table per family)
   * tells which of these addresses have flows at all, and in which
   * direction; then one `conntrack -R FILE` deletes just those, a `-D` line
   * (a walk) per address and direction found. Under a flood most banned
   * addresses have no live flow, so a batch of 5 000 (batchMax) costs one or
   * two walks instead of ten thousand. The ban is in the kernel list before this runs,
   * so a flow that is not in the dump can only be one the firewall already
   * refuses. On a conntrack without -R, falls back for good.
   */
  async #cutBatch(ips: ParsedIp[]): Promise<void> {
    let file: string | undefined;
    try {
      if (this.#closed) return;
      const live = await this.#liveFlows(ips);
      const lines: string[] = [];
      // the addresses the table showed (those of a banned network, with ipv6_prefix), each once
      for (const [dir, found] of [['-s', live.src], ['-d', live.dst]] as const) {
        for (const addr of found) lines.push(`-D ${addr.includes(':') ? '-f ipv6 ' : ''}${dir} ${addr}\n`);
      }
      if (lines.length > 0 && !this.#closed) {
        this.#tmpDir ??= mkdtempSync(join(tmpdir(), 'banban-conntrack-'));
        file = join(this.#tmpDir, `batch-${++this.#batches}`);
        writeFileSync(file, lines.join(''), { mode: 0o600 });
        await this.#run(['-R', file]);
      }
      this.stats.completed += ips.length;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (this.#closed) return; // what was running when the daemon stopped
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

  /**
   * The addresses of `ips` (or in their networks: ipv6Prefix) that appear in
   * the conntrack table as a flow's original source, and those that appear
   * as its destination.
   */
  async #liveFlows(ips: ParsedIp[]): Promise<{ src: Set<string>; dst: Set<string> }> {
    const wanted = new Set(ips.map((ip) => ip.text));
    const prefix = this.ipv6Prefix;
    // what a shown address is banned as: itself, or its network
    const banned = (text: string): boolean => {
      if (prefix >= 128 || !text.includes(':')) return wanted.has(text);
      const ip = parseIp(text);
      return ip.ok && wanted.has(ipv6Network(ip.value, prefix).text);
    };
    const live = { src: new Set<string>(), dst: new Set<string>() };
    for (const family of [4, 6] as const) {
      if (!ips.some((ip) => ip.family === family)) continue;
      await this.#list(family === 6 ? ['-L', '-f', 'ipv6'] : ['-L'], (line) => {
        // `tcp 6 431999 ESTABLISHED src=A dst=B sport=.. dport=.. src=B dst=A ...`: the first pair is the original direction.
        const src = field(line, 'src=');
        const dst = field(line, 'dst=');
        if (src !== undefined && banned(src)) live.src.add(src);
        if (dst !== undefined && banned(dst)) live.dst.add(dst);
      });
    }
    return live;
  }

  /** Runs conntrack and hands over its standard output line by line (a busy table is large). */
  async #list(args: string[], each: (line: string) => void): Promise<void> {
    const r = await this.#shell().run(this.#command, args, each);
    // conntrack -L ends with "N flow entries have been shown." on stderr, exit 0
    if (r.code !== 0) throw new Error(`conntrack ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  /** The shell with the fewest calls waiting. */
  #shell(): SpawnHelper {
    let best = this.#shells[0]!;
    for (const s of this.#shells) if (s.pending < best.pending) best = s;
    return best;
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
      if (this.#closed) return;
      if (e.code === 'ENOENT') return this.#missing();
      this.stats.failed++;
      this.log.warn({ ip: ip.text, err: e.message }, 'conntrack failed to delete flows');
    }
  }

  async #run(args: string[]): Promise<void> {
    const r = await this.#shell().run(this.#command, args);
    if (r.code === 0) return;
    // Exit 1 with "0 flow entries have been deleted" only means there was nothing to cut.
    if (r.code === 1 && /\b0 flow entries/.test(r.stderr)) return;
    throw new Error(`conntrack ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  /** Stops taking work and removes the temporary folder (shutdown, tests); a call already running finishes, then its shell ends. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    for (const resolve of this.#idle.splice(0)) resolve();
    this.#queue.length = 0;
    for (const s of this.#shells) s.close();
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

/**
 * The value after the first `name` in a conntrack line, as an address in
 * banban's canonical text. conntrack prints addresses with inet_ntop, which
 * is the same form, except that it writes an IPv6 address with 96 leading
 * zero bits the deprecated IPv4-compatible way (`::192.0.2.1`): those, and
 * only those, are parsed again.
 */
function field(line: string, name: string): string | undefined {
  const at = line.indexOf(name);
  if (at < 0) return undefined;
  const end = line.indexOf(' ', at);
  const text = line.slice(at + name.length, end < 0 ? line.length : end);
  if (!text.includes('.') || !text.includes(':')) return text;
  const ip = parseIp(text);
  return ip.ok ? ip.value.text : undefined;
}
