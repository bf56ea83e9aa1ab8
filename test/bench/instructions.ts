/**
 * Instructions, not time: `banban test --json` on the bench corpus under
 * valgrind's callgrind, each config (or each of two builds) once, and the
 * count split by JavaScript function and by expression.
 *
 * Why: on this shared machine a 2-5% change cannot be told from the spread
 * by timing. One thread (`--single-threaded`, so V8's compiling is counted
 * with the rest), fixed seeds and no code cache make a run count the same
 * to within 0.03% whatever else the machine does. `--perf-basic-prof`
 * makes node write where it put each compiled function
 * (`/tmp/perf-PID.map`); callgrind names such code only by address, and
 * the map gives it back its name (with what V8 inlined into it). A guide,
 * not the figure: memory stalls are not counted, and with one thread V8
 * compiles in the way of the code it compiles, so a loop may run longer in
 * baseline code than in a timed run (the report's JSON writer does).
 *
 * Usage: node dist/test/bench/instructions.js [--kinds ten,presets]
 *          [--against REPO] [--top N] [--lines N] [--seed N]
 *   without --against: each config kind on this build, and the second
 *     kind's functions against the first's (what every preset costs more);
 *   with --against REPO (another checkout, built): each kind on both
 *     builds, this one's functions against the other's.
 * Needs valgrind (apt-get install valgrind); two runs at a time, about a
 * minute each.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeConfig, writeConfig, type ConfigKind } from './configs.js';
import { ensureCorpus } from './corpus.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..', '..');

interface Run {
  label: string;
  total: number;
  /** instructions by function: a native symbol, or a compiled JavaScript function or expression as node's map names it */
  byFunction: Map<string, number>;
}

function usage(msg: string): never {
  process.stderr.write(`instructions: ${msg}\nusage: node dist/test/bench/instructions.js [--kinds ten,presets] [--against REPO] [--top N] [--lines N] [--seed N]\n`);
  process.exit(64);
}

function options(argv: string[]) {
  let v: ReturnType<typeof parse>['values'];
  try {
    v = parse(argv).values;
  } catch (err) {
    usage((err as Error).message);
  }
  const whole = (name: string, value: string | undefined, dflt: number): number => {
    if (value === undefined) return dflt;
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) usage(`--${name} takes a whole number above 0, not '${value}'`);
    return n;
  };
  const all: ConfigKind[] = ['ten', 'ten-nobans', 'presets', 'unused', 'used'];
  const kinds = (v.kinds ?? 'ten,presets').split(',') as ConfigKind[];
  for (const k of kinds) if (!all.includes(k)) usage(`unknown config kind '${k}' (kinds: ${all.join(', ')})`);
  const against = v.against === undefined ? undefined : resolve(v.against);
  if (against === undefined && kinds.length !== 2) usage('without --against, give two kinds to compare');
  if (against !== undefined && !existsSync(join(against, 'dist', 'bin', 'main.js'))) usage(`${against} has no build (dist/bin/main.js): run npm ci (or npm run build) there first`);
  return { kinds, against, top: whole('top', v.top, 30), lines: whole('lines', v.lines, 300_000), seed: whole('seed', v.seed, 1) };
}

function parse(args: string[]) {
  const text = { type: 'string' } as const;
  return parseArgs({ args, options: { kinds: text, against: text, top: text, lines: text, seed: text }, strict: true, allowPositionals: false });
}

