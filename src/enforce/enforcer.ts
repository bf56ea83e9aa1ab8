/**
 * Applies decisions to the kernel lists, and never loses one.
 *
 *   - block: `+ADDR` to the target's list, then (resetconns) the conntrack cut;
 *   - unblock: `-ADDR` to every target, and any pending block of it cancelled;
 *   - a write that fails (list missing because no rule names it yet, or was
 *     flushed away; any other /proc error) is kept as pending, reported with
 *     what to do (rate-limited), and retried by `retryPending`, which the
 *     daemon calls every few seconds; for each (target, address) only the
 *     latest command is kept, so a later unblock supersedes a pending block;
 *   - the addresses written to each list are counted, and a warning is given
 *     when a list holds more than the kernel's ip_list_tot, because the
 *     kernel then silently forgets the oldest.
 */
import type { ParsedIp } from '../lib/ip.js';
import { RateLimiter, type Logger } from '../lib/log.js';
import type { Decision } from '../pipeline.js';
import type { ListWriter } from './backend.js';
import type { ConntrackKiller } from './conntrack.js';
import { missingListHint } from './xt-recent.js';

export interface EnforcerOptions {
  writer: ListWriter;
  log: Logger;
  conntrack?: ConntrackKiller | undefined;
  /** the kernel's ip_list_tot, when known */
  capacity?: number | undefined;
  /** log what would be written, write nothing */
  dryRun?: boolean;
  /** most addresses remembered per list and pending in all */
  maxEntries?: number;
  now?: () => number;
}

type Op = '+' | '-';

export class Enforcer {
  readonly #writer: ListWriter;
  readonly #log: Logger;
  readonly #conntrack: ConntrackKiller | undefined;
  readonly #capacity: number | undefined;
  readonly #dryRun: boolean;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** target -> address -> command not yet accepted by the kernel */
  readonly #pending = new Map<string, Map<string, { op: Op; ip: ParsedIp }>>();
  /** target -> addresses this daemon has in the list (insertion order = age) */
  readonly #listed = new Map<string, Set<string>>();
  readonly #limiter = new RateLimiter(3, 60_000);
  readonly #overCapacityWarned = new Set<string>();
  writes = 0;
  writeErrors = 0;

  constructor(opts: EnforcerOptions) {
    this.#writer = opts.writer;
    this.#log = opts.log;
    this.#conntrack = opts.conntrack;
    this.#capacity = opts.capacity;
    this.#dryRun = opts.dryRun ?? false;
    this.#maxEntries = opts.maxEntries ?? 1_000_000;
    this.#now = opts.now ?? Date.now;
  }

  get pendingCount(): number {
    let n = 0;
    for (const m of this.#pending.values()) n += m.size;
    return n;
  }

  apply(d: Decision): void {
    if (d.kind === 'block') {
      if (this.#dryRun) {
        this.#log.info({ ip: d.ip.text, target: d.target, blocktype: d.blocktype, offences: d.offences, dryRun: true }, 'would block');
        return;
      }
      this.#command(d.target, '+', d.ip);
      this.#log.info({ ip: d.ip.text, target: d.target, blocktype: d.blocktype, offences: d.offences }, 'blocked');
      if (d.resetconns) this.#conntrack?.kill(d.ip);
      return;
    }
    if (this.#dryRun) {
      this.#log.info({ ip: d.ip.text, targets: d.targets, dryRun: true }, 'would unblock');
      return;
    }
    for (const target of d.targets) this.#command(target, '-', d.ip);
    this.#log.info({ ip: d.ip.text, targets: d.targets }, 'unblocked');
  }

  /** Re-tries every pending command; returns how many are still pending. */
  retryPending(): number {
    for (const [target, cmds] of this.#pending) {
      for (const [key, { op, ip }] of cmds) {
        if (!this.#write(target, op, ip)) break; // the list is still missing: try the others next time
        cmds.delete(key);
        this.#log.info({ ip: ip.text, target, op }, 'pending list write applied');
      }
      if (cmds.size === 0) this.#pending.delete(target);
    }
    return this.pendingCount;
  }

  #command(target: string, op: Op, ip: ParsedIp): void {
    const queued = this.#pending.get(target);
    if (queued?.has(ip.text)) {
      // Keep order: a command behind a pending one for the same address waits its turn.
      queued.delete(ip.text);
      queued.set(ip.text, { op, ip });
      return;
    }
    if (this.#write(target, op, ip)) return;
    if (op === '-' && !this.#listed.get(target)?.has(ip.text)) return; // nothing of ours to remove
    let cmds = this.#pending.get(target);
    if (cmds === undefined) this.#pending.set(target, (cmds = new Map()));
    if (this.pendingCount >= this.#maxEntries) {
      this.#log.error({ target, ip: ip.text }, 'too many pending list writes: dropping this one');
      return;
    }
    cmds.set(ip.text, { op, ip });
  }

  /** true when the kernel took the command */
  #write(target: string, op: Op, ip: ParsedIp): boolean {
    try {
      this.#writer.write(target, op, ip.text);
      this.writes++;
    } catch (err) {
      this.writeErrors++;
      this.#reportWriteError(target, op, ip, err as NodeJS.ErrnoException);
      return false;
    }
    this.#track(target, op, ip.text);
    return true;
  }

  #track(target: string, op: Op, ip: string): void {
    let set = this.#listed.get(target);
    if (set === undefined) this.#listed.set(target, (set = new Set()));
    set.delete(ip);
    if (op === '-') return;
    set.add(ip);
    if (set.size > this.#maxEntries) set.delete(set.values().next().value!);
    if (this.#capacity !== undefined && set.size > this.#capacity && !this.#overCapacityWarned.has(target)) {
      this.#overCapacityWarned.add(target);
      this.#log.warn(
        { target, listed: set.size, ip_list_tot: this.#capacity },
        `list ${target} now holds more addresses than the kernel keeps (ip_list_tot=${this.#capacity}): the oldest are silently forgotten. ` +
          'Raise it with "options xt_recent ip_list_tot=N" in /etc/modprobe.d/ (module) or xt_recent.ip_list_tot=N on the kernel command line (built in)',
      );
    }
  }

  #reportWriteError(target: string, op: Op, ip: ParsedIp, err: NodeJS.ErrnoException): void {
    const suppressed = this.#limiter.allow(`${target}:${err.code}`, this.#now());
    if (suppressed === undefined) return;
    const extra = suppressed > 0 ? { suppressed } : {};
    if (err.code === 'ENOENT') {
      this.#log.error(
        { target, ip: ip.text, op, ...extra },
        `list ${target} does not exist: ${missingListHint(target)}. The write is kept and retried`,
      );
    } else {
      this.#log.error({ target, ip: ip.text, op, code: err.code, err: err.message, ...extra }, `writing to list ${target} failed; the write is kept and retried`);
    }
  }
}
