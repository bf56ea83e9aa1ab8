/**
 * `npm run bench`: the figures of GitHub issue #6, measured in one run, written
 * to test/bench/results/latest.json and printed as a markdown table (the one
 * in README's "Benchmarks" section).
 *
 * It is not a test: it reports, and exits 0 whatever the figures are (it
 * exits non-zero only when it could not measure at all). Sections:
 *
 *   throughput  lines/s through the daemon's socket until the last decision
 *               is in the kernel list, against a bare unix-dgram receive loop
 *               (the ceiling of the design) and a C receive loop (the ceiling
 *               of the machine and the sender); 10-pattern config
 *   matching    the corpus file through `banban test`, fail2ban-regex (sshd
 *               filter) and sshguard's parser, lines/s side by side
 *   bans        new bans/s, every line a new address, resetconns on and off,
 *               and line throughput while the conntrack calls drain
 *   latency     datagram sent until the address is in the kernel list, p50
 *               and p99, idle and under a 50 000 lines/s background stream
 *   memory      RSS after 1 M IPv4 and then 1 M IPv6 offending sources, each
 *               below its threshold; and the engine's windows alone
 *   scaling     daemon throughput and replay speed with every preset
 *               included, against the 10-pattern config
 *
 * Kernel-list figures (throughput, bans, latency, memory, the daemon half of
 * scaling) need root and a network namespace of the bench's own; without
 * them they are skipped with the reason. See README "Benchmarks".
 *
 * Each timed run is repeated (--reps, 7) and the fastest is reported: on a
 * shared, noisy machine other work only ever slows a run down. Every run's
 * figure is kept in the JSON; the load average is recorded per section.
 *
 * Usage: node dist/test/bench/run.js [--only throughput,matching,...]
 *        [--lines N] [--reps N] [--profile] [--out FILE] [--help]
 */
import { spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { onEmergency, run } from '../e2e/lib/proc.js';
import { SENTINEL_BLOCKTYPE, SENTINEL_LIST, makeConfig, probeBlocktype, writeConfig, type BenchConfig, type BlocktypeConfig, type ConfigKind } from './configs.js';
import { ensureCorpus, type CorpusInfo } from './corpus.js';
import { BenchNet, kernelSkipReason, type NetProcess } from './netns.js';
import { DAEMON_FUNCTIONS, formatSummary, summarise, type ProfileSummary } from './profile.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** dist/test/bench -> the repository */
const REPO = join(HERE, '..', '..', '..');
/**
 * The programs the bench runs. Other people's `npm run build` may rewrite
 * dist/ while a run is going on, so every child runs from a copy of dist/
 * taken at the start (see `snapshotDist`): one run, one build.
 */
let MAIN = join(REPO, 'dist', 'bin', 'main.js');
let BARE = join(HERE, 'bare-receiver.js');
let WINDOWS_MEMORY = join(HERE, 'windows-memory.js');

/** Copies dist/ (with package.json, and links to node_modules and presets) into `dir` and points the bench there. */
function snapshotDist(dir: string): void {
  const snap = join(dir, 'build');
  mkdirSync(snap, { recursive: true });
  cpSync(join(REPO, 'dist'), join(snap, 'dist'), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(snap, 'package.json')); // "type": "module" for the .js files
  symlinkSync(join(REPO, 'node_modules'), join(snap, 'node_modules'));
  symlinkSync(join(REPO, 'presets'), join(snap, 'presets'));
  MAIN = join(snap, 'dist', 'bin', 'main.js');
  BARE = join(snap, 'dist', 'test', 'bench', 'bare-receiver.js');
  WINDOWS_MEMORY = join(snap, 'dist', 'test', 'bench', 'windows-memory.js');
}
const SENDER_SOURCE = join(REPO, 'test', 'bench', 'sender.c');
const RESULTS_DIR = join(REPO, 'test', 'bench', 'results');

/** net.unix.max_dgram_qlen: systemd's (DEFAULT_UNIX_MAX_DGRAM_QLEN, set by PID 1 at boot) and the kernel's own */
const DEPLOYED_QLEN = 512;
const KERNEL_QLEN = 10;

const SECTIONS = ['throughput', 'matching', 'bans', 'latency', 'memory', 'scaling'] as const;
type Section = (typeof SECTIONS)[number];

interface Options {
  only: Set<Section>;
  lines: number;
  reps: number;
  seed: number;
  warm: number;
  floodCount: number;
  probes: number;
  probeGapMs: number;
  bgRate: number;
  memCount: number;
  qlen: number;
  logLevel: string;
  profile: boolean;
  out: string | undefined;
  cache: string;
  retable?: string;
}

const USAGE = `usage: npm run bench -- [options]
  --only LIST      sections to run, comma-separated (default: all):
                   ${SECTIONS.join(', ')}
  --lines N        corpus lines (default 300000)
  --reps N         repetitions of each timed run; the fastest is reported, since on a
                   shared machine other work only ever slows a run down (default 7)
  --seed N         corpus seed (default 1)
  --probes N       ban-latency probes, idle and under load each (default 300)
  --probe-gap MS   pause between probes (default 40: the probes span the daemon's
                   10-second timers, verify and watch, as a live daemon's bans would)
  --bg-rate N      background stream for the latency figure, lines/s (default 50000)
  --flood N        new addresses in the ban flood (default 20000)
  --mem N          addresses per family in the memory figure (default 1000000)
  --qlen N         net.unix.max_dgram_qlen in the bench namespace (default 512: what systemd
                   sets at boot on every host it runs, so what rsyslog and banban meet there;
                   a new namespace starts at the kernel's 10). The throughput section also
                   runs the bare loop and the daemon once more at 10, reported apart
  --log-level L    the daemon's --log-level (default info, as deployed)
  --profile        also run the daemon once more per config under --cpu-prof (not timed)
                   and summarise where the time went (files in test/bench/results/profiles)
  --out FILE       JSON output (default test/bench/results/latest.json for a full run,
                   $TMPDIR/banban-bench-partial.json when --only is given)
  --cache DIR      where the corpus is generated and kept (default $TMPDIR/banban-bench-cache)
  --retable FILE   measure nothing: work the goals and the table out again from the
                   figures in FILE (a results JSON), write them back into it and print
                   the table (after a change to how they are worked out)
`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    only: new Set(SECTIONS),
    lines: 300_000,
    reps: 7,
    seed: 1,
    warm: 30_000,
    floodCount: 20_000,
    probes: 300,
    probeGapMs: 40,
    bgRate: 50_000,
    memCount: 1_000_000,
    qlen: DEPLOYED_QLEN,
    logLevel: 'info',
    profile: false,
    out: undefined,
    cache: process.env.BANBAN_BENCH_CACHE ?? join(tmpdir(), 'banban-bench-cache'),
  };
  let partial = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const num = (): number => {
      const v = Number(val());
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    switch (a) {
      case '--only': {
        const want = val().split(',').filter(Boolean);
        for (const s of want) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown section '${s}' (${SECTIONS.join(', ')})`);
        o.only = new Set(want as Section[]);
        partial = true;
        break;
      }
      case '--lines':
        o.lines = Math.round(num());
        break;
      case '--reps':
        o.reps = Math.round(num());
        break;
      case '--seed':
        o.seed = Math.round(num());
        break;
      case '--probes':
        o.probes = Math.round(num());
        break;
      case '--probe-gap':
        o.probeGapMs = num();
        break;
      case '--bg-rate':
        o.bgRate = num();
        break;
      case '--flood':
        o.floodCount = Math.round(num());
        break;
      case '--mem':
        o.memCount = Math.round(num());
        break;
      case '--qlen':
        o.qlen = Math.round(num());
        break;
      case '--log-level':
        o.logLevel = val();
        break;
      case '--profile':
        o.profile = true;
        break;
      case '--out':
        o.out = val();
        break;
      case '--cache':
        o.cache = val();
        break;
      case '--retable':
        o.retable = val();
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  // a partial run must not overwrite the full run's figures
  o.out ??= partial ? join(tmpdir(), 'banban-bench-partial.json') : join(RESULTS_DIR, 'latest.json');
  o.warm = Math.min(o.warm, o.lines);
  return o;
}

// ---- small helpers ---------------------------------------------------------

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
const r0 = (x: number) => Math.round(x);
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const fmtInt = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const say = (s: string) => process.stderr.write(`bench: ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command to its end with stdin/stdout redirected to files; wall time in ms. */
function timed(cmd: string, args: string[], io: { stdin?: string; stdout?: string } = {}): Promise<{ ms: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const inFd = io.stdin ? openSync(io.stdin, 'r') : 'ignore';
    const outFd = openSync(io.stdout ?? '/dev/null', 'w');
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: [inFd, outFd, 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (typeof inFd === 'number') closeSync(inFd);
      closeSync(outFd);
      resolve({ ms, code, stderr });
    });
  });
}

