/** The daemon's clocks: monotonic milliseconds, and the CPU time of the thread that asks. */
import { closeSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export type Clock = () => number;

/** monotonic ms, immune to NTP steps and DST */
export const monotonicMs: Clock = () => performance.now();

/**
 * The CPU time of the calling thread so far, ms, from Linux's
 * /proc/thread-self/schedstat (its first field: nanoseconds run). The file
 * is opened once, by the thread the clock is for, and read again from its
 * start at each call (some 4 µs). Unlike a wall-clock interval, it does not
 * count the time the thread waited for a core: on a machine whose cores
 * are taken, a thread preempted mid-work is not busier for it.
 *
 * Returns undefined where the file cannot be opened (no /proc, a kernel
 * without schedstat); the clock returns NaN once a read fails. One file
 * per thread, kept open for the thread's life: each thread (worker) has
 * this module, and so this cache, to itself.
 */
export function threadCpuClock(): Clock | undefined {
  if (threadCpu === null) threadCpu = openThreadCpu();
  return threadCpu;
}

let threadCpu: Clock | undefined | null = null;

function openThreadCpu(): Clock | undefined {
  let fd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return undefined;
  }
  const buf = Buffer.alloc(64);
  const read: Clock = () => {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, 0);
    } catch {
      return NaN;
    }
    let ns = 0;
    let i = 0;
    for (; i < n && buf[i]! >= 0x30 && buf[i]! <= 0x39; i++) ns = ns * 10 + (buf[i]! - 0x30);
    return i > 0 ? ns / 1e6 : NaN;
  };
  if (!Number.isNaN(read())) return read;
  closeSync(fd);
  return undefined;
}
