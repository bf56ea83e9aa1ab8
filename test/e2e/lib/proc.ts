/**
 * Child processes for the end-to-end tests: one-shot commands, long-running
 * services whose output we watch, and polling for a condition.
 *
 * Every long-running child is started in its own process group
 * (`detached: true`), so that stopping it also stops what it forked (sshd's
 * per-connection children, `ip netns exec` wrappers, shells). Every started
 * service is remembered, so a test file can kill whatever is still alive in
 * one `t.after`/`after` hook even when an assertion threw halfway.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string;
  /** milliseconds before the command is killed; default 20 s */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Runs a command to completion and returns its output, whatever its exit code. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 20_000, maxBuffer: 16 * 1024 * 1024, env: opts.env ?? process.env, cwd: opts.cwd, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
          // spawn itself failed (ENOENT...): not an exit status
          reject(new Error(`${cmd}: ${err.message}`));
          return;
        }
        resolve({ code: child.exitCode, signal: child.signalCode, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs a command and fails with its output when it exits non-zero. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`command failed (exit ${r.code ?? r.signal}): ${[cmd, ...args].join(' ')}\n${r.stderr}${r.stdout}`);
  }
  return r;
}

/** Polls `check` until it returns a value other than undefined/false. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 10_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

const live = new Set<Service>();

/**
 * A long-running child whose stdout and stderr are kept (line by line) so
 * that tests can wait for a line and failures can show what it said.
 */
export class Service {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    cmd: string,
    args: readonly string[],
    opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ) {
    this.child = spawn(cmd, args, {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        this.notify();
        resolve({ code, signal });
      });
      this.child.on('error', (err) => {
        this.lines.push(`[spawn error] ${err.message}`);
        this.exitInfo = { code: null, signal: null };
        live.delete(this);
        this.notify();
        resolve({ code: null, signal: null });
      });
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          this.lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        this.notify();
      });
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exitInfo;
  }

  private notify(): void {
    for (const w of this.waiters) w();
  }

  /**
   * Waits until a line (from `from` on) satisfies `match`; returns its index.
   * Fails early when the process exits first, with its last output.
   */
  async waitForLine(match: (line: string) => boolean, { from = 0, timeoutMs = 10_000, what = 'a line' } = {}): Promise<number> {
    let wake: () => void = () => {};
    const woke = () => new Promise<void>((r) => (wake = r));
    const waiter = () => wake();
    this.waiters.add(waiter);
    const deadline = Date.now() + timeoutMs;
    try {
      let pos = from;
      for (;;) {
        const next = woke();
        for (; pos < this.lines.length; pos++) if (match(this.lines[pos]!)) return pos;
        if (!this.running) throw new Error(`${this.name} exited (${JSON.stringify(this.exitInfo)}) before ${what}\n${this.tail()}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${this.name} to print ${what}\n${this.tail()}`);
        await Promise.race([next, sleep(Math.min(left, 250))]);
      }
    } finally {
      this.waiters.delete(waiter);
    }
  }

  /** The last lines it printed, for failure messages. */
  tail(n = 30): string {
    return this.lines
      .slice(-n)
      .map((l) => `  ${this.name}| ${l}`)
      .join('\n');
  }

  /** Sends a signal to the process only (not its group). */
  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /**
   * Stops the whole process group: `sig` first, SIGKILL after `graceMs`.
   * Returns how the leader exited.
   */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      killGroup(this.pid, sig);
      const done = await Promise.race([this.exited, sleep(graceMs).then(() => undefined)]);
      if (done === undefined) killGroup(this.pid, 'SIGKILL');
    }
    const status = await this.exited;
    // the leader is gone; make sure nothing it forked lingers in the group
    killGroup(this.pid, 'SIGKILL');
    return status;
  }
}

/** Whether a process exists (EPERM: it does, but is not ours to signal). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // group already gone
  }
}

/**
 * Last-resort cleanup when the test process is interrupted (Ctrl-C, the
 * runner's SIGTERM on a timeout) or exits without its `after` hooks having
 * run: the services run in their own process groups, so nothing else would
 * stop them. Only synchronous work is possible here.
 */
const emergencySteps = new Set<() => void>();

/** Registers a synchronous undo step for an interrupted run; returns its remover. */
export function onEmergency(step: () => void): () => void {
  emergencySteps.add(step);
  return () => emergencySteps.delete(step);
}

function emergency(): void {
  for (const svc of live) killGroup(svc.pid, 'SIGKILL');
  for (const step of [...emergencySteps].reverse()) {
    try {
      step();
    } catch {
      // keep going: the next step may still free something
    }
  }
  emergencySteps.clear();
}

process.on('exit', emergency);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    emergency();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

/** Stops every service still running; for a test file's final cleanup hook. */
export async function stopAllServices(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop('SIGTERM', 2000)));
}
