/**
 * The in-process memory figure: bytes per tracked address in the engine's
 * offence windows alone (src/track/offence-windows.ts), with nothing else in
 * the process. Run by the bench as
 *
 *   node --expose-gc dist/test/bench/windows-memory.js N MINOCC
 *
 * N distinct IPv4 addresses, then N distinct IPv6 ones, one offence each
 * (below MINOCC), into one blocktype capped at 2N. Prints JSON: the growth
 * of V8's heap plus the bytes of the typed arrays in use (OffenceWindows.bytesInUse:
 * the arrays are made for the cap at once, and take memory only as they are
 * used) per window, and of the process RSS.
 */
import { parseIp, type ParsedIp } from '../../src/lib/ip.js';
import { OffenceWindows } from '../../src/track/offence-windows.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write('windows-memory: run with node --expose-gc\n');
  process.exit(64);
}

const n = Number(process.argv[2] ?? 1_000_000);
const minocc = Number(process.argv[3] ?? 3);

function ip(text: string): ParsedIp {
  const r = parseIp(text);
  if (!r.ok) throw new Error(`${text}: ${r.reason}`);
  return r.value;
}

const w = new OffenceWindows(2 * n);

/** The typed arrays are made for the cap at once and take memory only as used: what they hold is counted by the engine. */
function measure(): { heap: number; buffers: number; rss: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: w.bytesInUse, rss: m.rss };
}

const before = measure();
const t0 = performance.now();
for (let i = 0; i < n; i++) w.record('ssh', ip(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`), t0 + i / 1000, 600_000, minocc);
const mid = measure();
for (let i = 0; i < n; i++) w.record('ssh', ip(`2001:db8:${((i >> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}::1`), t0 + i / 1000, 600_000, minocc);
const after = measure();
const ms = performance.now() - t0;
const per = (a: typeof before, b: typeof before, k: number) => Math.round(((b.heap + b.buffers - a.heap - a.buffers) / k) * 10) / 10;
process.stdout.write(
  JSON.stringify({
    windows: w.size,
    minocc,
    bytesPerWindow: per(before, after, 2 * n),
    bytesPerWindowV4: per(before, mid, n),
    bytesPerWindowV6: per(mid, after, n),
    rssGrowthPerWindow: Math.round(((after.rss - before.rss) / (2 * n)) * 10) / 10,
    recordsPerSecond: Math.round((2 * n) / (ms / 1000)),
  }) + '\n',
);
