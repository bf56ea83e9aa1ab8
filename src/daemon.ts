/**
 * The running daemon: wires socket -> matching thread (line parser and
 * matcher) -> engine -> enforcer, and handles reload, faults and shutdown.
 * Everything that decides lives in the pure core (track/ban-engine.ts); this
 * file moves values between the edges and keeps them healthy.
 *
 *   - receive: each wake-up's datagrams (source/syslog-socket.ts drains the
 *     queue) go as one batch to the matching thread (match/match-thread.ts),
 *     stamped with the time they arrived; what it found comes back in order
 *     and is counted, decided and enforced here. Matching on its own core
 *     leaves this thread to read, so it keeps up with a flood (README,
 *     Benchmarks); if the thread dies, matching goes on here.
 *
 *   - reload (SIGHUP): the new config is validated in full first; a config
 *     with errors is refused and the running one stays. Offence counts carry
 *     over for blocktypes of the same name. A changed socket path, owner or
 *     group re-binds the socket; the old one is closed after the new one is
 *     bound, so there is never a moment with no socket at all.
 *   - stop (SIGTERM / SIGINT): closes and removes the socket, lets the
 *     lines already received be matched and decided, saves the state,
 *     flushes logs.
 *   - watch (every `watchMs`): a list that appears, or is made anew (its
 *     /proc inode changes: a reboot, a firewall reload, `iptables -F`), is
 *     primed with the active bans; writes that failed are retried; a socket
 *     file deleted or replaced under us is bound again.
 *   - verify (every `verifyMs`, and at stop): every list with active bans is
 *     read back, to catch the kernel's silent evictions from a full list
 *     and bans lifted by hand; those bans end.
 *   - housekeeping (every `saveMs`): quiet windows pruned, expired bans
 *     dropped, state saved when anything changed, in the background (on
 *     a thread of its own: lines keep flowing); at shutdown, at once.
 * All timers are unref'd: only the socket keeps the process alive.
 */
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { DEFAULTS, type Config } from './config/schema.js';
import { loadConfig } from './config/load.js';
import { ConfigError, formatProblem } from './config/problems.js';
import type { ListWriter } from './enforce/backend.js';
import { ConntrackKiller } from './enforce/conntrack.js';
import { BansPacker, snapshotBans } from './enforce/ban-columns.js';
import { bansUnder, Enforcer, type ActiveBan, type BanDropReason } from './enforce/enforcer.js';
import { IP_LIST_TOT_PATH, readIpListTot, XtRecentLists, missingListHint } from './enforce/xt-recent.js';
import { monotonicMs, threadCpuClock, type Clock } from './lib/clock.js';
import { nativeEdgeProblem } from './lib/native-edge.js';
import { forEachInSlices } from './lib/slices.js';
import { ExitCode, ExitError } from './lib/exit-codes.js';
import { parseCidr, parseIp, type Cidr } from './lib/ip.js';
import { RateLimiter, type Logger } from './lib/log.js';
import { batchMatcherSetup } from './match/batch-matcher.js';
import type { LineReport } from './match/match-wire.js';
import { MatchThread } from './match/match-thread.js';
import { DRAIN_MAX, MAX_DATAGRAM, SyslogSocket } from './source/syslog-socket.js';
import { MAX_STATE_CHARS, MAX_STATE_ENTRIES, readStateFile, stateText, type StateNow, writeFileAtomic, writeFileAtomicInSlices } from './state/state-file.js';
import { StateSaveThread, type SaveOutcome } from './state/state-save-thread.js';
import { BanEngine } from './track/ban-engine.js';
import { snapshotEntries } from './track/offence-windows.js';

/** times of a saved window read at most, whatever today's minocc (a window saved under a larger one) */
const SAVED_TIMES_READ = 1000;