async function which(prog: string): Promise<string | undefined> {
  const r = await run('sh', ['-c', `command -v ${prog}`]).catch(() => undefined);
  return r && r.code === 0 ? r.stdout.trim() : undefined;
}

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    nproc: cpus().length,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    node: process.version,
    memTotalMB: Math.round(totalmem() / 2 ** 20),
  };
}

async function gitInfo(): Promise<{ commit: string; srcDirty: boolean } | undefined> {
  const h = await run('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']).catch(() => undefined);
  if (!h || h.code !== 0) return undefined;
  const s = await run('git', ['-C', REPO, 'status', '--porcelain', '--', 'src', 'presets']).catch(() => undefined);
  return { commit: h.stdout.trim(), srcDirty: (s?.stdout.trim() ?? '') !== '' };
}

// ---- the bench's moving parts ----------------------------------------------

interface SendResult {
  sent: number;
  send_ns: number;
  done_ns: number;
}

/** Sentinel lines: a fixed length (the bare loop checks the length first), a fresh address each time. */
let sentinelSeq = 0;
function nextSentinel(): { line: string; addr: string } {
  const addr = `198.51.100.${100 + (sentinelSeq++ % 100)}`;
  return { line: `<13>Nov 22 23:59:59 benchhost banban-bench[1]: sentinel from ${addr}`, addr };
}
const SENTINEL_LENGTH = nextSentinel().line.length;

const FLOOD_TEMPLATE = '<38>Nov 22 12:00:00 benchhost banban-bench[3]: ban from {ip}';
const PROBE_TEMPLATE = '<38>Nov 22 12:00:00 benchhost banban-bench[2]: probe from {ip}';
const MEMORY_TEMPLATE = '<38>Nov 22 12:00:00 benchhost sshd[4242]: Failed password for invalid user admin from {ip} port 50022 ssh2';

class Bench {
  readonly tmp: string;
  sender = '';
  net: BenchNet | undefined;
  corpus!: CorpusInfo;
  #seq = 0;

  readonly #forget: () => void;

  constructor(readonly o: Options) {
    this.tmp = mkdtempSync(join(tmpdir(), `banban-bench-${process.pid}-`));
    // interrupted (Ctrl-C): the namespace goes with BenchNet's own step, the temp folder with this one
    this.#forget = onEmergency(() => rmSync(this.tmp, { recursive: true, force: true }));
  }

  async compileSender(): Promise<string | undefined> {
    const gcc = (await which('gcc')) ?? (await which('cc'));
    if (!gcc) return 'no C compiler (gcc): run bash test/bench/setup.sh';
    this.sender = join(this.tmp, 'sender');
    const r = await run(gcc, ['-O2', '-Wall', '-o', this.sender, SENDER_SOURCE]);
    if (r.code !== 0) return `gcc could not compile ${SENDER_SOURCE}: ${r.stderr.trim()}`;
    return undefined;
  }

  file(name: string): string {
    return join(this.tmp, `${++this.#seq}-${name}`);
  }

  /** The sender, inside the namespace (it reads the kernel list there). */
  async send(
    socket: string,
    what: { file: string; count?: number } | { gen: 'v4' | 'v6'; count: number; start: number; template: string },
    opts: { rate?: number; duration?: number; loop?: boolean; sentinel?: boolean; timeoutS?: number } = {},
  ): Promise<SendResult> {
    const args = ['send', '--socket', socket, '--timeout', String(opts.timeoutS ?? 120)];
    if ('file' in what) {
      args.push('--file', what.file);
      if (what.count !== undefined) args.push('--count', String(what.count));
    } else args.push('--gen', what.gen, '--count', String(what.count), '--start', String(what.start), '--template', what.template);
    if (opts.rate) args.push('--rate', String(opts.rate));
    if (opts.duration) args.push('--duration', String(opts.duration));
    if (opts.loop) args.push('--loop');
    if (opts.sentinel !== false) {
      const s = nextSentinel();
      args.push('--sentinel', s.line, '--sentinel-addr', s.addr, '--sentinel-list', this.net!.listPath(SENTINEL_LIST));
    }
    const r = await this.net!.exec(this.sender, args, { timeoutMs: ((opts.timeoutS ?? 120) + 60) * 1000 });
    if (r.code !== 0) throw new Error(`sender failed (exit ${r.code ?? r.signal}): ${r.stderr.trim()} ${r.stdout.trim()}`);
    return JSON.parse(r.stdout.trim()) as SendResult;
  }

  /** Waits until the receiver has bound its socket and answers a sentinel. */
  async ready(socket: string): Promise<void> {
    await this.send(socket, { gen: 'v4', count: 0, start: 0, template: '{ip}' }, { timeoutS: 30 });
  }

  async startSink(kind: 'csink' | 'bare' | 'bare-batched'): Promise<Receiver> {
    const socket = this.file(`${kind}.sock`);
    const log = this.file(`${kind}.log`);
    const list = this.net!.listPath(SENTINEL_LIST);
    const proc =
      kind === 'csink'
        ? this.net!.start(this.sender, ['sink', '--socket', socket, '--sentinel-len', String(SENTINEL_LENGTH), '--list', list], log)
        : this.net!.start(process.execPath, [BARE, socket, String(SENTINEL_LENGTH), list, kind === 'bare' ? 'unix-dgram' : 'batched'], log);
    const r = new Receiver(kind, proc, socket);
    await this.ready(socket);
    return r;
  }

  config(kind: ConfigKind, extra: Record<string, BlocktypeConfig> = {}, opts: { maxTracked?: number; resetconns?: boolean } = {}): { file: string; socket: string; config: BenchConfig } {
    const socket = this.file(`${kind}.sock`);
    const stateFile = this.file(`${kind}-state.json`);
    const config = makeConfig(kind, { socket, stateFile }, REPO, { sentinel: SENTINEL_BLOCKTYPE, ...extra }, opts);
    return { file: writeConfig(this.file(`${kind}.yml`), config), socket, config };
  }

