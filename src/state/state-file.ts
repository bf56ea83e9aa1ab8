/**
 * What survives a restart: offence windows and active bans, in one JSON
 * file.
 *
 *   - saved atomically: written to a temporary file in the same folder,
 *     fsync'ed, renamed over the old one, and the folder fsync'ed, so a
 *     crash or power cut leaves either the old file or the new one;
 *   - times are wall-clock milliseconds (the daemon's monotonic clock
 *     restarts with the process);
 *   - read as hostile input: it is validated field by field, entries that
 *     fail are skipped and counted, and a file that cannot be read as a
 *     state file at all is set aside (renamed `.corrupt-<time>`) with a
 *     warning: the daemon starts empty rather than not at all.
 */
import { closeSync, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { TARGET_NAME_RE } from '../config/schema.js';
import type { ActiveBan } from '../enforce/enforcer.js';
import type { WindowEntry } from '../track/offence-windows.js';
import { parseIp } from '../lib/ip.js';

export const STATE_VERSION = 1;

export interface SavedWindow {
  readonly blocktype: string;
  readonly ip: string;
  /** wall-clock ms, oldest first */
  readonly times: readonly number[];
}

export interface SavedState {
  readonly savedAt: number;
  readonly windows: readonly SavedWindow[];
  readonly bans: readonly ActiveBan[];
}

/** What is saved: windows as an iterable, so millions of them are written without being held twice. */
export interface StateToSave {
  readonly savedAt: number;
  readonly windows: Iterable<SavedWindow>;
  readonly bans: readonly ActiveBan[];
}

export interface DecodeLimits {
  maxWindows: number;
  maxBans: number;
  /** most times a window may hold (the daemon reads more than it keeps: it cuts them to minocc - 1) */
  maxTimes: number;
}

export type Decoded = { ok: true; state: SavedState; skipped: number } | { ok: false; reason: string };

/**
 * The most characters a state file is written with. It is read back as one
 * string, and V8 makes none longer than 2^29 - 24 characters (a file of
 * 750 MB, 8 million IPv6 windows, could be written but not read: the
 * restart then began with nothing). About 50 bytes a window: some 8 million.
 */
export const MAX_STATE_CHARS = 400 * 1024 * 1024;
/** The most windows, and bans, a state file can hold: the shortest entry takes some 20 characters. */
export const MAX_STATE_ENTRIES = Math.ceil(MAX_STATE_CHARS / 16);
/** A file longer than this is not even read (it cannot be a state file banban wrote). */
const MAX_STATE_READ = 0x1fffffe8;

/**
 * The state file's text, in pieces: one JSON document, one ban or window at
 * a time. Bans come first, all of them; windows follow until `maxChars`
 * would be passed, and `cut` is told how many were left out.
 */
export function* encodeState(s: StateToSave, maxChars = MAX_STATE_CHARS, cut?: (windowsLeftOut: number) => void): Generator<string> {
  let chars = 0;
  const piece = (text: string): string => {
    chars += text.length;
    return text;
  };
  yield piece(`{"version":${STATE_VERSION},"savedAt":${JSON.stringify(s.savedAt)},"bans":[`);
  let sep = '';
  for (const b of s.bans) {
    yield piece(sep + JSON.stringify([b.ip, b.target, b.blocktype, b.at, b.until]));
    sep = ',';
  }
  yield piece('],"windows":[');
  sep = '';
  let left = 0;
  for (const w of s.windows) {
    const text = sep + JSON.stringify([w.blocktype, w.ip, w.times]);
    if (left > 0 || chars + text.length + 2 > maxChars) {
      left++;
      continue;
    }
    yield piece(text);
    sep = ',';
  }
  yield ']}';
  if (left > 0) cut?.(left);
}

/** What a save writes, as the daemon holds it: windows in its monotonic milliseconds, bans in wall-clock ones. */
export interface StateNow {
  /** wall-clock and monotonic ms at the same moment: a window's times are written as wall-clock ones */
  readonly wall: number;
  readonly mono: number;
  readonly windows: Iterable<WindowEntry>;
  readonly bans: readonly ActiveBan[];
}

/** The state file's text for `s` (encodeState), however and wherever it is written. */
export function stateText(s: StateNow, maxChars = MAX_STATE_CHARS, cut?: (windowsLeftOut: number) => void): Generator<string> {
  const { wall, mono, windows } = s;
  function* saved(): Generator<SavedWindow> {
    for (const w of windows) yield { blocktype: w.blocktype, ip: w.ip, times: w.times.map((t) => Math.round(wall - (mono - t))) };
  }
  return encodeState({ savedAt: wall, windows: saved(), bans: s.bans }, maxChars, cut);
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const isTime = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0 && n < 1e14;

/** Validates a state file's text. Bad entries are skipped; a bad structure fails the whole file. */
export function decodeState(text: string, limits: DecodeLimits): Decoded {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `not JSON: ${(e as Error).message}` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'not a JSON object' };
  const o = raw as Record<string, unknown>;
  if (o['version'] !== STATE_VERSION) return { ok: false, reason: `unknown version ${JSON.stringify(o['version'])} (this banban reads ${STATE_VERSION})` };
  if (!isTime(o['savedAt'])) return { ok: false, reason: 'savedAt is not a time' };
  if (!Array.isArray(o['windows']) || !Array.isArray(o['bans'])) return { ok: false, reason: 'windows and bans must be lists' };
  let skipped = 0;
  const windows: SavedWindow[] = [];
  for (const w of o['windows'] as unknown[]) {
    if (windows.length >= limits.maxWindows) {
      skipped++;
      continue;
    }
    const ok =
      Array.isArray(w) &&
      w.length === 3 &&
      typeof w[0] === 'string' &&
      NAME_RE.test(w[0]) &&
      canonicalIp(w[1]) &&
      Array.isArray(w[2]) &&
      w[2].length > 0 &&
      w[2].length <= limits.maxTimes &&
      (w[2] as unknown[]).every(isTime);
    if (!ok) {
      skipped++;
      continue;
    }
    windows.push({ blocktype: w[0] as string, ip: w[1] as string, times: [...(w[2] as number[])].sort((a, b) => a - b) });
  }
  const bans: ActiveBan[] = [];
  for (const b of o['bans'] as unknown[]) {
    if (bans.length >= limits.maxBans) {
      skipped++;
      continue;
    }
    const ok =
      Array.isArray(b) &&
      b.length === 5 &&
      canonicalIp(b[0]) &&
      typeof b[1] === 'string' &&
      TARGET_NAME_RE.test(b[1]) &&
      typeof b[2] === 'string' &&
      NAME_RE.test(b[2]) &&
      isTime(b[3]) &&
      isTime(b[4]) &&
      b[4] >= b[3];
    if (!ok) {
      skipped++;
      continue;
    }
    bans.push({ ip: b[0] as string, target: b[1] as string, blocktype: b[2] as string, at: b[3] as number, until: b[4] as number });
  }
  return { ok: true, state: { savedAt: o['savedAt'] as number, windows, bans }, skipped };
}

/** Only addresses in the canonical form banban itself writes. */
function canonicalIp(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const r = parseIp(v);
  return r.ok && r.value.text === v;
}

/**
 * Write (in 64 KiB pieces, so the whole text is never in memory at once),
 * fsync, rename, fsync the folder. `cancelled` is asked between steps (a
 * save on the saving thread, which the main thread cancels through shared
 * memory): a cancelled write removes its temporary file, leaves the state
 * file as it was, and returns false. `tmpTag` keeps its temporary file
 * apart from another writer's in this process (the save at stop).
 */
export function writeFileAtomic(path: string, pieces: Iterable<string>, opts: { cancelled?: () => boolean; tmpTag?: '' | '.bg' } = {}): boolean {
  const steps = atomicWriteSteps(path, pieces, opts.tmpTag ?? '');
  for (let step = steps.next(); step.done !== true; ) {
    if (opts.cancelled?.() === true) {
      steps.return();
      return false;
    }
    let failed: unknown;
    try {
      if (step.value !== undefined) fsyncSync(step.value.fsync);
    } catch (err) {
      failed = err;
    }
    // An error goes back into the steps, which close and remove their temporary file, and throw it.
    step = failed === undefined ? steps.next() : steps.throw(failed);
  }
  return true;
}

/**
 * writeFileAtomic for the running daemon when its saving thread is gone
 * (state-save-thread.ts): the same steps, but the event loop runs between
 * slices of about `sliceMs` (lines keep being read, matched and decided),
 * and the fsyncs run on libuv's threads, so a state
 * of millions of windows, a second or more to write, stops nothing.
 * `cancelled` is asked before each slice: a cancelled write removes its
 * temporary file, leaves the state file as it was, and resolves false. Its
 * temporary file is its own, so a save made meanwhile with writeFileAtomic
 * (at shutdown) never meets it.
 */
export async function writeFileAtomicInSlices(path: string, pieces: Iterable<string>, opts: { sliceMs?: number; cancelled?: () => boolean } = {}): Promise<boolean> {
  // 2 ms: a ban decided meanwhile waits at most about that long (10 ms slices were seen in the bench's ban latency)
  const sliceMs = opts.sliceMs ?? 2;
  const steps = atomicWriteSteps(path, pieces, '.bg');
  let sliceStart = performance.now();
  let failed: Error | undefined;
  for (;;) {
    if (opts.cancelled?.() === true) {
      steps.return();
      return false;
    }
    const step = failed === undefined ? steps.next() : steps.throw(failed);
    failed = undefined;
    if (step.done === true) return true;
    if (step.value !== undefined) {
      const fd = step.value.fsync;
      // Goes back into the steps, so that they close and remove their temporary file.
      failed = await new Promise<Error | undefined>((resolve) => fsync(fd, (err) => resolve(err ?? undefined)));
      sliceStart = performance.now();
    } else if (performance.now() - sliceStart >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

/** `.NAME.PID[.bg].tmp` beside `path`, of processes other than this one: never renamed into place, so never wanted. */
function removeLeftovers(path: string): void {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // no folder yet: nothing left over
  }
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)(?:\.bg)?\.tmp$/.exec(name.slice(prefix.length)) : null;
    if (m !== null && Number(m[1]) !== process.pid && !running(Number(m[1]))) rmSync(join(dir, name), { force: true });
  }
}

/** whether a process of that id runs (one of another user's counts: EPERM) */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** what a path that is not a regular file is, for messages */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'neither a file nor a folder';
}

