/**
 * Which address each process (`prog[pid]`) named last, and when: the memory
 * that lets a line without an address (sshd's `fatal: ... [preauth]`)
 * count against the address its process showed before (ban-engine.ts).
 * Per process also the blocktypes that counted its connection's end already
 * (`claimEnd`): sshd and postfix may write a connection's end on two lines,
 * and it counts once.
 * Pure: time is passed in.
 *
 * It is noted for every line of such a program that names an address
 * (174 000 times a run with every preset on the bench corpus, sshd's and
 * postfix's smtpd's lines), so a note
 * stores no object: a slot per process in typed arrays, the address as its
 * four bytes when it is IPv4 (the ParsedIp is made again on the rare
 * lookup). An object stored per note outlived the young generation in the
 * daemon, where a day of lines arrives within seconds and nothing expires:
 * the main thread spent 310 ms a run in the collector with every preset
 * against 127 with 10 patterns, which have no such memory.
 *
 * At most `cap` processes, the one noted first going first (a process
 * noted again keeps its place), and none past `ttlMs`, which a lookup
 * ignores anyway: they leave as new ones come, so on a live host the table
 * holds the live processes, not `cap` stale ones whose lookups miss the
 * CPU's cache.
 *
 * A process is found by a hash table of its own (open addressing, linear
 * probing, in a typed array), not a Map: on the bench corpus, 50 000 notes
 * a run are for a process other than the one noted before, and 38 000 of
 * them for one never seen, which a Map<string, number> then inserts and
 * later deletes. Measured on those 170 000 notes in order, the fastest of
 * 15 runs in one process: 18.8 ms with the Map, 8.6 with this table; the
 * table (twice `cap` entries, 256 KB for 20 000) keeps its probes short.
 */
import { ipv4FromWord, ipWord, type ParsedIp } from '../lib/ip.js';

export class SessionMemory {
  readonly #cap: number;
  readonly #ttlMs: number;
  /** the hash table: slot + 1 of the process whose hash leads here (0: empty); a power of two long, at least twice `cap` */
  readonly #table: Int32Array;
  readonly #mask: number;
  /** per slot: its process's hash (tagHash) */
  readonly #hash: Uint32Array;
  /** per slot: its process (a ring in the order they were first noted: #count from #head) */
  readonly #keys: (string | undefined)[];
  readonly #at: Float64Array;
  /** per slot: the IPv4 address as a 32-bit number, when #v6 has none */
  readonly #v4: Uint32Array;
  readonly #v6: (ParsedIp | undefined)[];
  /** per slot: the blocktypes (one bit each, `claimEnd`) that counted this process's end */
  readonly #ended: Uint32Array;
  #head = 0;
  #count = 0;
  /**
   * The process noted last, and its slot: a program's lines of one process
   * come in bursts (on the bench corpus, 70% of notes are for the process
   * of the note before), and these skip the Map. Processes leave only in
   * `note`, for a new one, which then becomes the one noted last.
   */
  #lastKey: string | undefined;
  #lastSlot = -1;
  /** tagHash's start */
  readonly #seed = (Math.random() * 2 ** 32) >>> 0;

  constructor(cap: number, ttlMs: number) {
    this.#cap = cap;
    this.#ttlMs = ttlMs;
    let size = 4;
    while (size < 2 * cap) size *= 2;
    this.#table = new Int32Array(size);
    this.#mask = size - 1;
    this.#hash = new Uint32Array(cap);
    this.#keys = new Array<string | undefined>(cap).fill(undefined);
    this.#at = new Float64Array(cap);
    this.#v4 = new Uint32Array(cap);
    this.#v6 = new Array<ParsedIp | undefined>(cap).fill(undefined);
    this.#ended = new Uint32Array(cap);
  }

  /** how many processes are remembered (tests) */
  get size(): number {
    return this.#count;
  }

