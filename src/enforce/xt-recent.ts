/**
 * The kernel edge: /proc/net/xt_recent/<target>.
 *
 * Protocol facts this file relies on (net/netfilter/xt_recent.c):
 *   - a write is one command, `+ADDR`, `-ADDR` or `/`; the kernel parses the
 *     first line only, so two commands in one write lose the second;
 *   - after a write the file offset has moved and the next write on the same
 *     descriptor fails with ESPIPE, and pwrite is refused; lseek back to 0
 *     is allowed. So one descriptor per list is kept open and each command
 *     is lseek + write (lib/native-edge.c, listWrite: Node has no lseek):
 *     5.6 µs a command here, against 15.5 for open / write / close, which
 *     is what each command costs without the native edge (26 µs at the
 *     median under the bench's stream, where bans come 2 000 a second);
 *   - a write through a descriptor of a list since destroyed fails (EIO):
 *     the list is opened again by its path and the command written once
 *     more, to the list made anew or, if there is none, failing ENOENT as
 *     an open would;
 *   - removing an absent address is not an error;
 *   - the file exists only while an iptables rule names the list: ENOENT
 *     means "no rule yet", not "no kernel support";
 *   - a list holds ip_list_tot entries and silently drops the oldest;
 *   - a list destroyed and made again (`iptables -F`, then the rules) often
 *     gets the same inode number back, at once; but a descriptor opened on
 *     the old one fails every read with EIO from then on. So `identity`
 *     keeps one open per list and reads a byte through it (about 3 µs).
 *
 * With `--proc-dir` pointing at an ordinary folder (tests, trials) the same
 * code appends the commands to plain files, one per line; `read` replays them.
 * There, a list is opened for each command (a file replaced under a kept
 * descriptor would not say so, as the kernel's EIO does).
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, readSync, statfsSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errnoError, nativeEdge, type NativeEdge } from '../lib/native-edge.js';
import { parseIp } from '../lib/ip.js';
import type { ListEntry, ListWriter } from './backend.js';

const PROBE = Buffer.alloc(1);

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already gone: nothing to give back
  }
}

/** statfs(2)'s f_type for /proc */
const PROC_SUPER_MAGIC = 0x9fa0;

export const IP_LIST_TOT_PATH = '/sys/module/xt_recent/parameters/ip_list_tot';
export const DEFAULT_PROC_DIR = '/proc/net/xt_recent';

export class XtRecentLists implements ListWriter {
  /** per list: a descriptor open on the instance `identity` last saw, and the number it gave that instance */
  readonly #watched = new Map<string, { fd: number; ino: number; identity: number }>();
  #identities = 0;
  /** per list, the descriptor commands are written through (kernel lists, with the native edge) */
  readonly #writers = new Map<string, number>();
  /** the native edge when the lists are the kernel's and it is built, null when not; undefined until the folder is there to tell */
  #edge: NativeEdge | null | undefined;

  constructor(readonly dir: string) {}

  /** whether commands go through a descriptor kept open per list (lseek + write) rather than open / write / close each */
  get keepsListsOpen(): boolean {
    return this.#keeping() !== undefined;
  }