/**
 * The steps of an atomic write: one per 64 KiB written, and one for each
 * fsync, which the caller makes (`{ fsync: fd }`: at once, or on another
 * thread). Stopped early, or given an error, it removes its temporary file.
 */
function* atomicWriteSteps(path: string, pieces: Iterable<string>, tmpTag: string): Generator<{ fsync: number } | undefined, void, undefined> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}${tmpTag}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  let written = false;
  try {
    let buf = '';
    let n = 0;
    for (const piece of pieces) {
      buf += piece;
      if (buf.length >= 65536) {
        writeSync(fd, buf);
        buf = '';
      }
      // a step every 64 pieces, where a sliced write looks at its clock: 64 KiB of windows (about
      // 1 000 pieces) took 5-15 ms to make in a daemon under load
      if (++n % 64 === 0) yield undefined;
    }
    if (buf) writeSync(fd, buf);
    yield { fsync: fd };
    written = true;
  } finally {
    closeSync(fd);
    if (!written) rmSync(tmp, { force: true });
  }
  renameSync(tmp, path);
  const dfd = openSync(dir, 'r');
  try {
    yield { fsync: dfd };
  } finally {
    closeSync(dfd);
  }
}

export type LoadedState =
  | { kind: 'none' }
  | { kind: 'loaded'; state: SavedState; skipped: number }
  | { kind: 'corrupt'; reason: string; setAsideTo: string | undefined }
  /** something other than a file is there (a folder, a socket): never renamed, never written over */
  | { kind: 'not-a-file'; what: string };

