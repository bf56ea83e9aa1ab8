/**
 * The banban daemon under test: `node dist/bin/main.js run -c CONF` inside
 * the server namespace, so the /proc/net/xt_recent it writes is the
 * server's. Its stdout is pino JSON, one object per line, which we parse.
 *
 * Also the "barrier": the way a test proves that the daemon has processed
 * every line sent before a given moment without sleeping. The configs here
 * carry an extra blocktype that bans on the first `barrier[1]: e2e barrier
 * from ADDR` line into the list BARRIER. Lines reach the daemon in order
 * through one syslog daemon and one socket, so once a fresh barrier address
 * shows up in the kernel's BARRIER list, everything logged before it has
 * been seen; if no ban happened by then, none will.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nextBarrierAddress } from './addresses.js';
import type { Testbed } from './netns.js';
import { daemonMain } from './preflight.js';
import { Service, waitFor } from './proc.js';
import { inject, type SyslogDaemon } from './syslog-input.js';

export const BARRIER_LIST = 'BARRIER';

export interface BlocktypeConfig {
  target: string;
  minocc: number;
  interval: number;
  resetconns?: boolean;
  /** absent only to override an included preset's blocktype, which has its own */
  patterns?: string[];
}

export interface DaemonConfig {
  socket: string;
  /**
   * Where the daemon saves offence windows and bans across restarts (and
   * restores them from at start). Always a test's own temp file: the default
   * under /var/lib would carry bans from one test run into the next.
   */
  state_file: string;
  /** shipped presets by name */
  include?: string[];
  goodpatterns?: string[];
  ignorenets?: string[];
  /** IPv6 counted and banned by this network prefix (default 128) */
  ipv6_prefix?: number;
  blocktypes: Record<string, BlocktypeConfig>;
}

/** Patterns as sshd 9.x writes them; the same as the example config. */
export const SSH_FAILED_PATTERN = String.raw`sshd\[\d+\]: Failed password for (?:invalid user )?\S* from (?<ip>\S+) port \d+ ssh2$`;
export const SSH_ACCEPTED_PATTERN = String.raw`sshd\[\d+\]: Accepted \S+ for \S+ from (?<ip>\S+) port \d+ ssh2$`;

/** The barrier blocktype every test config carries (see the file comment). */
export const BARRIER_BLOCKTYPE: BlocktypeConfig = {
  target: BARRIER_LIST,
  minocc: 1,
  interval: 60,
  resetconns: false,
  patterns: [String.raw`barrier\[\d+\]: e2e barrier from (?<ip>\S+)$`],
};

/**
 * The YAML file. JSON is a subset of YAML 1.2, and writing JSON spares us
 * any doubt about quoting backslashes in patterns.
 */
export function writeConfig(path: string, config: DaemonConfig): void {
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n');
}

export interface LogEntry {
  msg?: string;
  level?: number | string;
  [k: string]: unknown;
}

export class Daemon {
  private constructor(
    readonly service: Service,
    readonly configPath: string,
    readonly socket: string,
  ) {}

  /** Starts the daemon with the config file at `configPath`; waits for "listening". */
  static async start(tb: Testbed, configPath: string, socket: string, name = 'banban'): Promise<Daemon> {
    const service = new Service(name, 'ip', ['netns', 'exec', tb.server, process.execPath, daemonMain, 'run', '-c', configPath, '--log-format', 'json']);
    const d = new Daemon(service, configPath, socket);
    await d.waitForLog((e) => e.msg === 'listening', { what: '"listening"' });
    const entry = d.logs().find((e) => e.msg === 'listening');
    if (entry?.socket !== socket) throw new Error(`daemon said "listening" on ${String(entry?.socket)}, expected ${socket}`);
    return d;
  }

  /** Parsed JSON log lines (anything that is not JSON is skipped). */
  logs(from = 0): LogEntry[] {
    const out: LogEntry[] = [];
    for (const line of this.service.lines.slice(from)) {
      try {
        const v: unknown = JSON.parse(line);
        if (v !== null && typeof v === 'object') out.push(v as LogEntry);
      } catch {
        // not a log object (a stack trace, node warning...): kept in lines for failure output
      }
    }
    return out;
  }

  /** Current length of the output, to wait only for what comes after. */
  get mark(): number {
    return this.service.lines.length;
  }

  async waitForLog(match: (e: LogEntry) => boolean, { from = 0, timeoutMs = 10_000, what = 'a log line' } = {}): Promise<LogEntry> {
    const at = await this.service.waitForLine(
      (line) => {
        try {
          const v: unknown = JSON.parse(line);
          return v !== null && typeof v === 'object' && match(v as LogEntry);
        } catch {
          return false;
        }
      },
      { from, timeoutMs, what },
    );
    return JSON.parse(this.service.lines[at]!) as LogEntry;
  }

  /** SIGTERM; resolves with the exit status. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.service.stop('SIGTERM', 5000);
  }

  socketExists(): boolean {
    return existsSync(this.socket);
  }
}

/**
 * Waits until the daemon has processed everything logged through `syslog`
 * so far (see the file comment). Returns the barrier address used.
 */
export async function barrier(tb: Testbed, syslog: SyslogDaemon): Promise<string> {
  const ip = nextBarrierAddress();
  await inject(syslog, 'barrier[1]', `e2e barrier from ${ip}`);
  await waitFor(`barrier ${ip} to reach the kernel list ${BARRIER_LIST} through ${syslog.kind} and the daemon`, () => tb.listed(BARRIER_LIST, ip), { timeoutMs: 10_000 });
  return ip;
}

/** Temp-dir layout shared by the test files. */
export function daemonPaths(dir: string): { socket: string; config: string; stateFile: string } {
  return { socket: join(dir, 'banban.sock'), config: join(dir, 'banban.yml'), stateFile: join(dir, 'banban-state.json') };
}
