/**
 * The bench's own network namespace and the processes it runs there.
 *
 * Every kernel-list figure is taken inside one namespace, `bbbench-<pid>`,
 * with its own /proc/net/xt_recent: iptables rules there
 * (`-m recent --name L --rcheck -j DROP`, never reached by any packet: the
 * namespace has only a loopback) create the lists the daemon writes to, and
 * the daemon, the receivers and the sender all run under `ip netns exec`.
 * Nothing touches the host's firewall or lists; no packet leaves loopback.
 *
 * Processes started here run in their own process group with their output
 * going to a file (a pipe would wake the bench for every log line on a
 * 2-core machine); they are killed, by pid, when the bench ends or is
 * interrupted, and the namespace is deleted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { onEmergency, pidAlive, run, runOk } from '../e2e/lib/proc.js';
import { killNamespaceProcesses } from '../e2e/lib/netns.js';

const PREFIX = 'bbbench-';

export const LISTS = ['BLOCKER', 'SENTINEL', 'LATENCY', 'FLOOD'] as const;

/** Why kernel-list figures cannot be taken here, or undefined when they can. */
export async function kernelSkipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (the kernel-list figures need root and a network namespace of their own)';
  for (const tool of ['ip', 'iptables']) {
    const r = await run('sh', ['-c', `command -v ${tool}`]).catch(() => undefined);
    if (!r || r.code !== 0) return `${tool} is not installed`;
  }
  return undefined;
}

export class BenchNet {
  readonly name = `${PREFIX}${process.pid}`;
  readonly #procs = new Set<NetProcess>();
  #forget: () => void = () => {};

  static async create(): Promise<BenchNet> {
    await sweepStale();
    const net = new BenchNet();
    net.#forget = onEmergency(() => net.#emergency());
    await runOk('ip', ['netns', 'add', net.name]);
    await runOk('ip', ['-n', net.name, 'link', 'set', 'lo', 'up']);
    let ok = false;
    const errors: string[] = [];
    for (const ipt of ['iptables', 'iptables-legacy']) {
      const rules = LISTS.map((l) => `-A INPUT -m recent --name ${l} --rcheck -j DROP`).join('\n');
      const r = await run('ip', ['netns', 'exec', net.name, `${ipt}-restore`, '--noflush'], { input: `*filter\n${rules}\nCOMMIT\n` }).catch((e: Error) => ({
        code: 1,
        stderr: e.message,
        stdout: '',
        signal: null,
      }));
      if (r.code === 0) {
        ok = true;
        break;
      }
      errors.push(`${ipt}: ${r.stderr.trim()}`);
    }
    const listed = ok && (await net.exec('test', ['-e', net.listPath('SENTINEL')])).code === 0;
    if (!listed) {
      await net.destroy();
      throw new Error(`could not create the xt_recent lists in ${net.name}: ${errors.join('; ')}`);
    }
    return net;
  }

  listPath(list: string): string {
    return `/proc/net/xt_recent/${list}`;
  }

