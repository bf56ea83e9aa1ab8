/**
 * The other source of lines: a log file (or stdin) for `banban test`.
 * Bytes in, lines out as byte ranges: each becomes one datagram for the
 * matcher (match/batch-matcher.ts), which decodes it as the daemon would.
 *
 * A line ends at LF; the LF is not part of it (a CR before it is, and
 * decoding drops it as it does a datagram's). The last line needs no LF. A
 * line longer than `longest` bytes is handed over cut to its first
 * `longest` bytes: the matcher skips it as too long either way, and no more
 * of it is ever held in memory, however long it is.
 */

const LF = 10;

export type OnLine = (buf: Buffer, start: number, end: number) => void;

/** Bytes as they come (a stream's chunks, or a file piece's reads) to whole lines. */
export class LineSplitter {
  /** the open line's bytes so far, once a chunk ended inside it */
  #carry: Buffer | undefined;

  constructor(
    readonly longest: number,
    readonly onLine: OnLine,
  ) {}

  push(chunk: Buffer, from = 0, to = chunk.length): void {
    let start = from;
    const carry = this.#carry;
    if (carry !== undefined) {
      const lf = indexOfLf(chunk, from, to);
      // Of the open line, longest + 1 bytes say all there is to say: it is too long.
      const room = this.longest + 1 - carry.length;
      if (lf < 0) {
        if (room > 0) this.#carry = Buffer.concat([carry, chunk.subarray(from, Math.min(to, from + room))]);
        return;
      }
      const line = room > 0 ? Buffer.concat([carry, chunk.subarray(from, Math.min(lf, from + room))]) : carry;
      this.#carry = undefined;
      this.#emit(line, 0, line.length);
      start = lf + 1;
    }
    for (let lf = indexOfLf(chunk, start, to); lf >= 0; lf = indexOfLf(chunk, start, to)) {
      this.#emit(chunk, start, lf);
      start = lf + 1;
    }
    if (start < to) this.#carry = Buffer.from(chunk.subarray(start, Math.min(to, start + this.longest + 1)));
  }

  /** The input ended: an open line is a line. */
  end(): void {
    const carry = this.#carry;
    this.#carry = undefined;
    if (carry !== undefined) this.#emit(carry, 0, carry.length);
  }

  #emit(buf: Buffer, start: number, end: number): void {
    this.onLine(buf, start, Math.min(end, start + this.longest));
  }
}

function indexOfLf(buf: Buffer, from: number, to: number): number {
  const i = buf.indexOf(LF, from);
  return i >= 0 && i < to ? i : -1;
}