/** A copy of `repo`'s build in `dir`, without a code cache (its content depends on the run that wrote it). */
function copyBuild(repo: string, dir: string): string {
  cpSync(join(repo, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(repo, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  symlinkSync(join(repo, 'presets'), join(dir, 'presets'));
  rmSync(join(dir, 'dist', 'bin', 'banban.cjs.cache'), { force: true });
  return join(dir, 'dist', 'bin', 'main.js');
}

/** Runs `cmd` to its end; its output is kept unless `cwd` is given (a counted run: banban's report is not wanted). */
function exec(cmd: string, args: string[], cwd?: string): Promise<{ pid: number; code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', cwd === undefined ? 'pipe' : 'ignore', 'pipe'], cwd });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) => fail(err.code === 'ENOENT' ? new Error(`${cmd} is not installed (apt-get install valgrind)`) : err));
    child.on('close', (code) => done({ pid: child.pid!, code, stdout, stderr }));
  });
}

/** One counted replay of `log` with `config` by the build at `repo`. */
async function count(label: string, repo: string, config: string, log: string, work: string): Promise<Run> {
  const dir = mkdtempSync(join(work, 'run-'));
  const main = copyBuild(repo, dir);
  const out = join(dir, 'callgrind.out');
  const node = ['--single-threaded', '--random-seed=1', '--hash-seed=1', '--perf-basic-prof', main, 'test', '--json', '-c', config, log];
  // run in the copy's folder, where V8's logger also leaves its isolate-*.log, removed with it
  const r = await exec('valgrind', ['--tool=callgrind', '--smc-check=all-non-file', '--dump-instr=no', `--callgrind-out-file=${out}`, process.execPath, ...node], dir);
  const map = `/tmp/perf-${r.pid}.map`;
  try {
    if (r.code !== 0) throw new Error(`${label}: valgrind exited with ${r.code}: ${r.stderr.split('\n').slice(-5).join('\n')}`);
    const annotated = await exec('callgrind_annotate', ['--threshold=100', out]);
    if (annotated.code !== 0) throw new Error(`${label}: callgrind_annotate failed: ${annotated.stderr}`);
    return { label, ...byFunction(annotated.stdout, readFileSync(map, 'utf8')) };
  } finally {
    rmSync(map, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

/** callgrind_annotate's lines (`N (P%)  file:function`) summed by function, compiled code named by node's perf map. */
function byFunction(annotated: string, perfMap: string): { total: number; byFunction: Map<string, number> } {
  const code = perfMap
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [start, size] = l.split(' ', 2);
      return { start: parseInt(start!, 16), end: parseInt(start!, 16) + parseInt(size!, 16), name: codeName(l.slice(start!.length + size!.length + 2)) };
    })
    .sort((a, b) => a.start - b.start);
  const nameAt = (addr: number): string => {
    // the code whose start is the nearest below the address and that reaches it (V8 may place new
    // code where freed code was: the map then holds both, and the count goes to one of them)
    let lo = 0;
    let hi = code.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (code[mid]!.start <= addr) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0 && i >= lo - 64; i--) if (code[i]!.start <= addr && addr < code[i]!.end) return code[i]!.name;
    return '(compiled code not in the map)';
  };
  const fns = new Map<string, number>();
  let total = 0;
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+) \([^)]*\)\s+(?:\S*?):(\S+)/.exec(line);
    if (m === null) continue;
    const n = Number(m[1]!.replace(/,/g, ''));
    const fn = m[2]!.startsWith('0x') ? nameAt(parseInt(m[2]!.split("'")[0]!, 16)) : m[2]!;
    fns.set(fn, (fns.get(fn) ?? 0) + n);
    total += n;
  }
  return { total, byFunction: fns };
}

/**
 * A compiled function's name as node's map gives it (`JS:*find /path/banban.cjs:14128:11`), made
 * the same for every tier (`~` interpreted, `^` baseline, `*` optimized), build folder and line:
 * `find banban.cjs`; a function without a name keeps its line. Expressions keep their source.
 */
function codeName(raw: string): string {
  const js = /^(?:JS|LazyCompile|Function):\s*[~^*+-]?(\S*) (?:.*\/)?([^/\s]+?)(:\d+):\d+$/.exec(raw);
  if (js === null) return raw;
  return js[1] ? `${js[1]} ${js[2]}` : `(anonymous) ${js[2]}${js[3]}`;
}

function diff(a: Run, b: Run, top: number): string {
  const names = new Set([...a.byFunction.keys(), ...b.byFunction.keys()]);
  const rows = [...names].map((n) => ({ n, a: a.byFunction.get(n) ?? 0, b: b.byFunction.get(n) ?? 0 })).sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a));
  const m = (x: number) => (x / 1e6).toFixed(1).padStart(9);
  const d = (x: number) => `${x >= 0 ? '+' : ''}${(x / 1e6).toFixed(1)}`.padStart(9);
  const head = `millions of instructions: ${a.label}, ${b.label}, the difference; the function (or expression)`;
  return [head, ...rows.slice(0, top).map((r) => `${m(r.a)} ${m(r.b)} ${d(r.b - r.a)}  ${r.n.slice(0, 140)}`)].join('\n');
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'banban-instructions-'));
  try {
    const corpus = ensureCorpus(process.env.BANBAN_BENCH_CACHE ?? join(tmpdir(), 'banban-bench-cache'), o.lines, o.seed);
    const config = (k: ConfigKind) => writeConfig(join(work, `${k}.json`), makeConfig(k, { socket: join(work, `${k}.sock`), stateFile: join(work, `${k}-state.json`) }, REPO));
    const jobs = o.kinds.flatMap((k) => [{ label: `${k}`, repo: REPO, k }, ...(o.against ? [{ label: `${k} (against)`, repo: o.against, k }] : [])]);
    const runs: Run[] = [];
    for (let i = 0; i < jobs.length; i += 2) {
      runs.push(...(await Promise.all(jobs.slice(i, i + 2).map((j) => count(j.label, j.repo, config(j.k), corpus.file, work)))));
    }
    for (const r of runs) process.stdout.write(`${r.label}: ${(r.total / 1e6).toFixed(1)} million instructions\n`);
    const find = (label: string) => runs.find((r) => r.label === label)!;
    if (o.against) {
      for (const k of o.kinds) process.stdout.write(`\n${k}: this build against ${o.against}\n${diff(find(`${k} (against)`), find(k), o.top)}\n`);
    } else {
      const [a, b] = o.kinds as [ConfigKind, ConfigKind];
      process.stdout.write(`\n${a} / ${b}: ${(find(a).total / find(b).total).toFixed(3)}\n${diff(find(a), find(b), o.top)}\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`instructions: ${err.message}\n`);
  process.exit(1);
});
