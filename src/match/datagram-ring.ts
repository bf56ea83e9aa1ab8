/**
 * Datagrams on their way to the matching thread, in one SharedArrayBuffer
 * both threads see: the main thread writes each datagram once, the
 * matching thread reads it where it lies. No buffer is allocated or copied
 * per batch, and the ring's size bounds what can wait (back-pressure).
 *
 * Layout: records one after another, each a 4-byte little-endian length and
 * the datagram's bytes. A record never wraps: when the space left before
 * the end cannot hold it, a WRAP length is written there (or nothing, if
 * fewer than 4 bytes are left) and the record starts again at 0.
 *
 * Ownership: the writer owns [head, tail) going round (the free space), the
 * reader the records of a batch from when it is handed over until it is
 * answered. Only the writer moves `head`, and it reuses a batch's bytes
 * only after the reader has answered for it, so no byte is ever written
 * while it may be read. The hand-over itself is a message (postMessage),
 * which orders the writes before the reads.
 */
export const WRAP = 0xffffffff;

/** Where records are, and how much the writer may still put. */
export class RingWriter {
  readonly bytes: Buffer;
  #head = 0;
  /** bytes between the oldest unanswered record and head, wrap gaps included */
  #used = 0;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.bytes = Buffer.from(buffer);
  }

  get head(): number {
    return this.#head;
  }

  get used(): number {
    return this.#used;
  }

  /** The bytes a record of `length` would take now (gap at the end included), or 0 if it does not fit now. */
  cost(length: number): number {
    return this.#place(length)?.taken ?? 0;
  }

  /**
   * Writes one record if it fits; returns the bytes it took (gap at the end
   * included), or 0 when there is no room now (the reader must answer first).
   */
  write(datagram: Uint8Array): number {
    const place = this.#place(datagram.length);
    if (place === undefined) return 0;
    const { at, taken } = place;
    if (at === 0 && this.#head !== 0 && this.bytes.length - this.#head >= 4) this.bytes.writeUInt32LE(WRAP, this.#head);
    this.bytes.writeUInt32LE(datagram.length, at);
    this.bytes.set(datagram, at + 4);
    this.#head = at + 4 + datagram.length;
    this.#used += taken;
    return taken;
  }

  /** Where a record of `length` goes and what it takes, or undefined when it does not fit now. */
  #place(length: number): { at: number; taken: number } | undefined {
    const size = this.bytes.length;
    const need = 4 + length;
    if (need > size / 2) throw new Error(`a datagram of ${length} bytes does not fit a ring of ${size}`);
    const free = size - this.#used;
    if (this.#head + need <= size) return need <= free ? { at: this.#head, taken: need } : undefined;
    // Not enough before the end: the record goes to 0, and the gap counts as used.
    const gap = size - this.#head;
    return gap + need <= free ? { at: 0, taken: gap + need } : undefined;
  }

  /** The reader answered for records that took `bytes` (as `write` returned them). */
  release(bytes: number): void {
    this.#used -= bytes;
    if (this.#used < 0) throw new Error('ring released more than was written');
    if (this.#used === 0) this.#head = 0; // empty: start afresh, the best place for long records
  }
}

/** Calls `each` with `count` records from `start`, as `bytes[start, end)` of the ring. */
export function readRing(bytes: Buffer, start: number, count: number, each: (buf: Buffer, start: number, end: number) => void): void {
  const size = bytes.length;
  let at = start;
  for (let k = 0; k < count; k++) {
    if (at + 4 > size) at = 0;
    let len = bytes.readUInt32LE(at);
    if (len === WRAP) {
      at = 0;
      len = bytes.readUInt32LE(0);
    }
    const end = at + 4 + len;
    if (end > size) throw new Error(`ring record ${k} of ${count} at ${at} runs past the end (${len} bytes)`);
    each(bytes, at + 4, end);
    at = end;
  }
}