/**
 * Reads the state file; a corrupt one is renamed out of the way so the next
 * save does not meet it again. Temporary files that saves of an earlier
 * process left beside it (killed in the middle of one) are removed; those of
 * a process still running (another banban's save under way) are not.
 * `readOnly` (a dry run): nothing is removed or renamed.
 */
export function readStateFile(path: string, limits: DecodeLimits, now: number, opts: { readOnly?: boolean } = {}): LoadedState {
  if (opts.readOnly !== true) removeLeftovers(path);
  // Whatever cannot be read is set aside, never left to be overwritten by the next save.
  const setAside = (reason: string): LoadedState => {
    if (opts.readOnly === true) return { kind: 'corrupt', reason, setAsideTo: undefined };
    const aside = `${path}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(path, aside);
      return { kind: 'corrupt', reason, setAsideTo: aside };
    } catch {
      return { kind: 'corrupt', reason, setAsideTo: undefined };
    }
  };
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) return { kind: 'not-a-file', what: fileKind(st) };
    const size = st.size;
    if (size > MAX_STATE_READ) {
      return setAside(`it is ${Math.round(size / 2 ** 20)} MiB, more than can be read back (banban writes at most ${MAX_STATE_CHARS / 2 ** 20} MiB)`);
    }
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return setAside(`cannot read it: ${(e as Error).message}`);
  }
  const decoded = decodeState(text, limits);
  if (decoded.ok) return { kind: 'loaded', state: decoded.state, skipped: decoded.skipped };
  return setAside(decoded.reason);
}
