/**
 * Long walks on the daemon's main thread, cut into slices: between two,
 * the event loop runs (datagrams are read, matched and decided). What is
 * walked may change between slices; the walk must allow for that.
 */

/** How many items between two looks at the clock: reading it costs more than a cheap item. */
const ITEMS_PER_LOOK = 128;

/**
 * Calls `each` on every item, letting the event loop run after about
 * `sliceMs` of it. `cancelled` is asked between slices: resolves false
 * when it said yes and the walk stopped there, true when every item was
 * seen.
 */
export async function forEachInSlices<T>(items: Iterable<T>, each: (item: T) => void, opts: { sliceMs?: number; cancelled?: () => boolean } = {}): Promise<boolean> {
  const sliceMs = opts.sliceMs ?? 1;
  let start = performance.now();
  let n = 0;
  for (const item of items) {
    each(item);
    if (++n % ITEMS_PER_LOOK === 0 && performance.now() - start >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      if (opts.cancelled?.() === true) return false;
      start = performance.now();
    }
  }
  return true;
}
