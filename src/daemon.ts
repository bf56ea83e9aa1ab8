/**
 * The running daemon: wires socket -> line parser -> engine -> enforcer, and
 * handles reload and shutdown. Everything that decides lives in the pure core
 * (track/ban-engine.ts); this file only moves values between the edges.
 *
 *   - reload (SIGHUP): the new config is validated in full first; a config
 *     with errors is refused and the running one stays. Offence counts carry
 *     over for blocktypes of the same name. A changed socket path, owner or
 *     group re-binds the socket; the old one is closed after the new one is
 *     bound, so no window exists with no socket at all.
 *   - stop (SIGTERM / SIGINT): closes and removes the socket, flushes logs.
 *   - timers: pending list writes are retried every `retryMs`; quiet windows
 *     are pruned every `pruneMs`. Both are unref'd: only the socket keeps
 *     the process alive.
 */
import type { Config } from './config/schema.js';
import { loadConfig } from './config/load.js';
import { ConfigError, formatProblem } from './config/problems.js';
import { ConntrackKiller } from './enforce/conntrack.js';
import { Enforcer } from './enforce/enforcer.js';
import { missingListHint, readIpListTot, XtRecentLists } from './enforce/xt-recent.js';
import type { ListWriter } from './enforce/backend.js';
import { monotonicMs, type Clock } from './lib/clock.js';
import { RateLimiter, type Logger } from './lib/log.js';
import { decodeDatagram } from './source/datagram.js';
import { parseSyslogLine } from './source/syslog-line.js';
import { MAX_DATAGRAM, SyslogSocket } from './source/syslog-socket.js';
import { BanEngine } from './track/ban-engine.js';

export interface DaemonOptions {
  configFile: string;
  log: Logger;
  /** overrides the config's proc_dir */
  procDir?: string | undefined;
  dryRun?: boolean;
  clock?: Clock;
  writer?: ListWriter;
  conntrackCommand?: string;
  ipListTotPath?: string;
  retryMs?: number;
  pruneMs?: number;
}

export interface DaemonStats {
  datagrams: number;
  skipped: number;
  matched: number;
  blocks: number;
  unblocks: number;
}

export class Daemon {
  readonly #opts: DaemonOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #enforcer: Enforcer;
  readonly #writer: ListWriter;
  readonly #limiter = new RateLimiter(5, 60_000);
  readonly #timers: NodeJS.Timeout[] = [];
  #engine: BanEngine;
  #socket: SyslogSocket | undefined;
  readonly stats: DaemonStats = { datagrams: 0, skipped: 0, matched: 0, blocks: 0, unblocks: 0 };

  private constructor(opts: DaemonOptions, config: Config) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#clock = opts.clock ?? monotonicMs;
    this.#engine = new BanEngine(config);
    const capacity = readIpListTot(opts.ipListTotPath);
    this.#writer = opts.writer ?? new XtRecentLists(config.procDir);
    this.#enforcer = new Enforcer({
      writer: this.#writer,
      log: this.#log,
      conntrack: new ConntrackKiller(this.#log, { command: opts.conntrackCommand ?? 'conntrack' }),
      capacity,
      dryRun: opts.dryRun ?? false,
      maxEntries: config.maxTracked,
    });
    this.#log.info({ ip_list_tot: capacity ?? null }, capacity === undefined ? 'xt_recent ip_list_tot unknown (module not loaded?)' : 'kernel list capacity');
  }

  /** Loads the config, binds the socket, starts the timers. Throws ConfigError or SocketError. */
  static start(opts: DaemonOptions): Daemon {
    const { config, warnings } = loadConfig(opts.configFile, { procDir: opts.procDir });
    const d = new Daemon(opts, config);
    for (const w of warnings) opts.log.warn({ file: w.file, line: w.line, key: w.key }, w.message);
    d.#bind(config);
    d.#checkLists(config);
    d.#timers.push(setInterval(() => d.#enforcer.retryPending(), opts.retryMs ?? 2000).unref());
    d.#timers.push(setInterval(() => d.#engine.prune(d.#clock()), opts.pruneMs ?? 60_000).unref());
    d.#log.info(
      { socket: config.socket, config: config.file, blocktypes: config.blocktypes.map((b) => b.name), targets: d.#engine.targets, dryRun: opts.dryRun ?? false },
      'listening',
    );
    return d;
  }

  get config(): Config {
    return this.#engine.config;
  }

  /** One datagram, start to finish. Exposed for benchmarks and tests. */
  handleDatagram(buf: Buffer): void {
    this.stats.datagrams++;
    const decoded = decodeDatagram(buf, MAX_DATAGRAM);
    if (!decoded.ok) {
      this.stats.skipped++;
      this.#limited(`datagram:${decoded.reason}`, { reason: decoded.reason, bytes: buf.length }, 'datagram skipped');
      return;
    }
    const line = parseSyslogLine(decoded.line);
    const outcome = this.#engine.handle(line.text, this.#clock());
    const v = outcome.verdict;
    if (v.kind !== 'none') this.stats.matched++;
    if (v.rejected) {
      this.#limited(`rejected:${v.rejected.rule.where}`, { rule: v.rejected.rule.where, reason: v.rejected.reason }, 'pattern matched but captured no usable address; line skipped for that pattern');
    }
    for (const d of outcome.decisions) {
      if (d.kind === 'block') this.stats.blocks++;
      else this.stats.unblocks++;
      this.#enforcer.apply(d);
    }
  }

  /** Re-reads the config. Returns false (and keeps the running config) when it is invalid. */
  reload(): boolean {
    let loaded;
    try {
      loaded = loadConfig(this.#opts.configFile, { procDir: this.#opts.procDir });
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
    this.#engine = new BanEngine(config, this.#engine.windows);
    this.#checkLists(config);
    for (const w of loaded.warnings) this.#log.warn({ file: w.file, line: w.line, key: w.key }, w.message);
    this.#log.info({ config: config.file, socket: config.socket, blocktypes: config.blocktypes.map((b) => b.name) }, 'reloaded');
    return true;
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#socket?.close();
    this.#socket = undefined;
    this.#log.info({ ...this.stats, pending: this.#enforcer.pendingCount }, 'stopped');
  }

  /** Says at start, not at the first ban, when a target has no list yet. */
  #checkLists(config: Config): void {
    let present: Set<string>;
    try {
      present = new Set(this.#writer.targets());
    } catch (err) {
      this.#log.warn(
        { procDir: config.procDir, err: (err as Error).message },
        `cannot list ${config.procDir}: xt_recent is not loaded or no rule uses it yet; bans are kept and applied once the lists exist`,
      );
      return;
    }
    for (const target of this.#engine.targets) {
      if (present.has(target)) continue;
      this.#log.warn(
        { target },
        `list ${target} does not exist yet: ${missingListHint(target)}. Bans for it are kept and applied once it exists`,
      );
    }
  }

  #bind(config: Config): void {
    this.#socket = SyslogSocket.open({
      path: config.socket,
      owner: config.socketOwner,
      group: config.socketGroup,
      onDatagram: (buf) => {
        try {
          this.handleDatagram(buf);
        } catch (err) {
          // A bug must not take the daemon down with it: log, count, go on with the next line.
          this.stats.skipped++;
          this.#limited('internal', { err: (err as Error).stack ?? String(err) }, 'internal error while handling a datagram; line skipped');
        }
      },
      onError: (err) => this.#log.error({ err: err.message }, 'socket error'),
    });
  }

  #limited(key: string, fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.#limiter.allow(key, this.#clock());
    if (suppressed === undefined) return;
    this.#log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }
}
