/**
 * The matches of a replay (`banban test`), kept in columns, not as an
 * object each: a month of a busy host's log has millions of them.
 *
 * Why columns: an object per match lived until the report was printed, so
 * every one (and the line its address string was cut from) was copied by
 * each young-generation collection it lived through and then moved to the
 * old one; and JSON.stringify walked them all again at the end. On the
 * bench corpus (300 000 lines, 103 000 matches) keeping them cost about
 * 40 ms and printing them 35 ms of a 520 ms run; with every preset, the
 * 25 000 connection ends not counted again (`repeated`) 20-30 ms more.
 * Here an entry is 16 bytes in typed arrays (its line, what it is, its
 * address; an IPv6 address's text is kept beside them) and the JSON is
 * written straight into buffers.
 *
 * Two lists of a report are kept so: its matches (ReplayMatch, with their
 * `kind`) and its repeated ends (RepeatedEnd, a blocktype's, no `kind`).
 *
 * Contract:
 *   - `push` takes an entry's parts; nothing is kept of the ParsedIp but
 *     its address (IPv4 as a 32-bit word, IPv6 as its canonical text);
 *   - `at(i)`, iteration and `toJSON()` give entry objects, made on the
 *     spot, with their keys in the order the report has always had;
 *   - `jsonChunks()` gives the bytes of `JSON.stringify(this)`, exactly
 *     (a test holds it to that), in buffers of about CHUNK bytes that are
 *     the caller's to keep.
 */
import { ipv4FromWord, ipWord, type ParsedIp } from './lib/ip.js';

export interface ReplayMatch {
  line: number;
  kind: 'good' | 'bad';
  blocktype?: string;
  ip: string;
  /** inside ignorenets: matched, never counted */
  ignored?: true;
}

/** A line a blocktype's endpattern matched, not counted: its process had counted its connection's end already. */
export interface RepeatedEnd {
  line: number;
  blocktype: string;
  ip: string;
}

/** What an entry is: good, or bad for a blocktype; with its JSON between the line number and the address. */
interface Kind {
  kind: 'good' | 'bad';
  blocktype?: string;
  /** `,"kind":...,"ip":"`, or for a RepeatedEnd `,"blocktype":...,"ip":"` */
  middle: Buffer;
}

const CHUNK = 256 * 1024;
/** room for an entry besides its middle: `,{"line":` and up to 16 digits; an address (IPv6 text is at most 39); its end */
const MATCH_ROOM = 32 + 48 + 24;
/** in a match's code, above its kind's number */
const IGNORED = 2;
const V6 = 1;
const OPEN = Buffer.from('{"line":');
const CLOSE = Buffer.from('"}');
const CLOSE_IGNORED = Buffer.from('","ignored":true}');

/**
 * Entries of one of two shapes: ReplayMatch (`withKind`) or RepeatedEnd.
 * One class for both lists, made by `matches()` and `repeatedEnds()`, not
 * a subclass each: the replay's hot code (replay.ts, Replay.#found) then
 * pushes to objects of one shape through one function, which V8 compiles
 * once, small. Measured with every preset on the bench corpus, counting
 * instructions (callgrind, one thread): 2% fewer for the whole run than
 * with a subclass per list.
 */
export class ReplayEntries<T extends ReplayMatch | RepeatedEnd> {
  readonly #withKind: boolean;
  #length = 0;
  #ignored = 0;
  #lines = new Float64Array(1024);
  /** kind number << 2 | IGNORED | V6 */
  #codes = new Uint32Array(1024);
  /** IPv4: the address as one word; IPv6: its index in #v6 */
  #addrs = new Uint32Array(1024);
  readonly #v6: string[] = [];
  readonly #kinds: Kind[] = [];
  /** blocktype -> its kind's number; good lines are kind 0 */
  readonly #kindOf = new Map<string, number>();

  private constructor(withKind: boolean) {
    this.#withKind = withKind;
    this.#kinds.push(kindOf('good', undefined, withKind));
  }

  /** a report's matches */
  static matches(): ReplayMatches {
    return new ReplayEntries<ReplayMatch>(true);
  }

