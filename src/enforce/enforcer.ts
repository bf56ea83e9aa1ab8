/**
 * Applies decisions to the kernel lists, and never loses one.
 *
 *   - block: `+ADDR` to the target's list, then (resetconns) the conntrack
 *     cut. The ban is remembered as active until its bantime has passed. A
 *     ban of an address the kernel took into the same list from this daemon
 *     less than REWRITE_MS ago is not written again: the entry is as fresh
 *     as the write would make it, to within that second (xt_recent counts
 *     `--seconds` in seconds). A write that failed, is pending or was
 *     dropped does not count as taken. With presets included, one password guess
 *     logs two lines (sshd's own and pam_unix's) that tip two blocktypes
 *     at once; half of those writes, each an open/write/close of a /proc
 *     file, are saved;
 *   - unblock: `-ADDR` to every target; the address's active bans end. A
 *     list that this daemon told to drop the address less than REWRITE_MS
 *     ago, and has not given it back since, is not told again: a mail
 *     client opens several connections at once and each logs a good login
 *     (measured with every preset: 8 900 of 15 800 list writes were such
 *     repeats). Any ban decided for the address since, written or not,
 *     ends the skip. At most UNBLOCKS_KEPT such recent unblocks are
 *     remembered per list, the oldest forgotten first (and then written
 *     again). What this gives up: an address that something other than
 *     banban (`banban block`, a `--set` rule on the same list) puts back
 *     within that second stays until the next unblock;
 *   - a list that does not exist (no rule names it yet, or `iptables -F`
 *     destroyed it) is reported with the rule to add (rate-limited); the ban
 *     stays active and `prime` writes it once the list exists again;
 *   - any other failed write is kept as pending and retried by
 *     `retryPending`; for each (target, address) only the latest command is
 *     kept, so a later unblock supersedes a pending block;
 *   - `verify` reads back every list that has active bans and forgets the
 *     bans it no longer holds, with a word: the kernel drops the oldest entry
 *     of a full list (ip_list_tot) silently, and an admin may have lifted
 *     one by hand (`banban unblock`), which a reload or a restart must not
 *     undo by writing it again.
 *
 * The daemon calls `prime`, `retryPending` and `verify` from its timers; all
 * times are wall-clock milliseconds, because active bans outlive the process
 * (state file) and must be comparable after a reboot.
 */
import type { Config } from '../config/schema.js';
import { ipv6Network, ownText, parseIp } from '../lib/ip.js';
import { RateLimiter, type Logger } from '../lib/log.js';
import type { Decision } from '../pipeline.js';
import type { ListWriter } from './backend.js';
import type { ConntrackKiller } from './conntrack.js';
import { missingListHint } from './xt-recent.js';
import { packBans, snapshotBans } from './ban-columns.js';

export interface EnforcerOptions {
  writer: ListWriter;
  log: Logger;
  conntrack?: ConntrackKiller | undefined;
  /** the kernel's ip_list_tot, when known */
  capacity?: number | undefined;
  /** log what would be written, write nothing */
  dryRun?: boolean;
  /** most active bans remembered per list, and pending writes in all */
  maxEntries?: number;
  /** wall clock, ms */
  now?: () => number;
}

/** a ban of an address written to the same list this recently is not written again; nor is an unblock */
export const REWRITE_MS = 1000;
/** recent unblocks remembered per list (REWRITE_MS): bounded, since a forged good line is attacker-made too */
export const UNBLOCKS_KEPT = 4096;

/** A command the kernel took at `at` is still fresh at `now` (less than REWRITE_MS; a clock gone back is not). */
function recent(at: number | undefined, now: number): boolean {
  return at !== undefined && now >= at && now - at < REWRITE_MS;
}

/** A ban this daemon decided, as kept in memory and in the state file. */
export interface ActiveBan {
  readonly ip: string;
  readonly target: string;
  /** blocktype, at and until change in place when the address is banned again (Enforcer.apply) */
  blocktype: string;
  /** wall-clock ms when it was decided */
  at: number;
  /** wall-clock ms after which it is no longer re-primed */
  until: number;
  /** wall-clock ms when the kernel last took it (this process only: not saved) */
  written?: number;
  /** when this process took it in, as a count (#remember; not saved): the order of its list's map, which `verify` makes again */
  seq?: number;
  /** the last `verify` call that found it in its list (a count; not saved) */
  verified?: number;
}

type Op = '+' | '-';