  async startDaemon(
    name: string,
    conf: { file: string; socket: string },
    opts: { logLevel?: string; cpuProf?: string; saveEvery?: number } = {},
  ): Promise<Receiver> {
    // as the shipped unit starts it: with its NODE_OPTIONS
    const nodeFlags: string[] = unitNodeOptions();
    if (opts.cpuProf) nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`);
    const args = [...nodeFlags, MAIN, 'run', '-c', conf.file, '--log-level', opts.logLevel ?? this.o.logLevel];
    if (opts.saveEvery) args.push('--save-every', String(opts.saveEvery));
    // a TMPDIR of its own: whatever the daemon leaves there (conntrack batch files) is seen, and removed with the bench's folder
    const tmp = this.file(`${name}-tmp`);
    mkdirSync(tmp);
    const proc = this.net!.start(process.execPath, args, this.file(`${name}.log`), { ...process.env, TMPDIR: tmp });
    const r = new Receiver(name, proc, conf.socket, tmp);
    try {
      await this.ready(conf.socket);
    } catch (e) {
      await proc.stop(1000);
      throw new Error(`the daemon did not come up: ${(e as Error).message}\n${proc.output().slice(-2000)}`);
    }
    return r;
  }

  cleanup(): void {
    this.#forget();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

class Receiver {
  constructor(
    readonly kind: string,
    readonly proc: NetProcess,
    readonly socket: string,
    /** the daemon's TMPDIR */
    readonly tmp?: string,
  ) {}

  /** What the daemon left in its TMPDIR (after it stopped: files it did not clean up). */
  leftovers(): number {
    if (this.tmp === undefined || !existsSync(this.tmp)) return 0;
    const walk = (d: string): number => readdirSync(d, { withFileTypes: true }).reduce((n, e) => n + 1 + (e.isDirectory() ? walk(join(d, e.name)) : 0), 0);
    return walk(this.tmp);
  }

  /** The daemon's closing stats line (datagrams, matched, blocks, ...). */
  stats(): Record<string, number> | undefined {
    for (const line of this.proc.output().split('\n').reverse()) {
      if (!line.includes('"msg":"stopped"')) continue;
      try {
        return JSON.parse(line) as Record<string, number>;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  logCount(msg: string): number {
    return this.proc.output().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;
  }

  async stop(): Promise<void> {
    await this.proc.stop(60_000);
  }
}

/** The node flags examples/banban.service gives the daemon (`Environment=NODE_OPTIONS=...`). */
function unitNodeOptions(): string[] {
  const unit = readFileSync(join(REPO, 'examples', 'banban.service'), 'utf8');
  const m = /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit);
  return m ? m[1]!.replace(/^"|"$/g, '').trim().split(/\s+/).filter((f) => f !== '') : [];
}

// ---- results -----------------------------------------------------------------

interface Goal {
  id: number;
  name: string;
  goal: string;
  value: number | null;
  unit: string;
  met: boolean | null;
  note?: string;
  /**
   * For a ratio: the median of the ratios within each round (the two sides
   * of a round ran one after the other). The goal is judged on the ratio of
   * the fastest runs, as always; this says whether one lucky or unlucky run
   * on this shared machine decided it.
   */
  roundsMedian?: number | null;
}

/** The median of num[i] / den[i] over the rounds both sides have. */
function roundsMedian(num: readonly number[] | undefined, den: readonly number[] | undefined): number | null {
  if (!num || !den) return null;
  const r = num.slice(0, Math.min(num.length, den.length)).map((x, i) => x / den[i]!).sort((x, y) => x - y);
  if (r.length === 0) return null;
  return r3(r.length % 2 ? r[(r.length - 1) / 2]! : (r[r.length / 2 - 1]! + r[r.length / 2]!) / 2);
}

interface Results {
  date: string;
  /**
   * per section: seconds taken, the 1-minute load average before and after,
   * and how busy all CPUs were meanwhile (the bench's own work included), to
   * tell a run other jobs disturbed
   */
  sections: Record<string, { seconds: number; loadBefore: number; loadAfter: number; machineBusyPercent: number; stealPercent: number }>;
  machine: ReturnType<typeof machine>;
  git?: { commit: string; srcDirty: boolean } | undefined;
  params: Record<string, unknown>;
  corpus?: Record<string, unknown>;
  skipped: Record<string, string>;
  figures: Record<string, unknown>;
  profiles?: Record<string, ProfileSummary>;
  goals: Goal[];
  durationSeconds?: number;
  table?: string;
}

// ---- sections -----------------------------------------------------------------

type Kind = 'csink' | 'bare' | 'bare-batched' | ConfigKind;

async function socketThroughput(b: Bench, kinds: Kind[]): Promise<Record<string, unknown>> {
  const o = b.o;
  const runs: Record<string, { linesPerSecond: number; cpuMicrosPerLine: number | null; threadMicrosPerLine: Record<string, number> | undefined; stats?: Record<string, number> | undefined }[]> = {};
  for (let rep = 0; rep < o.reps; rep++) {
    // rotate the order, so no receiver always runs first or last
    const order = kinds.map((_, i) => kinds[(i + rep) % kinds.length]!);
    for (const kind of order) {
      const rcv = kind === 'csink' || kind === 'bare' || kind === 'bare-batched' ? await b.startSink(kind) : await b.startDaemon(kind, b.config(kind));
      await b.send(rcv.socket, { file: b.corpus.wire, count: o.warm });
      const cpu0 = rcv.proc.cpuSeconds();
      const threads0 = rcv.proc.threadCpuSeconds();
      const res = await b.send(rcv.socket, { file: b.corpus.wire });
      const cpu1 = rcv.proc.cpuSeconds();
      const threads1 = rcv.proc.threadCpuSeconds();
      await rcv.stop();
      const lines = res.sent + 1;
      const row = {
        linesPerSecond: r0(lines / (res.done_ns / 1e9)),
        cpuMicrosPerLine: cpu0 !== undefined && cpu1 !== undefined ? r2(((cpu1 - cpu0) * 1e6) / lines) : null,
        threadMicrosPerLine: threadsPerLine(rcv.proc.pid, threads0, threads1, lines),
        ...(kind !== 'csink' && kind !== 'bare' && kind !== 'bare-batched' ? { stats: pickStats(rcv.stats()) } : {}),
      };
      (runs[kind] ??= []).push(row);
      const perThread = row.threadMicrosPerLine ? ` (${Object.entries(row.threadMicrosPerLine).map(([n, us]) => `${n} ${us}`).join(', ')})` : '';
      say(`throughput ${kind} rep ${rep + 1}: ${fmtInt(row.linesPerSecond)} lines/s${row.cpuMicrosPerLine !== null ? `, ${row.cpuMicrosPerLine} us CPU per line${perThread}` : ''}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [kind, rs] of Object.entries(runs)) {
    out[kind] = {
      linesPerSecond: Math.max(...rs.map((r) => r.linesPerSecond)),
      medianLinesPerSecond: median(rs.map((r) => r.linesPerSecond)),
      runs: rs.map((r) => r.linesPerSecond),
      cpuMicrosPerLine: rs[0]!.cpuMicrosPerLine === null ? null : Math.min(...rs.map((r) => r.cpuMicrosPerLine!)),
      threadMicrosPerLine: medianPerThread(rs.map((r) => r.threadMicrosPerLine)),
      ...(rs[0]!.stats ? { daemonStats: rs[0]!.stats } : {}),
    };
  }
  return out;
}

/**
 * CPU µs per line between two readings (threadCpuSeconds) of the main
 * thread (its id is the process's), of the busiest other thread (a
 * daemon's matching thread, match-worker.ts; nothing else of Node's is
 * that busy), and of the rest together (V8's collector and compiler
 * helpers, libuv's pool).
 */
function threadsPerLine(pid: number, a: Map<number, number> | undefined, b: Map<number, number> | undefined, lines: number): Record<string, number> | undefined {
  if (!a || !b) return undefined;
  const used = [...b].map(([tid, s]) => [tid, s - (a.get(tid) ?? 0)] as const);
  const others = used.filter(([tid]) => tid !== pid).sort((x, y) => y[1] - x[1]);
  const us = (s: number) => r2((s * 1e6) / lines);
  return {
    main: us(used.find(([tid]) => tid === pid)?.[1] ?? 0),
    busiestOther: us(others[0]?.[1] ?? 0),
    rest: us(others.slice(1).reduce((t, [, s]) => t + s, 0)),
  };
}

/** per thread name, the median over the runs that have it */
function medianPerThread(rows: (Record<string, number> | undefined)[]): Record<string, number> | undefined {
  const names = new Set(rows.flatMap((r) => Object.keys(r ?? {})));
  if (names.size === 0) return undefined;
  return Object.fromEntries([...names].map((n) => [n, r2(median(rows.flatMap((r) => (r?.[n] !== undefined ? [r[n]] : []))))]));
}

function pickStats(s: Record<string, number> | undefined): Record<string, number> | undefined {
  if (!s) return undefined;
  const { datagrams, matched, blocks, unblocks, skipped, listWrites, rewritesSkipped, handedOver } = s;
  return { datagrams: datagrams!, matched: matched!, blocks: blocks!, unblocks: unblocks!, skipped: skipped!, listWrites: listWrites!, rewritesSkipped: rewritesSkipped!, ...(handedOver !== undefined ? { handedOver } : {}) };
}

/**
 * `banban test --json` on the corpus, for each config: the fastest of the
 * reps, run in turns (one run of each config, then the next round), so
 * that a slower stretch of this shared machine weighs on every config alike
 * and the ratios between them hold; `alongside`, a peer's run, takes its
 * turn in each round too. Then one run each with the report kept, for
 * what the config found (matches, blocks), and the start-up alone (an
 * empty log).
 */
async function replaySpeed(b: Bench, kinds: ConfigKind[], alongside?: () => Promise<void>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const empty = b.file('empty.log');
  writeFileSync(empty, '');
  const ms = new Map<ConfigKind, number[]>(kinds.map((k) => [k, []]));
  const start = new Map<ConfigKind, number[]>(kinds.map((k) => [k, []]));
  for (let rep = 0; rep < b.o.reps; rep++) {
    for (const kind of kinds) {
      const r = await timed(process.execPath, [MAIN, 'test', '--json', '-c', b.config(kind).file, b.corpus.file]);
      if (r.code !== 0) throw new Error(`banban test failed: ${r.stderr}`);
      ms.get(kind)!.push(r.ms);
    }
    await alongside?.();
  }
  for (let rep = 0; rep < b.o.reps; rep++) {
    for (const kind of kinds) start.get(kind)!.push((await timed(process.execPath, [MAIN, 'test', '--json', '-c', b.config(kind).file, empty])).ms);
  }
  for (const kind of kinds) {
    const report = b.file(`replay-${kind}.json`);
    await timed(process.execPath, [MAIN, 'test', '--json', '-c', b.config(kind).file, b.corpus.file], { stdout: report });
    const found = JSON.parse(readFileSync(report, 'utf8')) as { matches: unknown[]; blocked: unknown[] };
    const m = Math.min(...ms.get(kind)!);
    const s = Math.min(...start.get(kind)!);
    out[kind] = {
      linesPerSecond: r0(b.corpus.lines / (m / 1000)),
      wallMs: r0(m),
      runsMs: ms.get(kind)!.map(r0),
      startupMs: r0(s),
      linesPerSecondAfterStartup: r0(b.corpus.lines / ((m - s) / 1000)),
      matches: found.matches.length,
      blocked: found.blocked.length,
    };
    say(`banban test (${kind}): ${fmtInt(b.corpus.lines / (m / 1000))} lines/s (${r0(m)} ms, of which ~${r0(s)} ms start-up); ${fmtInt(found.matches.length)} matches, ${fmtInt(found.blocked.length)} blocks`);
  }
  return out;
}