  /** a report's repeated ends */
  static repeatedEnds(): RepeatedEnds {
    return new ReplayEntries<RepeatedEnd>(false);
  }

  get length(): number {
    return this.#length;
  }

  /** how many are inside ignorenets */
  get ignored(): number {
    return this.#ignored;
  }

  /**
   * A match: a good line's (`blocktype` undefined) or a bad line's for a blocktype; `ignored`: inside ignorenets.
   * A repeated end: always a blocktype's, never ignored.
   */
  push(line: number, blocktype: string | undefined, ip: ParsedIp, ignored = false): void {
    const i = this.#length;
    if (i === this.#lines.length) this.#grow();
    let kind = 0;
    if (blocktype !== undefined) {
      const k = this.#kindOf.get(blocktype);
      if (k === undefined) {
        kind = this.#kinds.length;
        this.#kinds.push(kindOf('bad', blocktype, this.#withKind));
        this.#kindOf.set(blocktype, kind);
      } else {
        kind = k;
      }
    }
    let code = kind << 2;
    if (ignored) {
      code |= IGNORED;
      this.#ignored++;
    }
    if (ip.family === 4) {
      this.#addrs[i] = ipWord(ip.bytes, 0);
    } else {
      code |= V6;
      this.#addrs[i] = this.#v6.length;
      this.#v6.push(ip.text);
    }
    this.#lines[i] = line;
    this.#codes[i] = code;
    this.#length = i + 1;
  }

  /** The entry at `i`; as Array.prototype.at, a negative `i` counts from the end. */
  at(i: number): T | undefined {
    if (i < 0) i += this.#length;
    if (!Number.isInteger(i) || i < 0 || i >= this.#length) return undefined;
    const code = this.#codes[i]!;
    const k = this.#kinds[code >>> 2]!;
    const line = this.#lines[i]!;
    const ip = code & V6 ? this.#v6[this.#addrs[i]!]! : ipv4FromWord(this.#addrs[i]!).text;
    if (!this.#withKind) return { line, blocktype: k.blocktype!, ip } as T;
    const m: ReplayMatch = k.blocktype === undefined ? { line, kind: k.kind, ip } : { line, kind: k.kind, blocktype: k.blocktype, ip };
    if (code & IGNORED) m.ignored = true;
    return m as T;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.at(i)!;
  }

  toJSON(): T[] {
    return [...this];
  }

  /** The bytes of JSON.stringify(this): `[`, the matches, `]`. */
  jsonChunks(): Buffer[] {
    return entriesJson({ n: this.#length, lines: this.#lines, codes: this.#codes, addrs: this.#addrs, v6: this.#v6, middles: this.#kinds.map((k) => k.middle) });
  }

  #grow(): void {
    const n = this.#lines.length * 2;
    const lines = new Float64Array(n);
    lines.set(this.#lines);
    this.#lines = lines;
    const codes = new Uint32Array(n);
    codes.set(this.#codes);
    this.#codes = codes;
    const addrs = new Uint32Array(n);
    addrs.set(this.#addrs);
    this.#addrs = addrs;
  }
}

export type ReplayMatches = ReplayEntries<ReplayMatch>;
export type RepeatedEnds = ReplayEntries<RepeatedEnd>;

/** An entry list's columns, as the JSON writer reads them (ReplayEntries). */
interface Columns {
  readonly n: number;
  readonly lines: Float64Array;
  readonly codes: Uint32Array;
  readonly addrs: Uint32Array;
  readonly v6: readonly string[];
  /** per kind: its JSON between the line number and the address */
  readonly middles: readonly Uint8Array[];
}

/**
 * The JSON of a list's entries from its columns (ReplayEntries.jsonChunks): `[`,
 * the entries, `]`, in buffers of about CHUNK bytes.
 *
 * Written for code that runs once per list and must be fast the first
 * time. The loop is a function of its own, called once per buffer, with
 * the same argument types for both lists: V8 compiles a long loop while it
 * runs, and the compiled loop is thrown back to the interpreter by what
 * it has not seen yet (V8's --trace-deopt shows it). Inside a method, the
 * report's second list (the repeated ends, with every preset: 29 000 on
 * the bench corpus) was such a thing, being of another class then; so
 * were the first full buffer (`chunks.push`) and the first `Buffer.copy`
 * of a rare piece. Bytes are copied by `put`, one loop for every piece.
 */
function entriesJson(c: Columns): Buffer[] {
  const chunks: Buffer[] = [];
  // every buffer has room for one entry at least, after the `[`
  const room = Math.max(CHUNK, ...c.middles.map((m) => 1 + m.length + MATCH_ROOM));
  const next = { i: 0 };
  do {
    const buf = Buffer.allocUnsafe(room);
    let at = 0;
    if (next.i === 0) buf[at++] = 0x5b; // [
    const from = next.i;
    at = fillJson(buf, at, next, c);
    if (next.i === from && from < c.n) throw new Error(`replay report: entry ${from} does not fit in ${room} bytes`); // cannot happen: room is made for it
    if (next.i === c.n) buf[at++] = 0x5d; // ] (an entry leaves at least 20 of MATCH_ROOM's bytes free)
    chunks.push(buf.subarray(0, at));
  } while (next.i < c.n);
  return chunks;
}

/** Writes entries from the `next.i`-th at `at` until `buf` has no room for another or none is left; returns the end, `next.i` the first not written. */
function fillJson(buf: Buffer, at: number, next: { i: number }, c: Columns): number {
  const { n, lines, codes, addrs, v6, middles } = c;
  for (let i = next.i; i < n; i++) {
    const code = codes[i]!;
    const middle = middles[code >>> 2]!;
    if (at + middle.length + MATCH_ROOM > buf.length) break;
    if (i > 0) buf[at++] = 0x2c; // ,
    at = put(buf, at, OPEN);
    at = writeInteger(buf, at, lines[i]!);
    at = put(buf, at, middle);
    at = code & V6 ? writeAscii(buf, at, v6[addrs[i]!]!) : writeV4(buf, at, addrs[i]!);
    at = put(buf, at, code & IGNORED ? CLOSE_IGNORED : CLOSE);
    // Kept in the loop, not stored once after it: V8 compiles this loop while it runs (OSR), when a
    // store after it has never run and has no type feedback, and it threw the compiled code away
    // where the loop ended (8 times a run with every preset, `--trace-deopt`).
    next.i = i + 1;
  }
  return at;
}

/** Copies `bytes` into `buf` at `at`; returns the end. (Buffer.copy costs more for a few bytes.) */
function put(buf: Uint8Array, at: number, bytes: Uint8Array): number {
  for (let j = 0; j < bytes.length; j++) buf[at + j] = bytes[j]!;
  return at + bytes.length;
}

function kindOf(kind: 'good' | 'bad', blocktype: string | undefined, withKind: boolean): Kind {
  const bt = blocktype === undefined ? '' : `,"blocktype":${JSON.stringify(blocktype)}`;
  return { kind, blocktype, middle: Buffer.from(`${withKind ? `,"kind":"${kind}"` : ''}${bt},"ip":"`) };
}

/** Writes a line number (a whole number from 0 to 2^53, as JSON writes it) in decimal at `at`; returns the end. */
function writeInteger(buf: Buffer, at: number, n: number): number {
  if (n < 10) {
    buf[at] = 48 + n;
    return at + 1;
  }
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  let v = n;
  for (let j = at + digits - 1; j >= at; j--) {
    const q = Math.floor(v / 10);
    buf[j] = 48 + (v - q * 10);
    v = q;
  }
  return at + digits;
}

function writeV4(buf: Buffer, at: number, word: number): number {
  at = writeInteger(buf, at, word >>> 24);
  buf[at++] = 0x2e;
  at = writeInteger(buf, at, (word >>> 16) & 255);
  buf[at++] = 0x2e;
  at = writeInteger(buf, at, (word >>> 8) & 255);
  buf[at++] = 0x2e;
  return writeInteger(buf, at, word & 255);
}

/** An IPv6 address's canonical text: hex digits, ':' and '.', one byte each. */
function writeAscii(buf: Buffer, at: number, s: string): number {
  for (let j = 0; j < s.length; j++) buf[at++] = s.charCodeAt(j);
  return at;
}