export class Enforcer {
  readonly #writer: ListWriter;
  readonly #log: Logger;
  readonly #conntrack: ConntrackKiller | undefined;
  #capacity: number | undefined;
  readonly #dryRun: boolean;
  #maxEntries: number;
  readonly #now: () => number;
  /** target -> address -> command the kernel refused for a reason other than a missing list */
  readonly #pending = new Map<string, Map<string, { op: Op; ip: string }>>();
  /** target -> address -> ban (insertion order = age) */
  readonly #bans = new Map<string, Map<string, ActiveBan>>();
  /** target -> address -> when the kernel took `-ADDR` from us, for REWRITE_MS (insertion order = age) */
  readonly #unblocked = new Map<string, Map<string, number>>();
  readonly #limiter = new RateLimiter(3, 60_000);
  readonly #overCapacityWarned = new Set<string>();
  /** the last ActiveBan.seq given */
  #seq = 0;
  /** verify calls so far (ActiveBan.verified) */
  #verifies = 0;
  writes = 0;
  /** block and unblock decisions not written: the list got the same command less than REWRITE_MS before */
  rewritesSkipped = 0;
  writeErrors = 0;
  evictions = 0;

  /** ip_list_tot, the most addresses a kernel list keeps; undefined while xt_recent has not said */
  get capacity(): number | undefined {
    return this.#capacity;
  }

  /** ip_list_tot read later: xt_recent loads with the first `-m recent` rule, which may come after banban. */
  set capacity(n: number | undefined) {
    this.#capacity = n;
  }

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