async function matching(b: Bench, results: Results): Promise<void> {
  // sshguard's parser runs in turns with banban's replay: goal 2 is their ratio
  const parser = '/usr/libexec/sshguard/sshg-parser';
  const sshguard = existsSync(parser);
  const sshgMs: number[] = [];
  const sshgRun = async (): Promise<void> => {
    const r = await timed(parser, [], { stdin: b.corpus.file });
    if (r.code !== 0) throw new Error(`sshg-parser failed: ${r.stderr}`);
    sshgMs.push(r.ms);
  };
  const fig: Record<string, unknown> = { banban: await replaySpeed(b, ['ten'], sshguard ? sshgRun : undefined) };
  // fail2ban-regex, Debian's, with its sshd filter
  const f2b = await which('fail2ban-regex');
  const filter = '/etc/fail2ban/filter.d/sshd.conf';
  if (!f2b || !existsSync(filter)) {
    results.skipped['fail2ban-regex'] = 'fail2ban is not installed (bash test/bench/setup.sh)';
  } else {
    const out = b.file('f2b.out');
    const r = await timed(f2b, ['--print-no-missed', '--print-no-ignored', b.corpus.file, filter], { stdout: out });
    const text = readFileSync(out, 'utf8');
    const own = /\[processed in ([\d.]+) sec\]/.exec(text);
    const lines = /^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/m.exec(text);
    const version = (await run(f2b, ['-V']).catch(() => undefined))?.stdout.trim();
    if (r.code !== 0 || !lines) {
      results.skipped['fail2ban-regex'] = `fail2ban-regex failed (exit ${r.code}): ${r.stderr.slice(-300)}`;
    } else {
      fig.fail2ban = {
        version,
        filter,
        linesPerSecond: r0(b.corpus.lines / (r.ms / 1000)),
        wallMs: r0(r.ms),
        ownSeconds: own ? Number(own[1]) : null,
        linesPerSecondOwnTiming: own ? r0(b.corpus.lines / Number(own[1])) : null,
        matched: Number(lines[3]),
      };
      say(`fail2ban-regex: ${fmtInt(b.corpus.lines / (r.ms / 1000))} lines/s (${r0(r.ms)} ms; its own timing ${own?.[1] ?? '?'} s)`);
    }
  }
  if (!sshguard) {
    results.skipped.sshguard = 'sshguard is not installed (bash test/bench/setup.sh)';
  } else {
    const ms = sshgMs;
    const out = b.file('sshg.out');
    await timed(parser, [], { stdin: b.corpus.file, stdout: out });
    const attacks = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
    const m = Math.min(...ms);
    fig.sshguard = { linesPerSecond: r0(b.corpus.lines / (m / 1000)), wallMs: r0(m), runsMs: ms.map(r0), attacks };
    say(`sshg-parser: ${fmtInt(b.corpus.lines / (m / 1000))} lines/s (${r0(m)} ms)`);
  }
  results.figures.matching = fig;
}

async function bans(b: Bench): Promise<Record<string, unknown>> {
  const o = b.o;
  type Row = {
    bansPerSecond: number;
    linesPerSecondAfter: number;
    daemonCpuMicrosPerLineAfter: number | null;
    /** the daemon's minor page faults while the lines after the flood went through */
    minorFaultsAfter: number | null;
    childCpuSeconds: number | null;
    banned: number;
    listed: boolean;
    leftovers: number;
  };
  const rows: Record<'on' | 'off', Row[]> = { on: [], off: [] };
  let start = 0;
  for (let rep = 0; rep < o.reps; rep++) {
    // on and off in turn, so the noise of the machine falls on both alike
    for (const resetconns of rep % 2 ? [false, true] : [true, false]) {
      const conf = b.config('ten', { flood: probeBlocktype('FLOOD', 'banban-bench', 'ban', resetconns) }, { resetconns });
      const d = await b.startDaemon(`bans-${resetconns ? 'on' : 'off'}`, conf);
      await b.send(d.socket, { file: b.corpus.wire, count: o.warm });
      start += 1_000_000;
      const flood = await b.send(d.socket, { gen: 'v4', count: o.floodCount, start, template: FLOOD_TEMPLATE });
      // the last address of the flood must be in its list (the sentinel proves only that it was processed)
      const k = start + o.floodCount - 1;
      const last = `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
      const listed = (await b.net!.exec('grep', ['-q', `src=${last} `, b.net!.listPath('FLOOD')])).code === 0;
      // right away, while the flood's conntrack calls drain: ordinary lines
      const cpu0 = d.proc.cpuSeconds();
      const faults0 = d.proc.minorFaults();
      const after = await b.send(d.socket, { file: b.corpus.wire });
      const cpu1 = d.proc.cpuSeconds();
      const faults1 = d.proc.minorFaults();
      const children = d.proc.childCpuSeconds();
      await d.stop(); // conntrack calls still queued die with the daemon's process group
      const row: Row = {
        bansPerSecond: r0(o.floodCount / (flood.done_ns / 1e9)),
        linesPerSecondAfter: r0((after.sent + 1) / (after.done_ns / 1e9)),
        daemonCpuMicrosPerLineAfter: cpu0 !== undefined && cpu1 !== undefined ? r2(((cpu1 - cpu0) * 1e6) / (after.sent + 1)) : null,
        minorFaultsAfter: faults0 !== undefined && faults1 !== undefined ? faults1 - faults0 : null,
        childCpuSeconds: children ?? null,
        banned: d.logCount('blocked'),
        listed,
        leftovers: d.leftovers(),
      };
      rows[resetconns ? 'on' : 'off'].push(row);
      say(
        `bans resetconns=${resetconns} rep ${rep + 1}: ${fmtInt(row.bansPerSecond)} bans/s, then ${fmtInt(row.linesPerSecondAfter)} lines/s ` +
          `(daemon ${row.daemonCpuMicrosPerLineAfter} us CPU/line, ${row.minorFaultsAfter} page faults; conntrack children ${row.childCpuSeconds} CPU s; ${row.banned} "blocked" logged; ${row.leftovers} temp files left)`,
      );
    }
  }
  const sum = (rs: Row[]) => ({
    bansPerSecond: Math.max(...rs.map((r) => r.bansPerSecond)),
    runs: rs.map((r) => r.bansPerSecond),
    linesPerSecondAfter: Math.max(...rs.map((r) => r.linesPerSecondAfter)),
    linesRuns: rs.map((r) => r.linesPerSecondAfter),
    daemonCpuMicrosPerLineAfter: rs[0]!.daemonCpuMicrosPerLineAfter === null ? null : Math.min(...rs.map((r) => r.daemonCpuMicrosPerLineAfter!)),
    minorFaultsAfter: rs[0]!.minorFaultsAfter === null ? null : median(rs.map((r) => r.minorFaultsAfter!)),
    conntrackCpuSeconds: rs[0]!.childCpuSeconds === null ? null : median(rs.map((r) => r.childCpuSeconds!)),
    lastAddressListed: rs.every((r) => r.listed),
    blockedLogged: rs.map((r) => r.banned),
    /** files and folders the stopped daemon left in its TMPDIR (conntrack batches), per run */
    tempLeftovers: rs.map((r) => r.leftovers),
  });
  const on = sum(rows.on);
  const off = sum(rows.off);
  return {
    floodAddresses: o.floodCount,
    resetconnsOn: on,
    resetconnsOff: off,
    bansRatioOnOff: r3(on.bansPerSecond / off.bansPerSecond),
    linesRatioOnOff: r3(on.linesPerSecondAfter / off.linesPerSecondAfter),
  };
}

interface LatencyStats {
  probes: number;
  missed: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** the five slowest, slowest first */
  worstMs: number[];
  /** where those came in the run, as the probe's index (a probe every --probe-gap ms plus its latency): stalls at a steady spacing point at a timer */
  worstAt: number[];
  /**
   * The receiver's main thread while the probes ran, ms per second: on a
   * core, and runnable but waiting for one (NetProcess.mainThreadSched).
   * A tail that comes with a long wait is the machine's; with a long run
   * time, the receiver's own work.
   */
  mainThread?: { runMsPerSecond: number; waitMsPerSecond: number };
}

function latencyStats(ns: number[]): LatencyStats {
  // each probe with its index, fastest first; a missed probe (-1) is counted, not ranked
  const ranked = ns
    .map((x, i) => [x, i] as const)
    .filter(([x]) => x >= 0)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const ok = ranked.map(([x]) => x);
  const worst = ranked.slice(-5).reverse();
  // milliseconds, to the microsecond
  const ms = (x: number) => Math.round(x / 1000) / 1000;
  return {
    probes: ns.length,
    missed: ns.length - ok.length,
    p50Ms: ms(pct(ok, 0.5)),
    p90Ms: ms(pct(ok, 0.9)),
    p99Ms: ms(pct(ok, 0.99)),
    maxMs: ms(ok[ok.length - 1]!),
    worstMs: worst.map(([x]) => ms(x)),
    worstAt: worst.map(([, i]) => i),
  };
}

async function latency(b: Bench): Promise<Record<string, unknown>> {
  const o = b.o;
  const conf = b.config('ten', { latency: probeBlocktype('LATENCY', 'banban-bench', 'probe') });
  const d = await b.startDaemon('latency', conf);
  await b.send(d.socket, { file: b.corpus.wire, count: o.warm });
  // The machine's floor: the same probes answered by the C receive loop, which writes the list for
  // every probe line and drops the rest. Run in turn with the daemon's phases, it tells a slow
  // stretch of the host (both tails long) from a stall of the daemon's own (only its tail long).
  const floorSocket = b.file('floor.sock');
  const floor = b.net!.start(b.sender, ['sink', '--socket', floorSocket, '--sentinel-len', '0', '--list', b.net!.listPath('LATENCY')], b.file('floor.log'));
  // it answers probes only (its list is LATENCY, not the sentinel's): ready once its socket is bound
  for (let waited = 0; !existsSync(floorSocket); waited += 20) {
    if (waited > 10_000) throw new Error(`the C receive loop did not bind ${floorSocket}: ${readFileSync(b.file('floor.log'), 'utf8')}`);
    await sleep(20);
  }
  const gapUs = o.probeGapMs * 1000;
  const probe = async (socket: string, start: number): Promise<number[]> => {
    const r = await b.net!.exec(
      b.sender,
      ['probe', '--socket', socket, '--list', b.net!.listPath('LATENCY'), '--count', String(o.probes), '--start', String(start), '--template', PROBE_TEMPLATE, '--gap-us', String(gapUs)],
      { timeoutMs: o.probes * 3000 + 60_000 },
    );
    if (r.code !== 0) throw new Error(`probe failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { lat_ns: number[] }).lat_ns;
  };
  // the probes' figures, with how the receiver's main thread spent the time they took
  const probed = async (receiver: NetProcess, socket: string, start: number): Promise<LatencyStats> => {
    const s0 = receiver.mainThreadSched();
    const t0 = performance.now();
    const lat = await probe(socket, start);
    const seconds = (performance.now() - t0) / 1000;
    const s1 = receiver.mainThreadSched();
    const stats = latencyStats(lat);
    if (s0 && s1) stats.mainThread = { runMsPerSecond: r2((s1.runMs - s0.runMs) / seconds), waitMsPerSecond: r2((s1.waitMs - s0.waitMs) / seconds) };
    return stats;
  };
  const idle = await probed(d.proc, d.socket, 13_000_000);
  say(`latency idle: ${JSON.stringify(idle)}`);
  const floorIdle = await probed(floor, floorSocket, 13_050_000);
  say(`latency idle, C floor: ${JSON.stringify(floorIdle)}`);
  // the background stream: the corpus over and over at bgRate, for the probes' duration and a margin;
  // twice, the better kept (the p99 of 300 probes is their 4th worst: one burst of other work on the machine moves it)
  const seconds = Math.ceil((o.probes * (gapUs + 1500)) / 1e6) + 3;
  const underStream = async (receiver: NetProcess, socket: string, start: number): Promise<{ stats: LatencyStats; backgroundLinesPerSecond: number }> => {
    const bgLog = b.file('bg.out');
    const bg = b.net!.start(b.sender, ['send', '--socket', socket, '--file', b.corpus.wire, '--rate', String(o.bgRate), '--loop', '--duration', String(seconds)], bgLog);
    await sleep(1000);
    const stats = await probed(receiver, socket, start);
    await bg.exited;
    const bgRes = JSON.parse(readFileSync(bgLog, 'utf8').trim().split('\n').pop()!) as SendResult;
    return { stats, backgroundLinesPerSecond: r0(bgRes.sent / (bgRes.send_ns / 1e9)) };
  };
  const phases: { stats: LatencyStats; backgroundLinesPerSecond: number; sentinelAfterStreamMs: number }[] = [];
  const floorPhases: LatencyStats[] = [];
  for (let phase = 0; phase < Math.min(2, o.reps); phase++) {
    const ran = await underStream(d.proc, d.socket, 13_500_000 + phase * 100_000);
    // did the daemon keep up with the stream? the time to answer a sentinel right after it
    const t0 = Date.now();
    await b.ready(d.socket);
    const p = { ...ran, sentinelAfterStreamMs: Date.now() - t0 };
    phases.push(p);
    say(`latency under ${fmtInt(p.backgroundLinesPerSecond)} lines/s (phase ${phase + 1}): ${JSON.stringify(p.stats)}`);
    const f = await underStream(floor, floorSocket, 13_750_000 + phase * 100_000);
    floorPhases.push(f.stats);
    say(`latency under ${fmtInt(f.backgroundLinesPerSecond)} lines/s, C floor (phase ${phase + 1}): ${JSON.stringify(f.stats)}`);
  }
  await floor.stop(1000);
  await d.stop();
  const best = phases.reduce((a, x) => (x.stats.p99Ms < a.stats.p99Ms ? x : a));
  return {
    idle,
    loaded: { ...best.stats, backgroundLinesPerSecond: best.backgroundLinesPerSecond, backgroundSeconds: seconds, sentinelAfterStreamMs: best.sentinelAfterStreamMs },
    loadedPhases: phases.map((p) => ({ ...p.stats, backgroundLinesPerSecond: p.backgroundLinesPerSecond })),
    floor: { idle: floorIdle, loadedPhases: floorPhases },
    stats: pickStats(d.stats()),
  };
}