export interface DaemonOptions {
  configFile: string;
  log: Logger;
  /** overrides the config's proc_dir */
  procDir?: string | undefined;
  /** overrides the config's state_file */
  stateFile?: string | undefined;
  dryRun?: boolean;
  /** monotonic ms, for windows */
  clock?: Clock;
  /** wall-clock ms, for bans and the state file */
  wallClock?: Clock;
  writer?: ListWriter;
  conntrackCommand?: string;
  ipListTotPath?: string;
  watchMs?: number;
  verifyMs?: number;
  saveMs?: number;
  /** the state-saving thread's script (tests: one that fails) */
  saveThreadScript?: URL | string;
}

export interface DaemonStats {
  datagrams: number;
  skipped: number;
  matched: number;
  blocks: number;
  unblocks: number;
  /** of `datagrams`, those handed to the matching thread (the rest were matched on the main thread: MatchThread) */
  handedOver: number;
}

export class Daemon {
  readonly #opts: DaemonOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #wall: Clock;
  readonly #writer: ListWriter;
  readonly #enforcer: Enforcer;
  readonly #conntrack: ConntrackKiller;
  readonly #limiter = new RateLimiter(5, 60_000);
  readonly #timers: NodeJS.Timeout[] = [];
  /** last seen identity of each target's list; absent key: never seen */
  readonly #listIds = new Map<string, number | undefined>();
  #engine: BanEngine;
  #matching: MatchThread<number>;
  /** threads a reload replaced, still finishing the lines received before it: `stop` waits for them */
  readonly #closing = new Set<Promise<void>>();
  /** resolves once the reports the current thread holds back (a reload's, `#startMatching`) are decided */
  #drained: Promise<void> = Promise.resolve();
  #socket: SyslogSocket | undefined;
  #dirty = false;
  /** the save in the background, if one is under way (housekeeping) */
  #saving: { cancelled: boolean; done: Promise<void> } | undefined;
  /** the periodic save's thread, started with the daemon */
  #saveThread: StateSaveThread | undefined;
  /** the thread could not start or failed (said once): saves are written here, in slices */
  #saveThreadGone = false;
  readonly stats: DaemonStats = { datagrams: 0, skipped: 0, matched: 0, blocks: 0, unblocks: 0, handedOver: 0 };

