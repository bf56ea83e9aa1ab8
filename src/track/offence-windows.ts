/**
 * Sliding windows of offence times, one per (blocktype, address). Pure: every
 * call is given the time.
 *
 * Invariants:
 *   - a window holds fewer than `minocc` times: reaching minocc is a decision,
 *     and the window is emptied when it is made;
 *   - times older than `interval` are dropped whenever a window is touched,
 *     and `prune` drops windows that have gone quiet, so a window never
 *     outlives its interval by more than one prune period;
 *   - each blocktype holds at most `cap` windows: when a new one would exceed
 *     it, the least recently touched is evicted (to the millisecond: of the
 *     two families' oldest, the one touched longer ago). Memory is bounded by
 *     the cap whatever an attacker sends.
 *
 * Layout. Millions of attacking addresses must fit in little memory (a JS
 * Map of strings to arrays costs over 300 bytes a window), so each blocktype
 * has two tables of flat typed arrays, one per address family:
 *   - the address as one 32-bit word (IPv4) or four (IPv6);
 *   - the last minocc-1 times, as Uint32 milliseconds from a base time that
 *     moves forward every few weeks (exact to the millisecond);
 *   - prev/next slot links of a least-recently-used list;
 *   - an open-addressing index (linear probing, backward-shift deletion,
 *     at most 3/4 full) hashed with a per-process random seed, so an
 *     attacker who controls a /64 cannot choose addresses that pile into
 *     one probe chain.
 * At minocc 3 a window costs about 28 bytes for IPv4 and 40 for IPv6
 * (README, Benchmarks, 5). The slot arrays are sized for the cap from the
 * start, and take memory only as slots are used; the index starts small
 * and doubles up to the cap.
 *
 * Unlike the Perl banban, each blocktype counts on its own: an SSH failure
 * does not bring a mail offender nearer its threshold.
 */
import { formatIpBytes, ipWord, parseIp, putIpWord, type ParsedIp } from '../lib/ip.js';

export interface WindowEntry {
  readonly blocktype: string;
  readonly ip: string;
  /** oldest first */
  readonly times: readonly number[];
}

const SEED = (Math.random() * 0x7fffffff) | 0;
/** longest interval the config allows, plus a day: times older than this are never looked at */
const MAX_WINDOW_MS = 32 * 86_400_000;
/** Uint32 ms offsets reach 49.7 days: move the base on a day before that (about every 16 days) */
const REBASE_AT_MS = 2 ** 32 - 86_400_000;
const INITIAL_SLOTS = 1024;
/** slot arrays up to this size are made for the cap at once (WindowTable) */
const UPFRONT_BYTES = 256 * 2 ** 20;
const NIL = -1;

/** An address's 32-bit words: one for IPv4, four for IPv6 (its table's `words`). */
function wordsOf(ip: ParsedIp, out: Uint32Array): void {
  const b = ip.bytes;
  for (let w = 0; w < b.length / 4; w++) out[w] = ipWord(b, w);
}