async function memory(b: Bench): Promise<Record<string, unknown>> {
  const o = b.o;
  const conf = b.config('ten', {}, { maxTracked: 2 * o.memCount });
  // one offence per address, below minocc 3: every address stays tracked
  (conf.config.blocktypes.ssh as BlocktypeConfig).minocc = 3;
  (conf.config.blocktypes.ssh as BlocktypeConfig).interval = 3600;
  writeConfig(conf.file, conf.config);
  // saving 2 M windows takes a while: not during the measurement; the save at stop is measured below
  const d = await b.startDaemon('memory', conf, { saveEvery: 86_400 });
  await sleep(500);
  const rss0 = d.proc.statusKb('VmRSS')!;
  const v4 = await b.send(d.socket, { gen: 'v4', count: o.memCount, start: 0, template: MEMORY_TEMPLATE }, { timeoutS: 600 });
  await sleep(1000);
  const rss1 = d.proc.statusKb('VmRSS')!;
  const v6 = await b.send(d.socket, { gen: 'v6', count: o.memCount, start: 0, template: MEMORY_TEMPLATE }, { timeoutS: 600 });
  await sleep(1000);
  const rss2 = d.proc.statusKb('VmRSS')!;
  const hwmBeforeStop = d.proc.statusKb('VmHWM')!;
  // the state save at SIGTERM, with 2 M windows: how long, and the peak RSS it causes
  const t0 = Date.now();
  d.proc.kill('SIGTERM');
  let hwm = hwmBeforeStop;
  while (d.proc.running) {
    hwm = Math.max(hwm, d.proc.statusKb('VmHWM') ?? 0);
    await sleep(20);
  }
  const stopMs = Date.now() - t0;
  const stateFile = conf.config.state_file;
  let savedWindows: number | null = null;
  let stateBytes: number | null = null;
  if (existsSync(stateFile)) {
    stateBytes = statSync(stateFile).size;
    try {
      savedWindows = (JSON.parse(readFileSync(stateFile, 'utf8')) as { windows: unknown[] }).windows.length;
    } catch {
      savedWindows = null;
    }
  }
  const kb = (x: number) => Math.round((x / 1024) * 10) / 10;
  const perAddr = (a: number, z: number, n: number) => r2(((z - a) * 1024) / n);
  const out = {
    addressesPerFamily: o.memCount,
    maxTracked: 2 * o.memCount,
    rssStartMB: kb(rss0),
    rssAfterV4MB: kb(rss1),
    rssAfterV6MB: kb(rss2),
    bytesPerAddress: perAddr(rss0, rss2, 2 * o.memCount),
    bytesPerAddressV4: perAddr(rss0, rss1, o.memCount),
    bytesPerAddressV6: perAddr(rss1, rss2, o.memCount),
    peakRssBeforeStopMB: kb(hwmBeforeStop),
    stop: { ms: stopMs, peakRssMB: kb(hwm), stateFileMB: stateBytes === null ? null : Math.round(stateBytes / 2 ** 20), savedWindows },
    linesPerSecondV4: r0((v4.sent + 1) / (v4.done_ns / 1e9)),
    linesPerSecondV6: r0((v6.sent + 1) / (v6.done_ns / 1e9)),
  };
  say(`memory: ${JSON.stringify(out)}`);
  // the engine's windows alone, in a process of their own
  const r = await run(process.execPath, ['--expose-gc', WINDOWS_MEMORY, String(o.memCount), '3'], { timeoutMs: 300_000 });
  const inProcess = r.code === 0 ? (JSON.parse(r.stdout) as Record<string, number>) : { error: r.stderr.trim() };
  say(`windows alone: ${JSON.stringify(inProcess)}`);
  return { ...out, windowsInProcess: inProcess };
}