  /** `session` named `ip` at `now`; `start`: where a connection of it starts (its end has not been counted). */
  note(session: string, ip: ParsedIp, now: number, start = false): void {
    // tagHash is never negative: -1 stands for "the process noted last", found without it
    const hash = session === this.#lastKey ? -1 : tagHash(session, this.#seed);
    let slot = hash < 0 ? this.#lastSlot : this.#find(session, hash);
    if (slot < 0) {
      while (this.#count > 0 && (this.#count === this.#cap || now - this.#at[this.#head]! > this.#ttlMs)) {
        this.#remove(this.#head);
        this.#keys[this.#head] = undefined;
        this.#v6[this.#head] = undefined;
        this.#head = (this.#head + 1) % this.#cap;
        this.#count--;
      }
      slot = (this.#head + this.#count) % this.#cap;
      this.#count++;
      this.#keys[slot] = session;
      this.#insert(slot, hash);
      this.#ended[slot] = 0;
    } else if (this.#ended[slot] !== 0 && (start || now - this.#at[slot]! > this.#ttlMs || !this.#holds(slot, ip))) {
      // A connection's start, another address, or a process quiet past the TTL: another
      // connection (of a process that serves one after another, or a reused process id),
      // whose end has not been counted.
      this.#ended[slot] = 0;
    }
    this.#lastKey = session;
    this.#lastSlot = slot;
    this.#at[slot] = now;
    if (ip.family === 4) {
      this.#v4[slot] = ipWord(ip.bytes, 0);
      if (this.#v6[slot] !== undefined) this.#v6[slot] = undefined;
    } else {
      this.#v6[slot] = ip;
    }
  }

  /** The slot of `session`, whose tagHash is `hash`, or -1. */
  #find(session: string, hash: number): number {
    const table = this.#table;
    for (let i = hash & this.#mask; ; i = (i + 1) & this.#mask) {
      const s = table[i]! - 1;
      if (s < 0) return -1;
      if (this.#hash[s] === hash && this.#keys[s] === session) return s;
    }
  }

  #insert(slot: number, hash: number): void {
    this.#hash[slot] = hash;
    let i = hash & this.#mask;
    while (this.#table[i] !== 0) i = (i + 1) & this.#mask;
    this.#table[i] = slot + 1;
  }

  /**
   * Takes `slot` out of the table. The entries after it in its run move
   * back into the hole where their probe would pass it (backward-shift
   * deletion): no tombstones, so a lookup's probe stays as short as the
   * live entries make it.
   */
  #remove(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let hole = this.#hash[slot]! & mask;
    while (table[hole] !== slot + 1) hole = (hole + 1) & mask;
    table[hole] = 0;
    for (let j = (hole + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = this.#hash[table[j]! - 1]! & mask;
      // the entry at j stays when its home lies cyclically in (hole, j]
      const stays = hole < j ? home > hole && home <= j : home > hole || home <= j;
      if (!stays) {
        table[hole] = table[j]!;
        table[j] = 0;
        hole = j;
      }
    }
  }

  /** whether `slot` holds `ip` */
  #holds(slot: number, ip: ParsedIp): boolean {
    const v6 = this.#v6[slot];
    if (ip.family === 4) return v6 === undefined && this.#v4[slot] === ipWord(ip.bytes, 0);
    return v6 !== undefined && (v6 === ip || v6.bytes.every((b, i) => b === ip.bytes[i]));
  }

  /**
   * Whether the end of `session`'s connection may count for the blocktype
   * whose bit is `bit`: true the first time, and from then on false for
   * that bit until a connection of the process starts (`note` with
   * `start`), it names another address, or its memory expires. A process not remembered (never noted, or past the TTL) has
   * nothing to compare with: true.
   */
  claimEnd(session: string, bit: number, now: number): boolean {
    const slot = session === this.#lastKey ? this.#lastSlot : this.#find(session, tagHash(session, this.#seed));
    if (slot < 0 || now - this.#at[slot]! > this.#ttlMs) return true;
    const ended = this.#ended[slot]!;
    if ((ended & bit) !== 0) return false;
    this.#ended[slot] = ended | bit;
    return true;
  }

  /** The address `session` named last, if it did so within the TTL. */
  get(session: string, now: number): ParsedIp | undefined {
    const slot = this.#find(session, tagHash(session, this.#seed));
    if (slot < 0 || now - this.#at[slot]! > this.#ttlMs) return undefined;
    const v6 = this.#v6[slot];
    if (v6 !== undefined) return v6;
    return ipv4FromWord(this.#v4[slot]!);
  }
}

/**
 * A process tag's hash: FNV-1a over its character codes from a per-memory
 * random start, then murmur3's finalizer so that the table's low bits
 * depend on every character. The tags come from log lines, which local
 * users can write: with a start they cannot know, they cannot pick tags
 * that all land in one run of the table (V8 seeds its own string hashes
 * for the same reason).
 */
function tagHash(tag: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