  get activeCount(): number {
    let n = 0;
    for (const m of this.#bans.values()) n += m.size;
    return n;
  }

  apply(d: Decision): void {
    if (d.kind === 'block') {
      if (this.#dryRun) {
        this.#log.info({ ip: d.ip.text, target: d.target, blocktype: d.blocktype, offences: d.offences, dryRun: true }, 'would block');
        return;
      }
      const at = this.#now();
      const until = at + d.bantime * 1000;
      const prev = this.#bans.get(d.target)?.get(d.ip.text);
      let ban: ActiveBan;
      if (prev === undefined) {
        ban = { ip: ownText(d.ip), target: d.target, blocktype: d.blocktype, at, until }; // its own text: kept as long as the ban
      } else {
        // Of an active ban and this one, the one that lasts longer is kept, with its own blocktype (the
        // restart measures it by that blocktype's bantime): a blocktype of a short bantime cannot
        // shorten a long ban of the same address in the same list. Changed in place, not replaced:
        // a persistent attacker is banned again every minocc offences, and each replaced record
        // (with its text) was garbage in the old generation, most of what filled it between full
        // collections under the bench's stream.
        if (until >= prev.until) {
          prev.blocktype = d.blocktype;
          prev.at = at;
          prev.until = until;
        }
        ban = prev;
      }
      const ip = ban.ip;
      if (prev !== undefined && recent(prev.written, at)) {
        this.rewritesSkipped++;
        this.#remember(ban);
        this.#log.info({ ip: d.ip.text, target: d.target, blocktype: d.blocktype, offences: d.offences, written: false }, 'blocked');
      } else {
        this.#remember(ban);
        // not taken (the list is missing, or refused it): said, as the error before said why
        if (this.#command(d.target, '+', ip)) this.#log.info({ ip: d.ip.text, target: d.target, blocktype: d.blocktype, offences: d.offences }, 'blocked');
        else this.#log.info({ ip: d.ip.text, target: d.target, blocktype: d.blocktype, offences: d.offences, written: false, pending: true }, 'blocked');
      }
      if (d.resetconns) this.#conntrack?.kill(d.ip);
      return;
    }
    if (this.#dryRun) {
      this.#log.info({ ip: d.ip.text, targets: d.targets, dryRun: true }, 'would unblock');
      return;
    }
    const at = this.#now();
    const ip = ownText(d.ip); // kept for a while as a recent unblock
    for (const target of d.targets) {
      this.#bans.get(target)?.delete(ip);
      if (recent(this.#unblocked.get(target)?.get(ip), at) && !this.#pending.get(target)?.has(ip)) this.rewritesSkipped++;
      else this.#command(target, '-', ip);
    }
    this.#log.info({ ip: d.ip.text, targets: d.targets }, 'unblocked');
  }

  /** Active bans still within their bantime, oldest first (for the state file), found in the walk that drops the others. */
  snapshot(): ActiveBan[] {
    return snapshotBans(packBans(this.live(), this.activeCount));
  }

  /** Takes over bans from the state file; the caller primes the lists afterwards. */
  restore(bans: readonly ActiveBan[]): void {
    for (const b of bans) this.#remember(b);
    this.expire();
  }

  /**
   * Each active ban as `revise` returns it (the same, shortened, or
   * undefined: forgotten, never primed again). A reload calls it with the
   * new config's rules (bansUnder). The lists are not written: a ban
   * forgotten stays in its list until the rule's --seconds pass or
   * `banban unblock` lifts it. Returns how many were forgotten.
   */
  revise(revise: (b: ActiveBan) => ActiveBan | undefined): number {
    let dropped = 0;
    for (const [target, m] of this.#bans) {
      for (const [ip, b] of m) {
        const r = revise(b);
        if (r === undefined) {
          m.delete(ip);
          // a write of it still waiting for a retry is forgotten with it: the list is left alone
          const queued = this.#pending.get(target);
          if (queued?.get(ip)?.op === '+') queued.delete(ip);
          dropped++;
        } else if (r !== b) {
          m.set(ip, { ...r, written: b.written, seq: b.seq });
        }
      }
      if (m.size === 0) this.#bans.delete(target);
    }
    this.expire();
    return dropped;
  }

  /**
   * The most bans remembered per list (and commands kept for a retry): a
   * reload's `max_tracked`. Lowered, each list forgets its oldest bans
   * beyond it.
   */
  setMaxEntries(n: number): void {
    this.#maxEntries = n;
    for (const m of this.#bans.values()) while (m.size > n) m.delete(m.keys().next().value!);
  }

  /** Forgets bans whose bantime has passed. */
  expire(): void {
    for (const _ of this.live());
  }

  /**
   * The bans within their bantime, each list's in its order; walking it
   * drops the others. It may be walked a piece at a time while bans come
   * and go (the periodic save, BansPacker): a ban added meanwhile is met
   * or not, one removed before it was reached is not.
   */
  *live(): Generator<ActiveBan> {
    const now = this.#now();
    for (const [target, m] of this.#bans) {
      for (const b of m.values()) {
        if (b.until <= now) m.delete(b.ip);
        else yield b;
      }
      if (m.size === 0 && this.#bans.get(target) === m) this.#bans.delete(target);
    }
  }

  /**
   * Writes every active ban of `target` that the list does not hold. Called
   * when a list appears or is made anew (after a reboot, a restart of the
   * firewall, `iptables -F`). Returns how many were written.
   */
  prime(target: string): number {
    if (this.#dryRun) return 0;
    this.expire();
    const bans = this.#bans.get(target);
    if (bans === undefined || bans.size === 0) return 0;
    let present: Set<string>;
    try {
      present = new Set(this.#writer.read(target).map((e) => e.ip));
    } catch {
      present = new Set();
    }
    let n = 0;
    for (const b of bans.values()) {
      if (present.has(b.ip)) continue;
      const err = this.#tryWrite(target, '+', b.ip);
      if (err === undefined) n++;
      else if (err.code === 'ENOENT') break; // gone again: primed when it is back
      else this.#queue(target, '+', b.ip); // refused for now: retried with the other pending writes
    }
    return n;
  }

  /** Re-tries every pending command; returns how many are still pending. */
  retryPending(): number {
    for (const [target, cmds] of this.#pending) {
      for (const [key, { op, ip }] of cmds) {
        if (!this.#write(target, op, ip)) break; // still failing: try again next time
        cmds.delete(key);
        this.#log.info({ ip, target, op }, 'pending list write applied');
      }
      if (cmds.size === 0) this.#pending.delete(target);
    }
    return this.pendingCount;
  }

  /**
   * Reads back every list that has active bans and reports the bans it no
   * longer holds. Those bans are forgotten: re-adding them to a full list
   * would only push out others, and one an admin lifted by hand must stay
   * lifted (a list that was quiet since is read too: `banban unblock` on a
   * quiet server is the usual case). Returns how many were missing.
   *
   * The work goes by the list, not by the bans: the kernel keeps a list
   * short (ip_list_tot), while a flood of new addresses can leave tens of
   * thousands of bans to compare within the 10 s between two calls, nearly
   * all of them pushed out of a full list already. Going through those took
   * the main thread 7-9 ms each time under the bench's ban-latency load (a
   * probe that came meanwhile waited as long); the bans the list still
   * holds are looked up from its side instead. When most are gone, the
   * list's map is made again of the held ones alone, in the order they
   * were taken in; when a few are, they are deleted in place, from the
   * oldest, until all of them are (a full list that takes a few new bans
   * between two calls pushes out its oldest).
   */
  verify(): number {
    let missing = 0;
    for (const target of [...this.#bans.keys()]) {
      const bans = this.#bans.get(target);
      if (bans === undefined || bans.size === 0) continue;
      let entries: string[];
      try {
        entries = this.#writer.read(target).map((e) => e.ip);
      } catch {
        continue; // a missing list is the watcher's business
      }
      // the bans the list holds, each once, marked as held by this call; so is a ban whose write
      // the list refused and that waits for a retry (retryPending): it is not in the list yet
      const mark = ++this.#verifies;
      const held: ActiveBan[] = [];
      const hold = (b: ActiveBan | undefined): void => {
        if (b !== undefined && b.verified !== mark) {
          b.verified = mark;
          held.push(b);
        }
      };
      for (const ip of entries) hold(bans.get(ip));
      for (const { op, ip } of this.#pending.get(target)?.values() ?? []) if (op === '+') hold(bans.get(ip));
      const gone = bans.size - held.length;
      if (gone === 0) continue;
      const sample: string[] = [];
      if (gone > held.length) {
        // most are gone (a flood pushed them out): the map is made again of the held ones
        for (const b of bans.values()) {
          if (b.verified === mark) continue;
          sample.push(b.ip);
          if (sample.length === 5) break;
        }
        if (held.length === 0) this.#bans.delete(target);
        else this.#bans.set(target, new Map(held.sort((a, b) => a.seq! - b.seq!).map((b) => [b.ip, b])));
      } else {
        // a few are gone, most likely the oldest (a full list drops those first): deleted in place,
        // from the oldest, until all of them are
        let left = gone;
        for (const b of bans.values()) {
          if (b.verified === mark) continue;
          bans.delete(b.ip);
          if (sample.length < 5) sample.push(b.ip);
          if (--left === 0) break;
        }
      }
      missing += gone;
      const full = this.#capacity !== undefined && entries.length >= this.#capacity;
      if (full) this.evictions += gone;
      this.#log.warn(
        { target, missing: gone, listed: entries.length, ip_list_tot: this.#capacity ?? null, sample },
        full
          ? `list ${target} is full (ip_list_tot=${this.#capacity}) and the kernel evicted ${gone} banned addresses: they are no longer blocked. ${RAISE_HINT}`
          : `${gone} addresses banned in ${target} are no longer in the list: lifted from outside banban (banban unblock, echo -ADDR)${this.#capacity === undefined ? ', or evicted from a full list (ip_list_tot is unknown here)' : ''}, so their bans end here too and are not written again`,
      );
    }
    return missing;
  }

  /** `b.ip` is canonical: it comes from a decision's ParsedIp, or from a state file that decodeState validated. */
  #remember(b: ActiveBan): void {
    let m = this.#bans.get(b.target);
    if (m === undefined) this.#bans.set(b.target, (m = new Map()));
    m.delete(b.ip);
    b.seq = ++this.#seq;
    m.set(b.ip, b);
    if (m.size > this.#maxEntries) m.delete(m.keys().next().value!);
    if (this.#capacity !== undefined && m.size > this.#capacity && !this.#overCapacityWarned.has(b.target)) {
      this.#overCapacityWarned.add(b.target);
      this.#log.warn(
        { target: b.target, active: m.size, ip_list_tot: this.#capacity },
        `list ${b.target} now has more active bans than the kernel keeps (ip_list_tot=${this.#capacity}): the oldest are silently forgotten. ${RAISE_HINT}`,
      );
    }
  }

  /** true when the kernel took it now; otherwise it is written later (a retry, or the priming of a list that appears) */
  #command(target: string, op: Op, ip: string): boolean {
    const queued = this.#pending.get(target);
    if (queued?.has(ip)) {
      // Keep order: a command behind a pending one for the same address waits its turn.
      if (op === '+') this.#unblocked.get(target)?.delete(ip); // as #tryWrite does
      queued.delete(ip);
      queued.set(ip, { op, ip });
      return false;
    }
    const err = this.#tryWrite(target, op, ip);
    if (err === undefined) return true;
    if (err.code !== 'ENOENT') this.#queue(target, op, ip); // a missing list is primed when it appears
    return false;
  }

  /** Keeps a command the kernel refused, for `retryPending`. */
  #queue(target: string, op: Op, ip: string): void {
    let cmds = this.#pending.get(target);
    if (cmds === undefined) this.#pending.set(target, (cmds = new Map()));
    if (this.pendingCount >= this.#maxEntries) {
      this.#log.error({ target, ip }, 'too many pending list writes: dropping this one');
      return;
    }
    cmds.set(ip, { op, ip });
  }

  /** true when the kernel took the command */
  #write(target: string, op: Op, ip: string): boolean {
    return this.#tryWrite(target, op, ip) === undefined;
  }

  #tryWrite(target: string, op: Op, ip: string): NodeJS.ErrnoException | undefined {
    // Any ban, taken or not, ends the unblock skip: the next unblock must reach the list.
    if (op === '+') this.#unblocked.get(target)?.delete(ip);
    try {
      this.#writer.write(target, op, ip);
    } catch (err) {
      this.writeErrors++;
      this.#reportWriteError(target, op, ip, err as NodeJS.ErrnoException);
      return err as NodeJS.ErrnoException;
    }
    this.writes++;
    if (op === '+') {
      const ban = this.#bans.get(target)?.get(ip);
      if (ban !== undefined) ban.written = this.#now();
    } else {
      this.#noteUnblock(target, ip);
    }
    return undefined;
  }

  /** The kernel took `-ip` for `target`: kept for REWRITE_MS, older ones let go. */
  #noteUnblock(target: string, ip: string): void {
    const now = this.#now();
    let kept = this.#unblocked.get(target);
    if (kept === undefined) this.#unblocked.set(target, (kept = new Map()));
    kept.delete(ip);
    kept.set(ip, now);
    for (const [old, at] of kept) {
      if (recent(at, now) && kept.size <= UNBLOCKS_KEPT) break;
      kept.delete(old);
    }
  }

  #reportWriteError(target: string, op: Op, ip: string, err: NodeJS.ErrnoException): void {
    const suppressed = this.#limiter.allow(`${target}:${err.code}`, this.#now());
    if (suppressed === undefined) return;
    const extra = suppressed > 0 ? { suppressed } : {};
    if (err.code === 'ENOENT') {
      this.#log.error(
        { target, ip, op, ...extra },
        `list ${target} does not exist: ${missingListHint(target)}. Bans stay active and are written when the list appears`,
      );
    } else {
      const hint =
        err.code === 'EACCES' || err.code === 'EPERM'
          ? ': the list files belong to root unless xt_recent is loaded with ip_list_uid / ip_list_gid set to banban\'s user (examples/banban.service says how)'
          : '';
      this.#log.error({ target, ip, op, code: err.code, err: err.message, ...extra }, `writing to list ${target} failed; the write is kept and retried${hint}`);
    }
  }
}

const RAISE_HINT =
  'Raise ip_list_tot: "options xt_recent ip_list_tot=N" in /etc/modprobe.d/xt_recent.conf (module), or xt_recent.ip_list_tot=N on the kernel command line (built in)';

/** Why bansUnder forgot a ban. */
export type BanDropReason = 'target' | 'blocktype' | 'ignorenets' | 'prefix' | 'expired';

/**
 * A saved or active ban under a config's rules: undefined (with why) when
 * the config no longer has its blocktype, or that blocktype now writes to
 * another list, its address is now in
 * `ignorenets` (an admin who was banned, adds their network and restarts
 * must not be banned again from the state file), or it has ended;
 * otherwise the ban, its end brought forward to `at + bantime` when the
 * blocktype's bantime is now shorter (a hand-edited state file cannot
 * keep an address banned for longer than the config allows either).
 * Pure.
 */
export function bansUnder(
  config: Pick<Config, 'blocktypes' | 'ignorenets' | 'ipv6Prefix'>,
  wall: number,
): (b: ActiveBan) => { ban: ActiveBan } | { ban: undefined; why: BanDropReason } {
  const byName = new Map(config.blocktypes.map((bt) => [bt.name, bt]));
  const targets = new Set(config.blocktypes.map((bt) => bt.target));
  return (b) => {
    if (!targets.has(b.target)) return { ban: undefined, why: 'target' };
    const bt = byName.get(b.blocktype);
    if (bt === undefined) return { ban: undefined, why: 'blocktype' };
    if (bt.target !== b.target) return { ban: undefined, why: 'target' }; // the blocktype writes to another list now
    const ip = parseIp(b.ip);
    if (!ip.ok || config.ignorenets.touches(ip.value, config.ipv6Prefix)) return { ban: undefined, why: 'ignorenets' };
    // an IPv6 ban made under another ipv6_prefix: a masked rule would never match it, and counting starts afresh
    if (ipv6Network(ip.value, config.ipv6Prefix) !== ip.value) return { ban: undefined, why: 'prefix' };
    const until = Math.min(b.until, b.at + bt.bantime * 1000);
    if (until <= wall) return { ban: undefined, why: 'expired' };
    return { ban: until === b.until ? b : { ...b, until } };
  };
}