/** Hash of the `words` words at `k[at..]`. */
function hashWords(k: Uint32Array, at: number, words: number): number {
  let h = SEED ^ 0x9e3779b9;
  for (let w = at; w < at + words; w++) {
    h = Math.imul(h ^ k[w]!, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** What a table's windows are read from: its own arrays, or copies of them (`snapshot`). */
export interface TableView {
  /** address words per slot: 1 (IPv4) or 4 (IPv6) */
  readonly words: number;
  readonly ring: number;
  readonly base: number;
  /** first slot of the least-recently-used list, NIL when empty */
  readonly head: number;
  readonly next: Int32Array;
  readonly keys: Uint32Array;
  readonly times: Uint32Array;
  readonly count: Uint16Array;
}

/** The windows of a view, least recently touched first. */
function* viewEntries(v: TableView): IterableIterator<{ ip: string; times: number[] }> {
  const bytes = new Uint8Array(v.words * 4);
  for (let slot = v.head; slot !== NIL; slot = v.next[slot]!) {
    for (let w = 0; w < v.words; w++) putIpWord(bytes, w, v.keys[slot * v.words + w]!);
    const times: number[] = [];
    for (let i = 0; i < v.count[slot]!; i++) times.push(v.base + v.times[slot * v.ring + i]!);
    yield { ip: formatIpBytes(bytes), times };
  }
}

/**
 * One blocktype's windows of one address family. A blocktype has one
 * table for IPv4 addresses (one word a key) and one for IPv6 (four): an
 * IPv4 window takes 12 bytes less than it would kept as ::ffff:a.b.c.d.
 * The cap is the blocktype's, over both (`BlocktypeTables`).
 */
class WindowTable {
  readonly ring: number;
  #slots = 0;
  #keys!: Uint32Array;
  /** ms since #base, oldest first within each slot's run of `ring` */
  #times!: Uint32Array;
  /** time 0 of #times; set on first use, moved forward by #rebase */
  #base = NaN;
  #count!: Uint16Array;
  #prev!: Int32Array;
  #next!: Int32Array;
  /** slot + 1; 0 = empty bucket */
  #index!: Int32Array;
  #buckets = 0;
  #free: number[] = [];
  #used = 0;
  #lruHead = NIL;
  #lruTail = NIL;
  #size = 0;
  evicted = 0;
  readonly #k = new Uint32Array(4);

  constructor(
    ring: number,
    readonly cap: number,
    readonly words: 1 | 4,
    /** called before a window is added: makes room if the blocktype is at its cap */
    readonly makeRoom: () => void,
  ) {
    this.ring = Math.max(1, ring);
    // The slot arrays are made for the cap at once (up to UPFRONT_BYTES). The kernel hands out
    // their pages as they are first touched, and slots are used from the first on, so a slot never
    // used costs address space, not memory; and arrays that never grow are never copied. (Grown by
    // doubling, each copy left the old arrays, 34 MB at a million slots, in memory until V8's next
    // full collection: the bench's RSS after 2 million addresses came out at 150 or 187 MB as
    // that fell.) Past UPFRONT_BYTES (a huge minocc times a huge max_tracked) they double.
    this.#room(Math.min(cap, Math.max(INITIAL_SLOTS, Math.floor(UPFRONT_BYTES / this.#slotBytes()))));
    this.#allocate(Math.min(cap, INITIAL_SLOTS));
  }

  #slotBytes(): number {
    return this.words * 4 + this.ring * 4 + 2 + 4 + 4;
  }

  /** Makes the slot arrays hold at least `slots` slots, copying them if they must grow. */
  #room(slots: number): void {
    if (this.#count !== undefined && this.#count.length >= slots) return;
    const grow = <T extends Uint32Array | Uint16Array | Int32Array>(a: T | undefined, n: number, make: (n: number) => T): T => {
      const b = make(n);
      if (a !== undefined) b.set(a);
      return b;
    };
    this.#keys = grow(this.#keys, slots * this.words, (n) => new Uint32Array(n));
    this.#times = grow(this.#times, slots * this.ring, (n) => new Uint32Array(n));
    this.#count = grow(this.#count, slots, (n) => new Uint16Array(n));
    this.#prev = grow(this.#prev, slots, (n) => new Int32Array(n));
    this.#next = grow(this.#next, slots, (n) => new Int32Array(n));
  }

  get size(): number {
    return this.#size;
  }

  /** bytes of its arrays ever used (slots up to the highest used, and the index): what it takes in memory */
  get bytesInUse(): number {
    return this.#used * this.#slotBytes() + this.#buckets * 4;
  }

  /**
   * One offence at `now`: how many the window holds with it (minocc or
   * more: decided, and the window emptied). Times may come out of order
   * (`banban test` on a log whose stamps go back; the daemon's receive
   * times only by moments, across a reload): a window is judged at its
   * newest time, an offence older than that by more than the interval is
   * not counted (0 is returned for a window not yet open), and neither is
   * one from before the table's base, more than 32 days before the newest
   * times it holds. Counted, it takes its place among the window's times.
   */
  record(ip: ParsedIp, now: number, intervalMs: number, minocc: number): number {
    wordsOf(ip, this.#k);
    let slot = this.#find(this.#k);
    if (slot === NIL) {
      if (minocc <= 1) return 1; // decided at once: nothing to remember
      if (now < this.#base) return 0;
      slot = this.#insert(this.#k);
    } else {
      this.#touch(slot);
      const at = Math.max(now, this.#newest(slot));
      if (now < at - intervalMs || now < this.#base) return this.#count[slot]!;
      this.#expire(slot, at - intervalMs);
    }
    const count = this.#count[slot]! + 1;
    if (count >= minocc) {
      this.#remove(slot);
      return count;
    }
    this.#push(slot, now);
    return count;
  }

  forget(ip: ParsedIp): void {
    wordsOf(ip, this.#k);
    const slot = this.#find(this.#k);
    if (slot !== NIL) this.#remove(slot);
  }

  restore(ip: ParsedIp, times: readonly number[]): void {
    wordsOf(ip, this.#k);
    let slot = this.#find(this.#k);
    if (slot === NIL) slot = this.#insert(this.#k);
    else this.#count[slot] = 0;
    for (const t of times.slice(-this.ring)) this.#push(slot, t);
  }

  /**
   * Drops windows whose newest time is older than `horizon`; returns how
   * many. The walk starts at the least recently touched and ends at the
   * first window that is not quiet: a window is touched when an offence is
   * counted in it, so the list is in the order of the windows' newest
   * times, and every window after that one is newer still. (A time counted
   * out of order, such as a line a reload's old thread decided late, may
   * leave a quiet window behind a newer one until the next prune: it is
   * evicted or pruned all the same.) The daemon prunes every minute on its
   * main thread: this walks the quiet windows only, not all of them.
   */
  prune(horizon: number): number {
    let dropped = 0;
    for (let s = this.#lruHead; s !== NIL && this.#newest(s) < horizon; ) {
      const next = this.#next[s]!;
      this.#remove(s);
      dropped++;
      s = next;
    }
    return dropped;
  }

  entries(): IterableIterator<{ ip: string; times: number[] }> {
    return viewEntries(this.#view(false));
  }

  /** The windows as they are now, in arrays of their own (one copy of each), to be read while these change. */
  snapshot(): TableView {
    return this.#view(true);
  }

  #view(copy: boolean): TableView {
    const used = this.#used;
    const take = <T extends Uint32Array | Uint16Array | Int32Array>(a: T, per: number): T => (copy ? (a.slice(0, used * per) as T) : a);
    return {
      words: this.words,
      ring: this.ring,
      base: this.#base,
      head: this.#lruHead,
      next: take(this.#next, 1),
      keys: take(this.#keys, this.words),
      times: take(this.#times, this.ring),
      count: take(this.#count, 1),
    };
  }

  // ---- slots ------------------------------------------------------------

  /** Room for `slots` slots in use: slot arrays (if they are smaller), and an index sized for them (each of its buckets gets touched). */
  #allocate(slots: number): void {
    this.#room(slots);
    this.#slots = slots;
    // Load factor at most 3/4, and any size (not a power of two: that would double the index of a
    // full table of 2^k slots): 5.3 MB less for 2 million windows.
    this.#buckets = Math.ceil((slots * 4) / 3) + 1;
    this.#index = new Int32Array(this.#buckets);
    for (let s = this.#lruHead; s !== NIL; s = this.#next[s]!) this.#place(s);
  }

  /** last time its least recently touched window was touched (its newest offence); Infinity when empty */
  get oldestTouch(): number {
    return this.#lruHead === NIL ? Infinity : this.#newest(this.#lruHead);
  }

  /** Drops the least recently touched window (the blocktype is at its cap). */
  evictOldest(): void {
    this.#remove(this.#lruHead);
    this.evicted++;
  }

  #insert(k: Uint32Array): number {
    this.makeRoom();
    let slot: number;
    if (this.#free.length > 0) {
      slot = this.#free.pop()!;
    } else {
      if (this.#used >= this.#slots) this.#allocate(Math.min(this.cap, this.#slots * 2));
      slot = this.#used++;
    }
    for (let w = 0; w < this.words; w++) this.#keys[slot * this.words + w] = k[w]!;
    this.#count[slot] = 0;
    this.#linkTail(slot);
    this.#place(slot);
    this.#size++;
    return slot;
  }

  #remove(slot: number): void {
    this.#unplace(slot);
    this.#unlink(slot);
    this.#free.push(slot);
    this.#size--;
  }

  // ---- the ring of times -------------------------------------------------
  // Each slot's times are kept compacted, oldest first: rings are short
  // (minocc - 1), so shifting beats keeping a head index per slot.

  #offset(t: number): number {
    if (Number.isNaN(this.#base)) this.#base = t - MAX_WINDOW_MS;
    if (t - this.#base >= REBASE_AT_MS) this.#rebase(t - MAX_WINDOW_MS);
    // A time before the base (a restored window older than any interval) counts as the base.
    return Math.max(0, Math.round(t - this.#base));
  }

  /** Moves the base forward, dropping times older than the new base: no interval reaches back that far. */
  #rebase(newBase: number): void {
    const shift = Math.round(newBase - this.#base);
    for (let s = this.#lruHead; s !== NIL; s = this.#next[s]!) {
      const base = s * this.ring;
      let n = this.#count[s]!;
      let drop = 0;
      while (drop < n && this.#times[base + drop]! < shift) drop++;
      for (let i = drop; i < n; i++) this.#times[base + i - drop] = this.#times[base + i]! - shift;
      this.#count[s] = n - drop;
    }
    this.#base += shift;
  }

  /** Adds `t` in its place among the slot's times (last, unless it came out of order). */
  #push(slot: number, t: number): void {
    const v = this.#offset(t);
    let n = this.#count[slot]!;
    const base = slot * this.ring;
    if (n === this.ring) {
      // Full: the oldest time gives way (only when minocc shrank on reload).
      if (v < this.#times[base]!) return;
      this.#times.copyWithin(base, base + 1, base + n);
      n--;
    } else {
      this.#count[slot] = n + 1;
    }
    let i = n;
    while (i > 0 && this.#times[base + i - 1]! > v) {
      this.#times[base + i] = this.#times[base + i - 1]!;
      i--;
    }
    this.#times[base + i] = v;
  }

  #expire(slot: number, horizon: number): void {
    const base = slot * this.ring;
    const n = this.#count[slot]!;
    const h = horizon - this.#base;
    let drop = 0;
    while (drop < n && this.#times[base + drop]! < h) drop++;
    if (drop === 0) return;
    this.#times.copyWithin(base, base + drop, base + n);
    this.#count[slot] = n - drop;
  }

  #newest(slot: number): number {
    const n = this.#count[slot]!;
    if (n === 0) return -Infinity;
    return this.#base + this.#times[slot * this.ring + n - 1]!;
  }


  // ---- the least-recently-used list -------------------------------------

  #linkTail(slot: number): void {
    this.#prev[slot] = this.#lruTail;
    this.#next[slot] = NIL;
    if (this.#lruTail !== NIL) this.#next[this.#lruTail] = slot;
    else this.#lruHead = slot;
    this.#lruTail = slot;
  }

  #unlink(slot: number): void {
    const p = this.#prev[slot]!;
    const n = this.#next[slot]!;
    if (p !== NIL) this.#next[p] = n;
    else this.#lruHead = n;
    if (n !== NIL) this.#prev[n] = p;
    else this.#lruTail = p;
  }

  #touch(slot: number): void {
    if (this.#lruTail === slot) return;
    this.#unlink(slot);
    this.#linkTail(slot);
  }

  // ---- the index (linear probing) ---------------------------------------

  #keyEquals(slot: number, k: Uint32Array): boolean {
    const keys = this.#keys;
    if (this.words === 1) return keys[slot] === k[0];
    const o = slot * 4;
    return keys[o] === k[0] && keys[o + 1] === k[1] && keys[o + 2] === k[2] && keys[o + 3] === k[3];
  }

  #find(k: Uint32Array): number {
    for (let b = this.#home(hashWords(k, 0, this.words)); ; b = this.#after(b)) {
      const e = this.#index[b]!;
      if (e === 0) return NIL;
      if (this.#keyEquals(e - 1, k)) return e - 1;
    }
  }

  #bucketOfSlot(slot: number): number {
    return this.#home(hashWords(this.#keys, slot * this.words, this.words));
  }

  /** A 32-bit hash to a bucket: the hash as a fraction of 2^32, times the bucket count. */
  #home(h: number): number {
    return Math.floor((h / 4294967296) * this.#buckets);
  }

  #after(b: number): number {
    return b + 1 === this.#buckets ? 0 : b + 1;
  }

  #place(slot: number): void {
    let b = this.#bucketOfSlot(slot);
    while (this.#index[b] !== 0) b = this.#after(b);
    this.#index[b] = slot + 1;
  }

  /** Backward-shift deletion: no tombstones, so probe chains never grow from churn. */
  #unplace(slot: number): void {
    let b = this.#bucketOfSlot(slot);
    while (this.#index[b] !== slot + 1) b = this.#after(b);
    let hole = b;
    for (let j = this.#after(hole); this.#index[j] !== 0; j = this.#after(j)) {
      const home = this.#bucketOfSlot(this.#index[j]! - 1);
      // Move j back into the hole if its home is not cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        this.#index[hole] = this.#index[j]!;
        hole = j;
      }
    }
    this.#index[hole] = 0;
  }
}

/**
 * One blocktype's windows: its IPv4 table and its IPv6 table, `cap` windows
 * in both together. When a new window would pass the cap, the least
 * recently touched of either goes: the one whose newest offence is older
 * (to the millisecond; a window's newest offence is when it was last
 * touched).
 */
class BlocktypeTables {
  readonly v4: WindowTable;
  readonly v6: WindowTable;

  constructor(
    readonly ring: number,
    readonly cap: number,
  ) {
    const makeRoom = () => {
      if (this.size < cap) return;
      (this.v4.oldestTouch <= this.v6.oldestTouch ? this.v4 : this.v6).evictOldest();
    };
    this.v4 = new WindowTable(ring, cap, 1, makeRoom);
    this.v6 = new WindowTable(ring, cap, 4, makeRoom);
  }

  get size(): number {
    return this.v4.size + this.v6.size;
  }

  get evicted(): number {
    return this.v4.evicted + this.v6.evicted;
  }

  table(ip: ParsedIp): WindowTable {
    return ip.bytes.length === 4 ? this.v4 : this.v6;
  }

  prune(horizon: number): number {
    return this.v4.prune(horizon) + this.v6.prune(horizon);
  }
}

export class OffenceWindows {
  readonly #tables = new Map<string, BlocktypeTables>();
  /** evictions counted by the windows these replaced (withCap) */
  #evictedBefore = 0;

  /** `cap`: most windows per blocktype */
  constructor(readonly cap: number) {}

  get size(): number {
    let n = 0;
    for (const t of this.#tables.values()) n += t.size;
    return n;
  }

  /** windows dropped because a cap was reached, since start */
  get evicted(): number {
    let n = this.#evictedBefore;
    for (const t of this.#tables.values()) n += t.evicted;
    return n;
  }

  /** bytes of the tables' arrays in use (WindowTable.bytesInUse) */
  get bytesInUse(): number {
    let n = 0;
    for (const t of this.#tables.values()) n += t.v4.bytesInUse + t.v6.bytesInUse;
    return n;
  }

  /**
   * Counts one offence at `now` (ms). Returns how many offences the window
   * holds with this one; when that reaches `minocc` the window is cleared and
   * the caller is expected to block.
   */
  record(blocktype: string, ip: ParsedIp, now: number, intervalMs: number, minocc: number): number {
    return this.#table(blocktype, minocc).table(ip).record(ip, now, intervalMs, minocc);
  }

  /** Forgets every window of this address (a good line was seen). */
  forget(ip: ParsedIp, blocktypes: readonly string[]): void {
    for (const bt of blocktypes) this.#tables.get(bt)?.table(ip).forget(ip);
  }

  /** Puts back a saved window (state file). */
  restore(blocktype: string, ip: ParsedIp, times: readonly number[], minocc: number): void {
    if (times.length > 0) this.#table(blocktype, minocc).table(ip).restore(ip, times);
  }

  /** Drops windows whose newest offence is older than their blocktype's interval; a blocktype no longer configured is dropped whole. */
  prune(now: number, intervalMsOf: (blocktype: string) => number | undefined): number {
    let dropped = 0;
    for (const [bt, table] of this.#tables) {
      const interval = intervalMsOf(bt);
      if (interval === undefined) {
        dropped += table.size;
        this.#tables.delete(bt);
      } else {
        dropped += table.prune(now - interval);
      }
    }
    return dropped;
  }

  entries(): IterableIterator<WindowEntry> {
    return tablesEntries([...this.#tables].flatMap(([blocktype, f]) => [f.v4, f.v6].map((t) => ({ blocktype, windows: t.entries() }))));
  }

  /**
   * The windows as they are now, to be read later while these change (the
   * daemon's periodic save, on a thread of its own): each table's arrays
   * are copied, some 40 bytes a window, 20-80 ms a million here, where
   * writing them out takes seconds. Plain data in typed
   * arrays of their own: it can be posted to a thread, its buffers
   * transferred (`snapshotBuffers`), and read there (`snapshotEntries`).
   */
  snapshot(): WindowsSnapshot {
    return [...this.#tables].flatMap(([blocktype, f]) => [f.v4, f.v6].map((t) => ({ blocktype, view: t.snapshot() })));
  }

  /**
   * These windows under another cap (a reload changed max_tracked): these
   * same windows, or new ones with every window moved over (a blocktype
   * `minoccOf` does not know is dropped; past the new cap, the windows
   * touched longest ago). A reload that kept the old cap would let a new
   * minocc take the windows past what the config check allows.
   */
  withCap(cap: number, minoccOf: (blocktype: string) => number | undefined): OffenceWindows {
    if (cap === this.cap) return this;
    const fresh = new OffenceWindows(cap);
    for (const e of this.entries()) {
      const minocc = minoccOf(e.blocktype);
      const ip = ipFromText(e.ip);
      if (minocc !== undefined && ip) fresh.restore(e.blocktype, ip, e.times, minocc);
    }
    fresh.#evictedBefore = this.evicted;
    return fresh;
  }

  /** The blocktype's tables, made anew (windows carried over) when a reload changed its minocc. */
  #table(blocktype: string, minocc: number): BlocktypeTables {
    const ring = Math.max(1, minocc - 1);
    let t = this.#tables.get(blocktype);
    if (t !== undefined && t.ring === ring) return t;
    const fresh = new BlocktypeTables(ring, this.cap);
    if (t !== undefined) {
      for (const e of [...t.v4.entries(), ...t.v6.entries()]) {
        const ip = ipFromText(e.ip);
        if (ip) fresh.table(ip).restore(ip, e.times);
      }
    }
    this.#tables.set(blocktype, (t = fresh));
    return t;
  }
}

function ipFromText(text: string): ParsedIp | undefined {
  const r = parseIp(text);
  return r.ok ? r.value : undefined;
}

/** A copy of the windows (OffenceWindows.snapshot): each table's arrays, with its blocktype. */
export type WindowsSnapshot = readonly { readonly blocktype: string; readonly view: TableView }[];

/** The windows of a snapshot, in the order `entries` gives them. */
export function snapshotEntries(s: WindowsSnapshot): IterableIterator<WindowEntry> {
  return tablesEntries(s.map(({ blocktype, view }) => ({ blocktype, windows: viewEntries(view) })));
}

/** The buffers a snapshot's arrays are in (its own: `snapshot` copied them), to transfer it to a thread. */
export function snapshotBuffers(s: WindowsSnapshot): ArrayBuffer[] {
  return s.flatMap(({ view: v }) => [v.next, v.keys, v.times, v.count].map((a) => a.buffer as ArrayBuffer));
}

/**
 * The windows of these tables, each blocktype's in the order they were last
 * touched, its two families merged (each table's list is in that order
 * already). The state file is written in this order and read back in it,
 * and a reload that lowers max_tracked moves windows over in it: under the
 * smaller cap, the most recently touched of both families are the ones
 * kept (IPv4 first, then IPv6, kept newer IPv4 windows out for older IPv6
 * ones).
 */
function* tablesEntries(tables: readonly { blocktype: string; windows: Iterable<{ ip: string; times: number[] }> }[]): IterableIterator<WindowEntry> {
  const byBlocktype = new Map<string, Iterable<{ ip: string; times: number[] }>[]>();
  for (const { blocktype, windows } of tables) {
    const lists = byBlocktype.get(blocktype);
    if (lists === undefined) byBlocktype.set(blocktype, [windows]);
    else lists.push(windows);
  }
  for (const [blocktype, lists] of byBlocktype) for (const e of byNewest(lists)) yield { blocktype, ip: e.ip, times: e.times };
}

/** Lists each in the order of their windows' newest times, merged into one in that order. */
function* byNewest<W extends { times: readonly number[] }>(lists: readonly Iterable<W>[]): Generator<W> {
  const newest = (w: W): number => (w.times.length > 0 ? w.times[w.times.length - 1]! : -Infinity);
  const heads = lists.map((l) => l[Symbol.iterator]()).map((it) => ({ it, at: it.next() }));
  for (;;) {
    let first: (typeof heads)[number] | undefined;
    for (const h of heads) if (h.at.done !== true && (first === undefined || newest(h.at.value) < newest(first.at.value as W))) first = h;
    if (first === undefined) return;
    yield first.at.value as W;
    first.at = first.it.next();
  }
}