  /** argv that runs `cmd` inside the namespace */
  wrap(cmd: string, args: readonly string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.name, cmd, ...args]];
  }

  exec(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}) {
    const [c, a] = this.wrap(cmd, args);
    return run(c, a, opts);
  }

  /** A long-running process inside the namespace, its output appended to `logFile`. */
  start(cmd: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv = process.env): NetProcess {
    const [c, a] = this.wrap(cmd, args);
    const p = new NetProcess(c, a, logFile, env, () => this.#procs.delete(p));
    this.#procs.add(p);
    return p;
  }

  /** net.unix.max_dgram_qlen of the namespace (read by sockets when they are made) */
  async setQlen(n: number): Promise<void> {
    await runOk('ip', ['netns', 'exec', this.name, 'sysctl', '-q', '-w', `net.unix.max_dgram_qlen=${n}`]);
  }

  async qlen(): Promise<number> {
    const r = await this.exec('sysctl', ['-n', 'net.unix.max_dgram_qlen']);
    return Number(r.stdout.trim());
  }

  async destroy(): Promise<void> {
    for (const p of [...this.#procs]) await p.stop(2000);
    await killNamespaceProcesses(this.name, PREFIX);
    await run('ip', ['netns', 'del', this.name]);
    this.#forget();
  }

  #emergency(): void {
    for (const p of this.#procs) p.kill('SIGKILL');
    try {
      spawn('ip', ['netns', 'del', this.name], { stdio: 'ignore', detached: true }).unref();
    } catch {
      // nothing more to do at exit
    }
  }
}

export class NetProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #done = false;

  constructor(
    cmd: string,
    args: readonly string[],
    readonly logFile: string,
    env: NodeJS.ProcessEnv,
    onExit: () => void,
  ) {
    const fd = openSync(logFile, 'a');
    try {
      this.child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.#done = true;
        onExit();
        resolve({ code, signal });
      });
      this.child.on('error', () => {
        this.#done = true;
        onExit();
        resolve({ code: null, signal: null });
      });
    });
  }

  /**
   * The pid of the program itself. `ip netns exec` enters the namespace and
   * then execs the command in the same process, so it is the child's pid.
   */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return !this.#done;
  }

  output(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  /** A field of /proc/PID/status in kB (VmRSS, VmHWM), or undefined when gone. */
  statusKb(field: 'VmRSS' | 'VmHWM'): number | undefined {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** user + system CPU time, in seconds, from /proc/PID/stat */
  cpuSeconds(): number | undefined {
    try {
      const s = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / 100; // utime, stime (fields 14, 15) in clock ticks (USER_HZ 100)
    } catch {
      return undefined;
    }
  }

  /**
   * user + system CPU seconds per thread (/proc/PID/task/TID/stat), by
   * thread id. Node names every thread of its own `node`, so callers tell
   * them apart by id: the main thread's is the process id. Threads that
   * ended are not counted.
   */
  threadCpuSeconds(): Map<number, number> | undefined {
    try {
      const out = new Map<number, number>();
      for (const tid of readdirSync(`/proc/${this.pid}/task`)) {
        try {
          const s = readFileSync(`/proc/${this.pid}/task/${tid}/stat`, 'utf8');
          const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
          out.set(Number(tid), (Number(f[11]) + Number(f[12])) / 100);
        } catch {
          // ended meanwhile
        }
      }
      return out;
    } catch {
      return undefined;
    }
  }

  /**
   * The main thread's time on a core and time waiting for one (runnable,
   * not running), in ms so far: the first two fields of
   * /proc/PID/task/PID/schedstat (nanoseconds). Undefined when gone, or
   * on a kernel without schedstat.
   */
  mainThreadSched(): { runMs: number; waitMs: number } | undefined {
    try {
      const [run, wait] = readFileSync(`/proc/${this.pid}/task/${this.pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      return Number.isFinite(run) && Number.isFinite(wait) ? { runMs: run! / 1e6, waitMs: wait! / 1e6 } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Minor page faults so far (minflt): a fork makes the parent fault on each page it writes afterwards. */
  minorFaults(): number | undefined {
    try {
      const s = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[7]); // minflt (field 10)
    } catch {
      return undefined;
    }
  }

  /**
   * CPU seconds of its children: those it has waited for (cutime + cstime),
   * and those still running with what they have waited for. A daemon's
   * conntrack calls are children of its helper shell, which lives as long
   * as the daemon.
   */
  childCpuSeconds(): number | undefined {
    const fields = (pid: number | string): string[] => {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return s.slice(s.lastIndexOf(')') + 2).split(' ');
    };
    try {
      const own = fields(this.pid);
      let ticks = Number(own[13]) + Number(own[14]);
      for (const name of readdirSync('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        try {
          const f = fields(name);
          if (Number(f[1]) === this.pid) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // ppid (field 4)
        } catch {
          // ended meanwhile
        }
      }
      return ticks / 100;
    } catch {
      return undefined;
    }
  }

  kill(sig: NodeJS.Signals): void {
    if (this.#done || this.pid <= 0) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      // gone
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.#done) {
      this.kill('SIGTERM');
      const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
      const st = await this.exited;
      clearTimeout(timer);
      return st;
    }
    return this.exited;
  }
}


/** Namespaces of earlier bench runs that died before cleaning up. */
async function sweepStale(): Promise<void> {
  const r = await run('ip', ['netns', 'list']);
  for (const line of r.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^bbbench-(\d+)$/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    await killNamespaceProcesses(name, PREFIX);
    await run('ip', ['netns', 'del', name]);
  }
}