  /** The native edge if lists are to be kept open. The folder is looked at until it exists (xt_recent, as a module, makes it with the first rule). */
  #keeping(): NativeEdge | undefined {
    if (this.#edge === undefined) {
      let procfs: boolean;
      try {
        procfs = statfsSync(this.dir).type === PROC_SUPER_MAGIC;
      } catch {
        return undefined;
      }
      const edge = nativeEdge();
      this.#edge = procfs && typeof edge !== 'string' ? edge : null;
    }
    return this.#edge ?? undefined;
  }

  write(target: string, op: '+' | '-', ip: string): void {
    const path = join(this.dir, target);
    const edge = this.#keeping();
    if (edge === undefined) {
      // No O_CREAT: a missing list must fail with ENOENT, never be made up.
      const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND);
      try {
        writeSync(fd, `${op}${ip}\n`);
      } finally {
        closeSync(fd);
      }
      return;
    }
    const command = Buffer.from(`${op}${ip}\n`, 'latin1');
    const kept = this.#writers.get(target);
    if (kept !== undefined) {
      if (edge.listWrite(kept, command) >= 0) return;
      // destroyed since (EIO), or refused: this descriptor is done with; the path says what is there now
      this.#writers.delete(target);
      closeQuietly(kept);
    }
    const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND);
    const n = edge.listWrite(fd, command);
    if (n < 0) {
      closeQuietly(fd);
      throw errnoError(-n, 'write', path);
    }
    this.#writers.set(target, fd);
  }

  /** `ages`: work out each entry's age, which costs a 100 ms measurement the first time (for `banban list`, never the daemon) */
  read(target: string, opts: { ages?: boolean } = {}): ListEntry[] {
    return parseList(readFileSync(join(this.dir, target), 'latin1'), opts.ages ? jiffiesClock() : undefined);
  }

  targets(): string[] {
    return readdirSync(this.dir).sort();
  }

  /**
   * The same number for as long as the list seen last time still exists;
   * a new one for a list made anew, undefined when there is none. Seen as
   * the same: a descriptor opened on it still reads (the kernel's EIO says
   * it was destroyed, whatever inode number the new one has), and the path
   * still names the file it was opened on (for plain files under
   * `--proc-dir`, replaced by a new file).
   */
  identity(target: string): number | undefined {
    const path = join(this.dir, target);
    const seen = this.#watched.get(target);
    if (seen !== undefined) {
      try {
        readSync(seen.fd, PROBE, 0, 1, 0);
        if (statSync(path).ino === seen.ino) return seen.identity;
      } catch {
        // destroyed (EIO), or gone from the path (ENOENT): whatever is there now is another list
      }
      this.#watched.delete(target);
      closeQuietly(seen.fd);
    }
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY);
    } catch {
      return undefined;
    }
    const identity = ++this.#identities;
    this.#watched.set(target, { fd, ino: fstatSync(fd).ino, identity });
    return identity;
  }

  /** Lets go of the descriptors kept (by `identity` and `write`) for lists other than `targets` (a reload dropped them). */
  keepOnly(targets: readonly string[]): void {
    const keep = (target: string) => targets.includes(target);
    letGo(this.#watched, (w) => w.fd, keep);
    letGo(this.#writers, (fd) => fd, keep);
  }

  /** Lets go of every descriptor kept. */
  close(): void {
    letGo(this.#watched, (w) => w.fd, () => false);
    letGo(this.#writers, (fd) => fd, () => false);
  }
}

/** Closes and forgets the descriptors kept per list in `kept`, but for the lists `keep` says to keep. */
function letGo<V>(kept: Map<string, V>, fdOf: (v: V) => number, keep: (target: string) => boolean): void {
  for (const [target, v] of kept) {
    if (keep(target)) continue;
    kept.delete(target);
    closeQuietly(fdOf(v));
  }
}

/** The kernel's ip_list_tot, or undefined when xt_recent is not loaded. */
export function readIpListTot(path = IP_LIST_TOT_PATH): number | undefined {
  try {
    const n = Number(readFileSync(path, 'ascii').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

interface JiffiesNow {
  now: number;
  hz: number;
}

/**
 * Parses a list file. Kernel lines look like
 * `src=192.0.2.7 ttl: 0 last_seen: 4295084304 oldest_pkt: 1 4295084304`,
 * IPv6 written out in full (`src=2001:0db8:0000:...`);
 * a plain-folder list holds `+ADDR` / `-ADDR` lines, replayed in order.
 */
export function parseList(text: string, clock: JiffiesNow | undefined): ListEntry[] {
  // The kernel prints each address once: a list of them. (A list that changes while it is
  // read, over several reads, can have one printed twice; the callers look addresses up in
  // sets and maps, and a map of every entry to weed that out cost more than the rest of
  // this together: 73-130 ms against 30-45 for 100 000.) A plain folder's `+`, `-` and `/`
  // lines are commands, replayed in order on a map, made the first time one comes.
  const list: ListEntry[] = [];
  let map: Map<string, ListEntry> | undefined;
  const replay = (): Map<string, ListEntry> => (map ??= new Map(list.map((e) => [e.ip, e])));
  // Line by line without splitting the text first: the daemon reads a list back every 10 s
  // while it is written to (Enforcer.verify), and with ip_list_tot raised to 100 000 the
  // kernel prints 7.6 MB (140-210 ms parsed with split, a regex per line, every address
  // parsed and a map of them; 30-45 ms now, once warm).
  for (let at = 0; at < text.length; ) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    const c = text.charCodeAt(at);
    if (c === 115 /* s */ && text.startsWith('src=', at)) {
      const space = text.indexOf(' ', at + 4);
      const raw = text.slice(at + 4, space < 0 || space > end ? end : space);
      // IPv4 comes as a plain dotted quad (%pI4), banban's form already; IPv6 in full
      // (%pI6: 2001:0db8:0000:...), compared in banban's canonical form.
      let ip = raw;
      if (raw.includes(':')) {
        const parsed = parseIp(raw);
        if (parsed.ok) ip = parsed.value.text;
      }
      let age: number | undefined;
      if (clock) {
        const seen = /last_seen: (\d+)/.exec(text.slice(at, end));
        if (seen) age = Math.max(0, Math.round((clock.now - Number(seen[1])) / clock.hz));
      }
      if (map === undefined) list.push({ ip, ageSeconds: age });
      else map.set(ip, { ip, ageSeconds: age });
    } else if (c === 43 /* + */) {
      const ip = text.slice(at + 1, end);
      replay().set(ip, { ip, ageSeconds: undefined });
    } else if (c === 45 /* - */) {
      replay().delete(text.slice(at + 1, end));
    } else if (c === 47 /* / */ && end === at + 1) {
      replay().clear();
    }
    at = end + 1;
  }
  return map === undefined ? list : [...map.values()];
}

let cachedHz: number | undefined;

/**
 * The kernel's jiffies counter and its rate, to turn `last_seen` into an
 * age. /proc/timer_list (root only) gives jiffies; HZ is not exported, so it
 * is measured once over 100 ms and rounded to the usual CONFIG_HZ values.
 */
function jiffiesClock(): JiffiesNow | undefined {
  const now = readJiffies();
  if (now === undefined) return undefined;
  if (cachedHz === undefined) {
    const t0 = Date.now();
    while (Date.now() - t0 < 100) {
      /* busy wait: Atomics.wait would need a SharedArrayBuffer, and this runs once per `list` */
    }
    const later = readJiffies();
    if (later === undefined) return undefined;
    const measured = ((later - now) * 1000) / (Date.now() - t0);
    cachedHz = [100, 250, 300, 1000].reduce((a, b) => (Math.abs(b - measured) < Math.abs(a - measured) ? b : a));
    return { now: later, hz: cachedHz };
  }
  return { now, hz: cachedHz };
}

function readJiffies(): number | undefined {
  try {
    const m = /^jiffies: (\d+)$/m.exec(readFileSync('/proc/timer_list', 'ascii'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** What to tell an admin whose list does not exist: the rule that creates it. */
export function missingListHint(target: string): string {
  return (
    `no iptables rule uses --name ${target} yet. Add one, e.g. ` +
    `"iptables -I INPUT 2 -m recent --name ${target} --rcheck --seconds 3600 -j DROP" and the same with ip6tables (see examples/iptables.rules)`
  );
}
