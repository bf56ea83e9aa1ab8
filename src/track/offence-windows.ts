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
 *   - at most `cap` windows exist: when a new one would exceed it, the least
 *     recently touched is evicted (Map keeps insertion order, and a touched
 *     window is moved to the end). Memory is bounded by the cap whatever an
 *     attacker sends.
 *
 * Unlike the Perl banban, each blocktype counts on its own: an SSH failure
 * does not bring a mail offender nearer its threshold.
 */
export interface WindowEntry {
  readonly blocktype: string;
  readonly ip: string;
  readonly times: readonly number[];
}

const SEP = '\u0000';

export class OffenceWindows {
  readonly #windows = new Map<string, number[]>();
  #evicted = 0;

  constructor(readonly cap: number) {}

  get size(): number {
    return this.#windows.size;
  }

  /** windows dropped because the cap was reached, since start */
  get evicted(): number {
    return this.#evicted;
  }

  /**
   * Counts one offence at `now` (ms). Returns how many offences the window
   * holds with this one; when that reaches `minocc` the window is cleared and
   * the caller is expected to block.
   */
  record(blocktype: string, ip: string, now: number, intervalMs: number, minocc: number): number {
    const key = blocktype + SEP + ip;
    let times = this.#windows.get(key);
    if (times === undefined) {
      times = [];
      if (this.#windows.size >= this.cap) this.#evictOldest();
    } else {
      this.#windows.delete(key);
      const horizon = now - intervalMs;
      let drop = 0;
      // A replayed file can go back in time a little (merged logs): such times count as now.
      while (drop < times.length && times[drop]! < horizon) drop++;
      if (drop > 0) times.splice(0, drop);
    }
    times.push(now);
    const count = times.length;
    if (count >= minocc) return count;
    this.#windows.set(key, times);
    return count;
  }

  /** Puts back a saved window (state file), respecting the cap. */
  restore(blocktype: string, ip: string, times: readonly number[]): void {
    if (times.length === 0) return;
    const key = blocktype + SEP + ip;
    this.#windows.delete(key);
    if (this.#windows.size >= this.cap) this.#evictOldest();
    this.#windows.set(key, [...times]);
  }

  /** Forgets every window of this address (a good line was seen). */
  forget(ip: string, blocktypes: readonly string[]): void {
    for (const bt of blocktypes) this.#windows.delete(bt + SEP + ip);
  }

  /** Drops windows whose newest offence is older than their blocktype's interval. */
  prune(now: number, intervalMsOf: (blocktype: string) => number | undefined): number {
    let dropped = 0;
    for (const [key, times] of this.#windows) {
      const bt = key.slice(0, key.indexOf(SEP));
      const interval = intervalMsOf(bt);
      if (interval === undefined || times[times.length - 1]! < now - interval) {
        this.#windows.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  *entries(): IterableIterator<WindowEntry> {
    for (const [key, times] of this.#windows) {
      const sep = key.indexOf(SEP);
      yield { blocktype: key.slice(0, sep), ip: key.slice(sep + 1), times };
    }
  }

  #evictOldest(): void {
    const oldest = this.#windows.keys().next();
    if (!oldest.done) {
      this.#windows.delete(oldest.value);
      this.#evicted++;
    }
  }
}