/** One more daemon run per config under --cpu-prof: where the time goes (not timed). */
async function profiles(b: Bench, kinds: ConfigKind[], dir: string): Promise<Record<string, ProfileSummary>> {
  const out: Record<string, ProfileSummary> = {};
  for (const kind of kinds) {
    const profDir = join(dir, `throughput-${kind}`);
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
    const d = await b.startDaemon(`prof-${kind}`, b.config(kind), { cpuProf: profDir });
    await b.send(d.socket, { file: b.corpus.wire, count: b.o.warm });
    await b.send(d.socket, { file: b.corpus.wire });
    await d.stop();
    // a fault under the profiler (a stalled thread, say) would make the profile lie: show it
    for (const line of d.proc.output().split('\n')) if (/"level":(?:[5-9]\d)/.test(line)) say(`prof-${kind}: ${line.slice(0, 400)}`);
    const f = readdirSync(profDir).find((n) => n.endsWith('.cpuprofile'));
    if (!f) continue;
    const s = summarise(join(profDir, f), 20, DAEMON_FUNCTIONS);
    s.file = join(profDir, f).replace(`${REPO}/`, '');
    out[`throughput-${kind}`] = s;
    process.stderr.write(formatSummary(s) + '\n');
  }
  return out;
}

/** Good, session and blocktype patterns of a config, includes resolved. */
function countPatterns(file: string): number {
  const { config } = loadConfig(file);
  const c = config as typeof config & { sessionpatterns?: readonly unknown[] };
  return config.goodpatterns.length + (c.sessionpatterns?.length ?? 0) + config.blocktypes.reduce((n, bt) => n + bt.patterns.length, 0);
}

// ---- goals and the table ---------------------------------------------------------

function get<T>(o: unknown, ...path: string[]): T | undefined {
  let v: unknown = o;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v as T | undefined;
}

function goals(f: Record<string, unknown>): Goal[] {
  const g: Goal[] = [];
  const add = (id: number, name: string, goal: string, value: number | null | undefined, unit: string, ok: (v: number) => boolean, rounds?: number | null) =>
    g.push({ id, name, goal, value: value ?? null, unit, met: value === null || value === undefined ? null : ok(value), ...(rounds !== undefined ? { roundsMedian: rounds } : {}) });
  const runs = (...path: string[]) => get<number[]>(f, ...path);
  const ten = get<number>(f, 'throughput', 'ten', 'linesPerSecond');
  const bare = get<number>(f, 'throughput', 'bare', 'linesPerSecond');
  add(1, 'daemon throughput / bare unix-dgram loop', '>= 0.85', ten && bare ? r3(ten / bare) : null, 'ratio', (v) => v >= 0.85, roundsMedian(runs('throughput', 'ten', 'runs'), runs('throughput', 'bare', 'runs')));
  const bb = get<number>(f, 'matching', 'banban', 'ten', 'linesPerSecond');
  const sg = get<number>(f, 'matching', 'sshguard', 'linesPerSecond');
  add(2, 'banban test / sshguard parser', '> 1 (past sshguard)', bb && sg ? r3(bb / sg) : null, 'ratio', (v) => v > 1, roundsMedian(runs('matching', 'sshguard', 'runsMs'), runs('matching', 'banban', 'ten', 'runsMs')));
  const bans = get<number>(f, 'bans', 'resetconnsOn', 'bansPerSecond');
  add(3, 'new bans/s with resetconns', '>= 5000', bans, 'bans/s', (v) => v >= 5000);
  add(3, 'lines/s while conntrack drains, resetconns on / off', '>= 0.9 (unaffected)', get<number>(f, 'bans', 'linesRatioOnOff'), 'ratio', (v) => v >= 0.9, roundsMedian(runs('bans', 'resetconnsOn', 'linesRuns'), runs('bans', 'resetconnsOff', 'linesRuns')));
  add(4, 'ban latency p99 under the background stream', '<= 2 ms', get<number>(f, 'latency', 'loaded', 'p99Ms'), 'ms', (v) => v <= 2);
  add(5, 'bytes per tracked address (RSS growth / addresses)', '<= 64', get<number>(f, 'memory', 'bytesPerAddress'), 'B', (v) => v <= 64);
  add(5, 'RSS after the IPv4 and IPv6 sources', '<= 160 MB', get<number>(f, 'memory', 'rssAfterV6MB'), 'MB', (v) => v <= 160);
  const pt = get<number>(f, 'scaling', 'throughputRatio');
  add(6, 'daemon throughput, all presets / 10 patterns', '>= 0.8', pt, 'ratio', (v) => v >= 0.8, roundsMedian(runs('throughput', 'presets', 'runs'), runs('throughput', 'ten', 'runs')));
  add(6, 'replay speed, all presets / 10 patterns', '>= 0.8', get<number>(f, 'scaling', 'replayRatio'), 'ratio', (v) => v >= 0.8, roundsMedian(runs('scaling', 'replay', 'ten', 'runsMs'), runs('scaling', 'replay', 'presets', 'runsMs')));
  return g;
}

/** `; 19,332 bans on the way (12,001 list writes)`: decisions, and the kernel writes they took (enforcer.ts, REWRITE_MS) */
function banWork(st: Record<string, number> | undefined): string {
  if (!st) return '';
  return `; ${fmtInt(st.blocks)} bans on the way${st.listWrites !== undefined ? ` (${fmtInt(st.listWrites)} list writes)` : ''}`;
}