  private constructor(opts: DaemonOptions, config: Config) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#clock = opts.clock ?? monotonicMs;
    this.#wall = opts.wallClock ?? Date.now;
    this.#engine = new BanEngine(withOwnNetworks(config));
    this.#matching = this.#startMatching(config);
    const capacity = readIpListTot(opts.ipListTotPath);
    this.#writer = opts.writer ?? new XtRecentLists(config.procDir);
    this.#enforcer = new Enforcer({
      writer: this.#writer,
      log: this.#log,
      conntrack: (this.#conntrack = new ConntrackKiller(this.#log, { command: opts.conntrackCommand ?? 'conntrack' })),
      capacity,
      dryRun: opts.dryRun ?? false,
      maxEntries: config.maxTracked,
      now: this.#wall,
    });
    this.#log.info(
      { ip_list_tot: capacity ?? null },
      capacity !== undefined
        ? 'kernel list capacity'
        : existsSync(opts.ipListTotPath ?? IP_LIST_TOT_PATH)
          ? 'xt_recent ip_list_tot unknown: its parameter file is readable by root only; a full list\'s evictions are still reported'
          : 'xt_recent ip_list_tot unknown (module not loaded yet: it loads with the first -m recent rule)',
    );
    this.#prepareConntrack(config);
  }

  /** The conntrack shell is forked while the daemon is small: before the state is read, or at a reload that first resets connections. */
  #prepareConntrack(config: Config): void {
    this.#conntrack.ipv6Prefix = config.ipv6Prefix;
    if (!this.#opts.dryRun && config.blocktypes.some((b) => b.resetconns)) this.#conntrack.prepare();
  }

  /** Loads config and state, binds the socket, starts the timers. Throws ConfigError or SocketError. */
  static start(opts: DaemonOptions): Daemon {
    const { config, warnings } = loadConfig(opts.configFile, { procDir: opts.procDir, stateFile: opts.stateFile });
    const d = new Daemon(opts, config);
    for (const w of warnings) opts.log.warn({ file: w.file, line: w.line, key: w.key }, w.message);
    d.#restoreState(config);
    // Started now, while no line comes: a thread's start takes some 120 ms of CPU, which under a
    // stream slowed the lines of that moment (the first save, a minute in, made it once).
    if (!opts.dryRun) d.#openSaveThread();
    d.#bind(config);
    d.#watch();
    const verifyMs = opts.verifyMs ?? 10_000;
    d.#every('watch', opts.watchMs ?? 2000, 0, () => d.#watch());
    d.#every('verify', verifyMs, 0, () => d.#verify());
    // Half a verify period after each verify: the two in one turn of the event loop (60 s is a
    // multiple of 10) held the lines of that turn for both, 8.7 ms in the bench.
    const saveMs = opts.saveMs ?? 60_000;
    d.#every('housekeeping', saveMs, Math.min(verifyMs, saveMs) / 2, () => d.#housekeeping());
    d.#log.info(
      { socket: config.socket, config: config.file, blocktypes: config.blocktypes.map((b) => b.name), targets: d.#engine.targets, dryRun: opts.dryRun ?? false, batchReceive: d.#socket?.batched ?? false, listsKeptOpen: d.#writer instanceof XtRecentLists && d.#writer.keepsListsOpen },
      'listening',
    );
    const noEdge = nativeEdgeProblem();
    if (noEdge !== undefined) d.#log.warn({ reason: noEdge }, 'the native edge is missing: datagrams are read one per system call and a kernel list is opened for each command, which costs the main thread about five times as much per datagram and per ban under a flood');
    return d;
  }

  /** `job` every `ms`, the first time after `ms` + `offsetMs`; none of these timers keeps the process alive. */
  #every(what: string, ms: number, offsetMs: number, job: () => void): void {
    const run = () => this.#guard(what, job);
    if (offsetMs === 0) {
      this.#timers.push(setInterval(run, ms).unref());
      return;
    }
    this.#timers.push(
      setTimeout(() => {
        run();
        this.#timers.push(setInterval(run, ms).unref());
      }, ms + offsetMs).unref(),
    );
  }

  get config(): Config {
    return this.#engine.config;
  }

  get enforcer(): Enforcer {
    return this.#enforcer;
  }

  /** One datagram, received: into the batch that goes to the matching thread at the end of this wake-up. */
  #onDatagram(buf: Buffer): void {
    this.stats.datagrams++;
    this.#matching.add(buf);
  }

  /** Hands the datagrams gathered in this wake-up to the matching thread, stamped with their receive time. */
  #flush(): void {
    this.#matching.flush();
  }

  /** What the matcher found in one line (skipped, cut, matched), counted and enforced. */
  #onLine(r: LineReport, receivedAt: number): void {
    if (r.skipped !== undefined) {
      this.stats.skipped++;
      this.#limited(`datagram:${r.skipped}`, { reason: r.skipped }, 'datagram skipped: it is never matched');
      return;
    }
    if (r.cut) this.#limited('datagram:cut', {}, 'datagram held a line break: only the text before it is matched');
    if (r.found === undefined) return;
    const outcome = this.#engine.apply(r.found, receivedAt);
    const v = outcome.verdict;
    if (v.kind !== 'none') {
      this.stats.matched++;
      this.#dirty = true;
    }
    if (v.rejected) {
      this.#limited(`rejected:${v.rejected.rule.where}`, { rule: v.rejected.rule.where, reason: v.rejected.reason }, 'pattern matched but captured no usable address; line skipped for that pattern');
    }
    for (const d of outcome.decisions) {
      if (d.kind === 'block') this.stats.blocks++;
      else this.stats.unblocks++;
      this.#enforcer.apply(d);
    }
  }

  /**
   * `after`: a reload's new thread. What it finds waits until the threads before it have reported
   * every line they were given: it matches a small batch at once when it has none pending, while
   * the old thread may still be on a flood's backlog, and a good login after the reload must not be
   * decided before a bad line from before it. The hold lasts as long as the old thread's backlog,
   * at most its ring (a few tens of ms of a flood); a thread that hangs is given up after
   * close()'s timeout, and its lines matched here.
   */
  #startMatching(config: Config, after?: Promise<unknown>): MatchThread<number> {
    const handle = (r: LineReport, receivedAt: number): void => {
      try {
        this.#onLine(r, receivedAt);
      } catch (err) {
        // A bug must not take the daemon down with it: log, count, go on with the next line.
        this.stats.skipped++;
        this.#limited('internal', { err: (err as Error).stack ?? String(err) }, 'internal error while handling a line; line skipped');
      }
    };
    let held: [LineReport, number][] | undefined;
    if (after !== undefined) {
      const waiting: [LineReport, number][] = (held = []);
      // close() reports what it could not match as dropped and does not throw; were it to, the held lines still go on
      this.#drained = after.catch(() => undefined).then(() => {
        held = undefined;
        for (const [r, receivedAt] of waiting) handle(r, receivedAt);
      });
    }
    return new MatchThread<number>({
      setup: batchMatcherSetup(config, MAX_DATAGRAM),
      meta: () => this.#clock(),
      cpu: threadCpuClock(),
      wakeMax: DRAIN_MAX + 1,
      tally: this.stats,
      sink: (r, receivedAt) => {
        if (held !== undefined) held.push([r, receivedAt]);
        else handle(r, receivedAt);
      },
      onFault: (err) => this.#log.error({ err: err.message }, 'the matching thread failed; its lines are matched on the main thread instead'),
      onDropped: (err) => {
        this.stats.skipped++;
        this.#limited('internal', { err: err.stack ?? String(err) }, 'internal error while matching a batch of datagrams; its lines are skipped');
      },
    });
  }

  /** Re-reads the config. Returns false (and keeps the running config) when it is invalid. */
  reload(): boolean {
    let loaded;
    try {
      loaded = loadConfig(this.#opts.configFile, { procDir: this.#opts.procDir, stateFile: this.#opts.stateFile });
    } catch (err) {
      if (err instanceof ConfigError) {
        this.#log.error({ problems: err.problems.map((p) => formatProblem(p)) }, 'reload refused: the config has errors; the running config stays');
      } else {
        this.#log.error({ err: (err as Error).message }, 'reload refused: the config could not be read; the running config stays');
      }
      return false;
    }
    const { config } = loaded;
    const old = this.#engine.config;
    if (config.procDir !== old.procDir) {
      this.#log.warn({ procDir: old.procDir, wanted: config.procDir }, `proc_dir changed: it takes effect at the next start; until then the lists in ${old.procDir} are written`);
    }
    const socketChanged = config.socket !== old.socket || config.socketOwner !== old.socketOwner || config.socketGroup !== old.socketGroup;
    if (socketChanged) {
      const previous = this.#socket;
      try {
        if (previous && config.socket === old.socket) {
          previous.close(); // same path: it must be free before we bind again
          this.#socket = undefined;
        }
        this.#bind(config);
        if (previous && config.socket !== old.socket) previous.close();
      } catch (err) {
        this.#log.error({ err: (err as Error).message }, 'reload refused: the new socket could not be bound; the running config stays');
        if (this.#socket === undefined) this.#bind(old);
        return false;
      }
    }
    // Lines received so far were sent under the old rules: they finish on the old thread, whose
    // findings go to the new engine (a blocktype gone by then is dropped there).
    this.#flush();
    const closing = this.#matching.close().finally(() => this.#closing.delete(closing));
    this.#closing.add(closing);
    // the lines of the threads before it are decided first (those of an earlier reload's too)
    this.#matching = this.#startMatching(config, Promise.all([this.#drained, closing]));
    const minocc = new Map(config.blocktypes.map((b) => [b.name, b.minocc]));
    this.#prepareConntrack(config);
    this.#engine = new BanEngine(withOwnNetworks(config), this.#engine.windows.withCap(config.maxTracked, (name) => minocc.get(name)), this.#engine.sessions);
    for (const w of loaded.warnings) this.#log.warn({ file: w.file, line: w.line, key: w.key }, w.message);
    this.#enforcer.setMaxEntries(config.maxTracked);
    // Bans of addresses the new config ignores, or of blocktypes it dropped, are forgotten (not lifted).
    const under = bansUnder(this.#engine.config, this.#wall()); // the config as counted: with the host's own networks
    const forgotten = this.#enforcer.revise((b) => under(b).ban);
    if (forgotten > 0) this.#log.info({ bans: forgotten }, 'bans forgotten: their address is in ignorenets now, their blocktype or list is gone, or ipv6_prefix changed; `banban unblock ADDR` lifts one from the kernel list');
    // New targets are primed (they are not known yet); a list known to exist, and the same since,
    // is not: writing its active bans again would undo an admin's `banban unblock` that the next
    // verify has not seen yet. Missing lists are looked at afresh, so the hint is given again.
    for (const [target, id] of this.#listIds) if (id === undefined || !this.#engine.targets.includes(target)) this.#listIds.delete(target);
    this.#writer.keepOnly?.(this.#engine.targets);
    this.#watch();
    this.#log.info({ config: config.file, socket: config.socket, blocktypes: config.blocktypes.map((b) => b.name) }, 'reloaded');
    return true;
  }

  /**
   * Stops receiving, lets the lines already received be matched and decided, saves the state.
   * Resolves false when the state could not be saved (said in the log): this run's counts and bans
   * are then not carried over.
   */
  async stop(): Promise<boolean> {
    for (const t of this.#timers) clearTimeout(t); // an interval's too
    this.#socket?.close();
    this.#socket = undefined;
    this.#flush();
    // Lines a reload's old thread still holds are decided too, before the save.
    await Promise.all([...this.#closing, this.#matching.close()]);
    await this.#drained;
    // A save under way stops at its next step, and is waited for: its rename must not come after this
    // save's, which has everything. The lists are read back first, so a ban lifted by hand since the
    // last verify is not saved to come back.
    if (this.#saving) {
      this.#saving.cancelled = true;
      this.#saveThread?.cancel();
      await this.#saving.done;
    }
    this.#guard('verify', () => this.#verify());
    const saved = this.#saveState();
    await this.#saveThread?.close();
    this.#conntrack.close();
    this.#writer.close?.();
    const e = this.#enforcer;
    this.#log.info({ ...this.stats, listWrites: e.writes, rewritesSkipped: e.rewritesSkipped, pending: e.pendingCount, activeBans: e.activeCount }, 'stopped');
    return saved;
  }

  /** Lists made anew are primed first: read back before that, their bans would look lifted, and end. */
  #verify(): void {
    this.#checkLists();
    if (this.#enforcer.verify() > 0) this.#dirty = true;
  }

  #watch(): void {
    this.#checkLists();
    this.#enforcer.retryPending();
    if (this.#socket && !this.#socket.isReachable()) this.#rebindLostSocket();
  }

  /** Lists that appeared or were made anew since the last look are primed with the active bans. */
  #checkLists(): void {
    for (const target of this.#engine.targets) {
      const id = this.#writer.identity(target);
      const known = this.#listIds.has(target);
      const before = this.#listIds.get(target);
      this.#listIds.set(target, id);
      if (id === undefined) {
        if (!known || before !== undefined) {
          this.#log.warn({ target }, `list ${target} does not exist: ${missingListHint(target)}. Bans for it stay active and are written once it exists`);
        }
        continue;
      }
      if (this.#enforcer.capacity === undefined) this.#learnCapacity();
      if (known && before === id) continue;
      const primed = this.#enforcer.prime(target);
      if (primed > 0 || known) {
        this.#log.info({ target, primed }, known ? `list ${target} was made anew: active bans written again` : `list ${target} primed with active bans`);
      }
    }
  }

  /**
   * ip_list_tot once xt_recent is there: unknown at start when banban started before the first
   * `-m recent` rule, and without it a full list's evictions would read as bans lifted from outside.
   */
  #learnCapacity(): void {
    const capacity = readIpListTot(this.#opts.ipListTotPath);
    if (capacity === undefined) return;
    this.#enforcer.capacity = capacity;
    this.#log.info({ ip_list_tot: capacity }, 'kernel list capacity (xt_recent loaded since start)');
  }

  #rebindLostSocket(): void {
    const lost = this.#socket!;
    try {
      this.#bind(this.#engine.config);
      lost.close(); // not ours any more at that path: nothing is unlinked
      this.#log.warn({ socket: lost.path }, 'the socket file was deleted or replaced under the daemon: bound it again');
    } catch (err) {
      this.#socket = lost;
      this.#limited('rebind', { socket: lost.path, err: (err as Error).message }, 'the socket file is gone and could not be bound again; retrying');
    }
  }

  #housekeeping(): void {
    const pruned = this.#engine.prune(this.#clock());
    if (pruned > 0) this.#dirty = true;
    // a save drops expired bans itself (Enforcer.snapshot): one walk of them, not two
    if (this.#dirty && this.#saving === undefined) this.#saveInBackground();
    else this.#enforcer.expire();
  }

  #restoreState(config: Config): void {
    const wall = this.#wall();
    // A window saved under a larger minocc than today's is read too, and cut to its newest times below.
    const maxTimes = Math.max(SAVED_TIMES_READ, ...config.blocktypes.map((b) => b.minocc));
    // Every entry the file holds is read (it is bounded by its size): a file saved under a larger
    // max_tracked has more, and its newest, which are kept, come last. Taking only the first
    // max_tracked per blocktype kept the oldest, and could leave out whole blocktypes.
    const dryRun = this.#opts.dryRun ?? false;
    const limits = { maxWindows: MAX_STATE_ENTRIES, maxBans: MAX_STATE_ENTRIES, maxTimes };
    const loaded = readStateFile(config.stateFile, limits, wall, { readOnly: dryRun });
    if (loaded.kind === 'none') return;
    if (loaded.kind === 'not-a-file') {
      // The loader refuses this too (banban check); here it appeared since.
      throw new ExitError(
        `state_file ${config.stateFile} is ${loaded.what}, not a file: banban keeps its windows and bans in a file there; point state_file (or --state-file) at a file, such as ${DEFAULTS.stateFile}`,
        ExitCode.CONFIG,
      );
    }
    if (loaded.kind === 'corrupt') {
      this.#log.warn(
        { stateFile: config.stateFile, setAsideTo: loaded.setAsideTo ?? null, reason: loaded.reason },
        dryRun
          ? 'the state file is unusable and was left as it is (dry run); starting with no saved windows or bans'
          : 'the state file is unusable and was set aside; starting with no saved windows or bans',
      );
      return;
    }
    const { state, skipped } = loaded;
    const byName = new Map(config.blocktypes.map((b) => [b.name, b]));
    const mono = this.#clock();
    let windows = 0;
    // In the order they were last touched (their newest time; banban writes them so, per blocktype):
    // where today's max_tracked is smaller, the most recently seen are the ones kept.
    for (const w of [...state.windows].sort((x, y) => x.times[x.times.length - 1]! - y.times[y.times.length - 1]!)) {
      const bt = byName.get(w.blocktype);
      if (bt === undefined) continue;
      // Wall-clock times back onto this process's monotonic clock; old ones fall out of the window.
      const times = w.times
        .filter((t) => t > wall - bt.interval * 1000 && t <= wall)
        .sort((x, y) => x - y)
        .map((t) => mono - (wall - t));
      if (times.length === 0 || bt.minocc <= 1) continue;
      // Saved under a larger minocc: the newest minocc - 1 count, as a reload that lowers it keeps them.
      if (times.length >= bt.minocc) times.splice(0, times.length - (bt.minocc - 1));
      const ip = parseIp(w.ip);
      if (!ip.ok) continue;
      this.#engine.windows.restore(w.blocktype, ip.value, times, bt.minocc);
      windows++;
    }
    // Under today's config: a ban of an address now in ignorenets, of a blocktype or list no longer
    // there, or past today's bantime is not primed again.
    const under = bansUnder(this.#engine.config, wall); // as counted (withOwnNetworks): the engine is made before the state is read
    const bans: ActiveBan[] = [];
    const dropped: Partial<Record<BanDropReason, number>> = {};
    for (const saved of state.bans) {
      const r = under(saved);
      if (r.ban !== undefined) bans.push(r.ban);
      else dropped[r.why] = (dropped[r.why] ?? 0) + 1;
    }
    this.#enforcer.restore(bans);
    this.#log.info(
      { stateFile: config.stateFile, windows, bans: bans.length, bansDropped: dropped, skipped, savedAt: new Date(state.savedAt).toISOString() },
      'state restored',
    );
  }

  /** Saves now, before returning: the save at stop, which nothing retries. Returns false when it failed. */
  #saveState(): boolean {
    if (this.#opts.dryRun) return true;
    const file = this.#engine.config.stateFile;
    try {
      const now: StateNow = { wall: this.#wall(), mono: this.#clock(), windows: this.#engine.windows.entries(), bans: this.#enforcer.snapshot() };
      writeFileAtomic(file, stateText(now, MAX_STATE_CHARS, (left) => this.#stateCut(left)));
      this.#dirty = false;
      return true;
    } catch (err) {
      this.#log.error(
        { stateFile: file, err: (err as Error).message },
        `could not save the state file at stop: the counts and active bans of this run are lost to the next start (the kernel lists keep what they hold); ${saveAdvice(err as NodeJS.ErrnoException)}`,
      );
      return false;
    }
  }

  /**
   * Saves what there is now while lines keep coming. The windows are
   * copied here at once (a millisecond or two: typed arrays), the bans put
   * in columns a slice at a time (BansPacker, forEachInSlices), and both
   * written on the saving thread (state-save-thread.ts). Once that thread
   * is gone, they are written here a slice at a time
   * (writeFileAtomicInSlices). Changes made meanwhile go in the next save.
   */
  #saveInBackground(): void {
    if (this.#opts.dryRun) return;
    const file = this.#engine.config.stateFile;
    const saving: { cancelled: boolean; done: Promise<void> } = { cancelled: false, done: Promise.resolve() };
    const cancelled = () => saving.cancelled;
    this.#dirty = false;
    const save = async (): Promise<SaveOutcome | 'lost'> => {
      const windows = this.#engine.windows.snapshot();
      const wall = this.#wall();
      const mono = this.#clock();
      const packer = new BansPacker(this.#enforcer.activeCount);
      if (!(await forEachInSlices(this.#enforcer.live(), (b) => packer.add(b), { cancelled }))) return { kind: 'cancelled' };
      const bans = packer.finish();
      const thread = this.#openSaveThread();
      if (thread !== undefined) {
        return thread.save({ path: file, wall, mono, windows, bans, maxChars: MAX_STATE_CHARS }).catch((err: Error) => {
          this.#saveThreadLost(err);
          return 'lost' as const; // the snapshot went with the thread: the next save is made here
        });
      }
      const text = stateText({ wall, mono, windows: snapshotEntries(windows), bans: snapshotBans(bans) }, MAX_STATE_CHARS, (left) => this.#stateCut(left));
      const written = await writeFileAtomicInSlices(file, text, { cancelled });
      return written ? { kind: 'written', windowsLeftOut: 0 } : { kind: 'cancelled' };
    };
    saving.done = save()
      .catch((err: NodeJS.ErrnoException): SaveOutcome => ({ kind: 'failed', message: err.message, code: err.code }))
      .then((o) => {
        if (o !== 'lost' && o.kind === 'written') {
          if (o.windowsLeftOut > 0) this.#stateCut(o.windowsLeftOut);
          return;
        }
        this.#dirty = true;
        if (o !== 'lost' && o.kind === 'failed') this.#saveFailed(file, Object.assign(new Error(o.message), { code: o.code }));
      })
      .finally(() => {
        if (this.#saving === saving) this.#saving = undefined;
      });
    this.#saving = saving;
  }

  /** The saving thread, started if there is none yet; undefined once one could not start or failed (saves are then written here). */
  #openSaveThread(): StateSaveThread | undefined {
    if (this.#saveThreadGone) return undefined;
    try {
      this.#saveThread ??= new StateSaveThread({ workerScript: this.#opts.saveThreadScript });
    } catch (err) {
      this.#saveThreadLost(err as Error);
      return undefined;
    }
    // it may have died while idle, with nobody waiting on it to hear of it
    const failure = this.#saveThread.failure;
    if (failure !== undefined) this.#saveThreadLost(failure);
    return failure === undefined ? this.#saveThread : undefined;
  }

  /** Said once: from then on saves are written on the main thread. */
  #saveThreadLost(err: Error): void {
    if (this.#saveThreadGone) return;
    this.#saveThreadGone = true;
    this.#log.warn({ err: err.message }, 'the state-saving thread failed: the state is saved on the main thread from now on, a slice at a time (ban latency may rise while it is written)');
  }

  #stateCut(left: number): void {
    this.#limited('state-cut', { windowsLeftOut: left, maxMiB: MAX_STATE_CHARS / 2 ** 20 }, 'the state file would be too large to read back: it holds every ban, and windows up to the limit; lower max_tracked');
  }

  #saveFailed(file: string, err: Error): void {
    this.#limited('state-save', { stateFile: file, err: err.message }, `could not save the state file; windows and bans stay in memory and saving is retried; ${saveAdvice(err as NodeJS.ErrnoException)}`);
  }

  #bind(config: Config): void {
    this.#socket = SyslogSocket.open({
      path: config.socket,
      owner: config.socketOwner,
      group: config.socketGroup,
      onDatagram: (buf) => this.#onDatagram(buf),
      onBurstEnd: () => this.#flush(),
      onError: (err) => this.#limited('socket', { err: err.message }, 'socket error'),
    });
  }

  /** Timer bodies must not throw out of a timer: that would end the process. */
  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#limited(`timer:${what}`, { err: (err as Error).stack ?? String(err) }, `internal error in ${what}; will try again`);
    }
  }

  #limited(key: string, fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.#limiter.allow(key, this.#clock());
    if (suppressed === undefined) return;
    this.#log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }
}

/**
 * With `ipv6_prefix` below 128 a ban covers a whole network, and one that
 * holds this host's own IPv6 addresses (a VPS whose provider gives a /64 or
 * /48 to several customers) would drop the host's traffic to itself and,
 * with resetconns, cut its own flows: such a network is never counted, as
 * if it were in ignorenets. (`banban test` does not add them: it may be
 * replaying another host's log.)
 */
function withOwnNetworks(config: Config): Config {
  if (config.ipv6Prefix >= 128) return config;
  const own: Cidr[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv6' || a.internal || a.scopeid !== 0) continue; // link-local addresses are not routed
      const c = parseCidr(a.address);
      if (c.ok) own.push(c.value);
    }
  }
  return own.length === 0 ? config : { ...config, ignorenets: config.ignorenets.with(own) };
}

/** What to do about a state file that could not be written, by the error's code. */
function saveAdvice(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EROFS':
      return "its folder is read-only to banban: the shipped unit (ProtectSystem=strict) lets it write /var/lib/banban only; keep state_file there, or add the folder to the unit's ReadWritePaths=";
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a part of its path is a file where a folder should be: set state_file to a path in a folder of its own';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'the disk (or the quota) is full: make room';
    case 'EACCES':
    case 'EPERM':
      return "banban's user may not write there: give it the folder, or set state_file to one it may write";
    default:
      return 'check that its folder exists and banban may write there, or set state_file';
  }
}