function table(res: Results): string {
  const f = res.figures;
  const m = res.machine;
  const rows: string[][] = [];
  const mark = (met: boolean | null | undefined) => (met === true ? 'met' : met === false ? '**missed**' : 'n/a');
  const goalOf = (id: number, name: string) => res.goals.find((x) => x.id === id && x.name === name);
  const row = (n: string, what: string, result: string, goal = '', met: boolean | null | undefined = undefined) =>
    rows.push([n, what, result, goal, goal ? mark(met) : '']);
  /** a goal's ratio, and the median of its rounds' own ratios */
  const ratio = (g: Goal | undefined, shown?: string) =>
    g?.value === null || !g ? 'n/a' : `${shown ?? String(g.value)}${typeof g.roundsMedian === 'number' ? ` (median of the rounds' ratios: ${g.roundsMedian})` : ''}`;
  const lps = (v: number | undefined) => (v === undefined ? 'n/a' : `${fmtInt(v)} lines/s`);

  const tp = f.throughput as Record<string, { linesPerSecond: number; cpuMicrosPerLine: number | null; daemonStats?: Record<string, number> }> | undefined;
  const cpu = (k: string) => (tp?.[k]?.cpuMicrosPerLine ? `, ${tp[k].cpuMicrosPerLine} µs CPU/line` : '');
  /** the daemon's CPU per line by thread, medians of the runs (socketThroughput) */
  const threads = (k: string) => {
    const t = (tp?.[k] as { threadMicrosPerLine?: Record<string, number> } | undefined)?.threadMicrosPerLine;
    const st = tp?.[k]?.daemonStats;
    const handed = st?.handedOver !== undefined && st.datagrams ? `; ${Math.round((100 * st.handedOver) / st.datagrams)}% of the datagrams matched on the matching thread (first run)` : '';
    return t ? `${r2(t.main)} / ${r2(t.busiestOther)} / ${r2(t.rest)} µs${handed}` : undefined;
  };
  const threadRow = (n: string, k: string, what: string) => {
    const t = threads(k);
    if (t) row(n, `${what}: CPU per line of the main thread / the matching thread / the rest (medians of the runs)`, t);
  };
  if (tp?.ten) {
    const g = goalOf(1, 'daemon throughput / bare unix-dgram loop');
    const st = tp.ten.daemonStats;
    row('1', 'daemon, 10-pattern config', `${lps(tp.ten.linesPerSecond)}${cpu('ten')}${banWork(st)}`);
    if (tp['ten-nobans']) {
      const st2 = tp['ten-nobans'].daemonStats;
      row(
        '1',
        'daemon, same config with minocc 1000 (line work only)',
        `${lps(tp['ten-nobans'].linesPerSecond)}${cpu('ten-nobans')}; ${fmtInt(st2?.blocks)} bans${tp.bare ? `; ${r3(tp['ten-nobans'].linesPerSecond / tp.bare.linesPerSecond)} of the bare loop` : ''}`,
      );
    }
    threadRow('1', 'ten', 'daemon, 10-pattern config');
    if (tp.bare) row('1', 'bare unix-dgram receive loop (ceiling)', `${lps(tp.bare.linesPerSecond)}${cpu('bare')}`);
    if (tp['bare-batched']) {
      const bb = tp['bare-batched'];
      row('1', "bare loop on the daemon's own socket edge (recvmmsg, 64 a call): daemon / it", `${lps(bb.linesPerSecond)}${cpu('bare-batched')}; ${r3(tp.ten.linesPerSecond / bb.linesPerSecond)}`);
    }
    if (tp.csink) row('1', 'C receive loop (machine and sender)', `${lps(tp.csink.linesPerSecond)}${cpu('csink')}`);
    if (tp.bare) row('1', '**daemon / bare loop**', ratio(g), '>= 0.85', g?.met);
    const k = f.throughputKernelQlen as { qlen: number; ratio: number | null; bare?: { linesPerSecond: number }; ten?: { linesPerSecond: number } } | undefined;
    if (k?.bare && k.ten) {
      row('1', `the same at the kernel's default queue of ${k.qlen} datagrams (no systemd): daemon / bare loop`, `${lps(k.ten.linesPerSecond)} / ${lps(k.bare.linesPerSecond)} = ${String(k.ratio)}`);
    }
  }
  const mt = f.matching as Record<string, Record<string, unknown>> | undefined;
  if (mt) {
    const g = goalOf(2, 'banban test / sshguard parser');
    row('2', '`banban test`, 10-pattern config', lps(get<number>(mt, 'banban', 'ten', 'linesPerSecond')));
    row('2', "fail2ban-regex, Debian's sshd filter", mt.fail2ban ? lps(get<number>(mt, 'fail2ban', 'linesPerSecond')) : `skipped: ${res.skipped['fail2ban-regex'] ?? ''}`);
    row('2', 'sshguard `sshg-parser`', mt.sshguard ? lps(get<number>(mt, 'sshguard', 'linesPerSecond')) : `skipped: ${res.skipped.sshguard ?? ''}`);
    row('2', '**banban test / sshguard**', ratio(g), '> 1', g?.met);
  }
  const bn = f.bans as Record<string, unknown> | undefined;
  if (bn) {
    const g = goalOf(3, 'new bans/s with resetconns');
    const gl = goalOf(3, 'lines/s while conntrack drains, resetconns on / off');
    row('3', '**new bans/s, resetconns on**', `${fmtInt(get<number>(bn, 'resetconnsOn', 'bansPerSecond'))} bans/s`, '>= 5 000', g?.met);
    row('3', 'new bans/s, resetconns off', `${fmtInt(get<number>(bn, 'resetconnsOff', 'bansPerSecond'))} bans/s`);
    row(
      '3',
      '**lines/s right after the flood, on / off**',
      `${fmtInt(get<number>(bn, 'resetconnsOn', 'linesPerSecondAfter'))} / ${fmtInt(get<number>(bn, 'resetconnsOff', 'linesPerSecondAfter'))} = ${ratio(gl)}`,
      '>= 0.9',
      gl?.met,
    );
    row(
      '3',
      'daemon CPU per line right after the flood, on / off',
      `${get<number>(bn, 'resetconnsOn', 'daemonCpuMicrosPerLineAfter') ?? 'n/a'} / ${get<number>(bn, 'resetconnsOff', 'daemonCpuMicrosPerLineAfter') ?? 'n/a'} µs`,
    );
    row(
      '3',
      "daemon's page faults while those lines went through, on / off (median)",
      `${fmtInt(get<number>(bn, 'resetconnsOn', 'minorFaultsAfter'))} / ${fmtInt(get<number>(bn, 'resetconnsOff', 'minorFaultsAfter'))}`,
    );
  }
  const lt = f.latency as
    | { idle?: LatencyStats; loaded?: LatencyStats & { backgroundLinesPerSecond: number }; loadedPhases?: LatencyStats[]; floor?: { idle: LatencyStats; loadedPhases: LatencyStats[] } }
    | undefined;
  if (lt) {
    const g = goalOf(4, 'ban latency p99 under the background stream');
    row('4', `ban latency idle, p50 / p99 (${lt.idle?.probes} bans)`, `${lt.idle?.p50Ms} / ${lt.idle?.p99Ms} ms (max ${lt.idle?.maxMs})`);
    row(
      '4',
      `**ban latency under ${fmtInt(lt.loaded?.backgroundLinesPerSecond)} lines/s, p50 / p99**`,
      // the better of the two phases decides; the other is shown beside it
      `${lt.loaded?.p50Ms} / ${lt.loaded?.p99Ms} ms (max ${lt.loaded?.maxMs})${(lt.loadedPhases ?? []).length > 1 ? `; phases' p99: ${lt.loadedPhases!.map((p) => p.p99Ms).join(' and ')} ms` : ''}`,
      'p99 <= 2 ms',
      g?.met,
    );
    if (lt.floor) {
      row(
        '4',
        'the same probes answered by the C receive loop (the machine\'s floor), p99 idle / under the stream, each phase run right after the daemon\'s',
        `${lt.floor.idle.p99Ms} / ${lt.floor.loadedPhases.map((p) => p.p99Ms).join(' and ')} ms (p50 ${lt.floor.idle.p50Ms} / ${lt.floor.loadedPhases.map((p) => p.p50Ms).join(' and ')})`,
      );
    }
    // how the main thread spent the probes' time: waiting for a core says the tail is the machine's (older results have none)
    const sched = (l: LatencyStats | undefined) => (l?.mainThread ? `${l.mainThread.runMsPerSecond} / ${l.mainThread.waitMsPerSecond}` : undefined);
    const daemonSched = [lt.idle, ...(lt.loadedPhases ?? [])].map(sched);
    if (daemonSched.every((x) => x !== undefined)) {
      const floorSched = lt.floor ? [lt.floor.idle, ...lt.floor.loadedPhases].map(sched) : [];
      row(
        '4',
        'main thread while the probes ran, ms a second on a core / waiting for one: idle, then each phase under the stream',
        `daemon ${daemonSched.join(', ')}${floorSched.every((x) => x !== undefined) && floorSched.length > 0 ? `; C floor ${floorSched.join(', ')}` : ''}`,
      );
    }
  }
  const mem = f.memory as Record<string, unknown> | undefined;
  if (mem) {
    const g1 = goalOf(5, 'bytes per tracked address (RSS growth / addresses)');
    const g2 = goalOf(5, 'RSS after the IPv4 and IPv6 sources');
    const n = Number(mem.addressesPerFamily);
    const c = n % 1_000_000 === 0 ? `${n / 1_000_000} M` : fmtInt(n);
    const c2 = (2 * n) % 1_000_000 === 0 ? `${(2 * n) / 1_000_000} M` : fmtInt(2 * n);
    row('5', `RSS at start / after ${c} IPv4 / after ${c} IPv6 more`, `${mem.rssStartMB} / ${mem.rssAfterV4MB} / ${mem.rssAfterV6MB} MB`);
    row('5', '**RSS in all**', `${mem.rssAfterV6MB} MB`, '<= 160 MB', g2?.met);
    row('5', `**bytes per tracked address** (RSS growth / ${c2})`, `${mem.bytesPerAddress} B`, '<= 64 B', g1?.met);
    row('5', 'bytes per window, engine alone (heap + typed arrays in use), IPv4 / IPv6', `${get<number>(mem, 'windowsInProcess', 'bytesPerWindow') ?? 'n/a'} B (${get<number>(mem, 'windowsInProcess', 'bytesPerWindowV4') ?? 'n/a'} / ${get<number>(mem, 'windowsInProcess', 'bytesPerWindowV6') ?? 'n/a'})`);
    row('5', `saving the state of ${c2} windows at stop (SIGTERM)`, `${get<number>(mem, 'stop', 'ms')} ms, peak RSS ${get<number>(mem, 'stop', 'peakRssMB')} MB`);
  }
  const sc = f.scaling as Record<string, unknown> | undefined;
  if (sc) {
    const g1 = goalOf(6, 'daemon throughput, all presets / 10 patterns');
    const g2 = goalOf(6, 'replay speed, all presets / 10 patterns');
    if (sc.throughputRatio !== undefined) {
      row('6', `**daemon, every preset (${sc.presetPatterns} patterns) / 10 patterns**`, `${lps(get<number>(sc, 'throughputPresets'))}${cpu('presets')}${banWork(tp?.presets?.daemonStats)} = ${ratio(g1, String(sc.throughputRatio))}`, '>= 0.8', g1?.met);
      threadRow('6', 'presets', 'daemon, every preset');
    }
    if (sc.throughputUnusedRatio !== undefined) {
      row('6', `daemon, 10 patterns + presets of services not in the corpus (${sc.unusedPatterns} patterns in all) / 10 patterns`, `${lps(get<number>(sc, 'throughputUnused'))} = ${sc.throughputUnusedRatio}`);
    }
    row('6', '`banban test`, every preset', `${lps(get<number>(sc, 'replayPresets'))} (10 patterns: ${lps(get<number>(sc, 'replayTen'))})`);
    row('6', '**replay, every preset / 10 patterns**', ratio(g2, String(sc.replayRatio ?? 'n/a')), '>= 0.8', g2?.met);
    if (sc.replayUnusedRatio !== undefined) row('6', 'replay, 10 patterns + presets of services not in the corpus / 10 patterns', String(sc.replayUnusedRatio));
    if (sc.replayUsedRatio !== undefined) {
      row('6', `replay, every preset / the presets of the corpus's services (${(sc.usedPresets as string[]).join(', ')})`, String(sc.replayUsedRatio));
    }
    const found = (k: string) => get<number>(sc, 'replay', k, 'matches');
    if (found('ten') !== undefined && found('presets') !== undefined) {
      row('6', 'matches the replay counts, 10 patterns / every preset', `${fmtInt(found('ten')!)} / ${fmtInt(found('presets')!)}`);
    }
  }
  const head = `Measured ${res.date.slice(0, 10)} on ${m.nproc} × ${m.cpu}, Linux ${m.kernel}, Node ${m.node}${res.git ? `, banban ${res.git.commit}${res.git.srcDirty ? '+' : ''}` : ''}; corpus ${fmtInt(Number(res.corpus?.lines))} lines${res.params.maxDgramQlen !== undefined ? `; socket queue (net.unix.max_dgram_qlen) ${String(res.params.maxDgramQlen)}, as systemd sets it` : ''}.`;
  const lines = ['| # | figure | result | goal | |', '|---|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)];
  return `${head}\n\n${lines.join('\n')}\n`;
}

// ---- main ----------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.retable !== undefined) {
    const results = JSON.parse(readFileSync(o.retable, 'utf8')) as Results;
    results.goals = goals(results.figures);
    results.table = table(results);
    writeFileSync(o.retable, JSON.stringify(results, null, 2) + '\n');
    process.stdout.write(`${results.table}\n`);
    return;
  }
  const t0 = Date.now();
  const results: Results = {
    date: new Date().toISOString(),
    machine: machine(),
    git: await gitInfo(),
    params: {
      sections: [...o.only],
      lines: o.lines,
      reps: o.reps,
      seed: o.seed,
      warmupLines: o.warm,
      floodAddresses: o.floodCount,
      probes: o.probes,
      probeGapMs: o.probeGapMs,
      backgroundRate: o.bgRate,
      memoryAddressesPerFamily: o.memCount,
      daemonLogLevel: o.logLevel,
    },
    sections: {},
    skipped: {},
    figures: {},
    goals: [],
  };
  const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  /** the machine's CPU jiffies: all, and busy (not idle, not iowait) */
  const cpuStat = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const all = f.slice(0, 8).reduce((a, x) => a + x, 0);
    return { all, busy: all - f[3]! - f[4]!, steal: f[7] ?? 0 };
  };
  const timedSection = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    const loadBefore = load1();
    const c0 = cpuStat();
    const r = await fn();
    const c1 = cpuStat();
    const span = Math.max(1, c1.all - c0.all);
    results.sections[name] = {
      seconds: Math.round((Date.now() - t) / 1000),
      loadBefore,
      loadAfter: load1(),
      machineBusyPercent: Math.round(((c1.busy - c0.busy) / span) * 100),
      stealPercent: Math.round(((c1.steal - c0.steal) / span) * 1000) / 10,
    };
    return r;
  };
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build)`);
  const b = new Bench(o);
  try {
    snapshotDist(b.tmp);
    say(`corpus: ${o.lines} lines, seed ${o.seed}, in ${o.cache}`);
    b.corpus = ensureCorpus(o.cache, o.lines, o.seed);
    results.corpus = { ...b.corpus, file: undefined, wire: undefined };

    const needsKernel = ['throughput', 'bans', 'latency', 'memory', 'scaling'].some((s) => o.only.has(s as Section));
    let kernelWhy: string | undefined = needsKernel ? await kernelSkipReason() : 'not asked for';
    if (needsKernel && kernelWhy === undefined) kernelWhy = await b.compileSender();
    if (needsKernel && kernelWhy === undefined) {
      try {
        b.net = await BenchNet.create();
        await b.net.setQlen(o.qlen);
        results.params.maxDgramQlen = await b.net.qlen();
        say(`namespace ${b.net.name} ready (net.unix.max_dgram_qlen ${String(results.params.maxDgramQlen)})`);
      } catch (e) {
        kernelWhy = (e as Error).message;
      }
    }
    if (needsKernel && kernelWhy !== undefined) {
      say(`kernel-list figures SKIPPED: ${kernelWhy}`);
      for (const s of ['throughput', 'bans', 'latency', 'memory', 'scaling'] as const) {
        if (o.only.has(s)) results.skipped[s === 'scaling' ? 'scaling (daemon)' : s] = kernelWhy;
      }
    }
    const kernel = b.net !== undefined;

    if (o.only.has('matching')) await timedSection('matching', () => matching(b, results));

    if (kernel && (o.only.has('throughput') || o.only.has('scaling'))) {
      const kinds: Kind[] = o.only.has('throughput') ? ['csink', 'bare', 'bare-batched', 'ten', 'ten-nobans'] : ['ten'];
      if (o.only.has('scaling')) kinds.push('presets', 'unused');
      results.figures.throughput = await timedSection('throughput', () => socketThroughput(b, kinds));
      if (o.only.has('throughput') && o.qlen !== KERNEL_QLEN) {
        // The same two receivers at the kernel's own default, as on a host without systemd.
        await b.net!.setQlen(KERNEL_QLEN);
        try {
          const at10 = await timedSection(`throughput qlen ${KERNEL_QLEN}`, () => socketThroughput(b, ['bare', 'ten']));
          const lps = (k: string) => get<number>(at10, k, 'linesPerSecond');
          results.figures.throughputKernelQlen = { qlen: KERNEL_QLEN, ...at10, ratio: lps('ten') && lps('bare') ? r3(lps('ten')! / lps('bare')!) : null };
        } finally {
          await b.net!.setQlen(o.qlen);
        }
      }
    }
    if (o.only.has('scaling')) {
      // The 10-pattern config again, in turns with the others: its figure in the matching section is from minutes before.
      const replay = await timedSection('scaling replay', () => replaySpeed(b, ['ten', 'presets', 'unused', 'used']));
      const replayTen = get<number>(replay, 'ten', 'linesPerSecond')!;
      const replayPresets = get<number>(replay, 'presets', 'linesPerSecond')!;
      const presetsConfig = b.config('presets');
      const presetPatterns = countPatterns(presetsConfig.file) - 1; // minus the sentinel
      const sc: Record<string, unknown> = {
        presets: presetsConfig.config.include,
        presetPatterns,
        replayTen,
        replayPresets,
        replayRatio: r3(replayPresets / replayTen),
        replay,
      };
      const replayUnused = get<number>(replay, 'unused', 'linesPerSecond');
      if (replayUnused) {
        sc.replayUnused = replayUnused;
        sc.replayUnusedRatio = r3(replayUnused / replayTen);
      }
      const replayUsed = get<number>(replay, 'used', 'linesPerSecond');
      if (replayUsed) {
        sc.replayUsed = replayUsed;
        sc.replayUsedRatio = r3(replayPresets / replayUsed);
        sc.usedPresets = b.config('used').config.include;
      }
      const tp = results.figures.throughput as Record<string, { linesPerSecond: number }> | undefined;
      if (tp?.presets && tp.ten) {
        sc.throughputTen = tp.ten.linesPerSecond;
        sc.throughputPresets = tp.presets.linesPerSecond;
        sc.throughputRatio = r3(tp.presets.linesPerSecond / tp.ten.linesPerSecond);
      }
      if (tp?.unused && tp.ten) {
        sc.throughputUnused = tp.unused.linesPerSecond;
        sc.throughputUnusedRatio = r3(tp.unused.linesPerSecond / tp.ten.linesPerSecond);
      }
      sc.unusedPresets = b.config('unused').config.include;
      sc.unusedPatterns = countPatterns(b.config('unused').file) - 1;
      results.figures.scaling = sc;
    }
    if (kernel && o.only.has('bans')) results.figures.bans = await timedSection('bans', () => bans(b));
    if (kernel && o.only.has('latency')) results.figures.latency = await timedSection('latency', () => latency(b));
    const profDir = join(RESULTS_DIR, 'profiles');
    if (kernel && o.only.has('memory')) results.figures.memory = await timedSection('memory', () => memory(b));
    if (kernel && o.profile) {
      mkdirSync(profDir, { recursive: true });
      const kinds: ConfigKind[] = o.only.has('scaling') ? ['ten', 'presets'] : ['ten'];
      results.profiles = await timedSection('profiles', () => profiles(b, kinds, profDir));
    }
  } finally {
    if (b.net) await b.net.destroy();
    b.cleanup();
  }
  results.goals = goals(results.figures);
  results.durationSeconds = Math.round((Date.now() - t0) / 1000);
  results.table = table(results);
  mkdirSync(dirname(o.out!), { recursive: true });
  writeFileSync(o.out!, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(`\n${results.table}\n`);
  for (const [what, why] of Object.entries(results.skipped)) process.stdout.write(`skipped ${what}: ${why}\n`);
  process.stdout.write(`\nresults: ${o.out} (${results.durationSeconds} s)\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
