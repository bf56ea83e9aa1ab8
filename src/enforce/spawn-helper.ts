/**
 * Starting programs (conntrack) without forking the daemon each time.
 *
 * Node starts a child with fork() and exec(). fork() copies the page tables
 * of the whole process and marks every page copy-on-write, so the parent
 * pays twice: the call itself blocks its thread, and afterwards every page
 * it writes takes a fault. Measured here, a process holding 1 million IPv4
 * offence windows (94 MB resident) and counting offences: spawn() blocked
 * it 3.7-4.3 ms, and the next 200 000 offences took 6 400-9 000 page
 * faults more than without; with 150 MB of heap written to, 11 ms and
 * 37 000 faults. Under a flood of bans conntrack starts once a second.
 *
 * So the daemon forks once, while it is still small: a POSIX shell that
 * reads requests from a pipe and starts each program itself. Contract:
 *   - a request is one line: an id, the program and its arguments,
 *     separated by tabs. The shell splits the line on tabs with globbing
 *     off, so no argument is ever expanded or evaluated; arguments must not
 *     be empty or hold a tab or a newline (`run` refuses them);
 *   - the program runs with stdin from /dev/null and its output in two files
 *     of a private folder (0700); the shell answers `id status` on its
 *     stdout when it ends. `run` resolves with the exit status and stderr,
 *     and, when asked, hands over stdout line by line from the file (a busy
 *     conntrack table lists megabytes), each line cut to OUTPUT_LINE_MAX;
 *   - requests run one after the other, in the order given;
 *   - the shell and what it starts run at nice 19 (set once on the shell;
 *     children inherit it), in a process group of their own, so that a
 *     request that outlives `timeoutMs` can be killed with whatever it
 *     started; pending requests then fail, and the next `run` starts a new
 *     shell;
 *   - a program that cannot be found fails with code 'ENOENT', as from
 *     child_process;
 *   - the shell ends when its stdin closes, when the daemon calls `close`
 *     or dies however it dies, and removes its folder as it goes.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { LineSplitter } from '../source/log-file.js';

/**
 * The shell's whole program. `$1` is its private folder, kept in `dir`
 * before `set --` reuses the positional parameters. At the end it removes
 * only the last call's two files, which the daemon may not have read, and
 * the folder if it is then empty; the daemon removes the others.
 */
const SCRIPT = `set -f
dir=$1
id=
cd -- "$dir" || exit 70
tab=$(printf '\t')
while IFS= read -r req; do
  IFS=$tab
  set -- $req
  unset IFS
  id=$1
  shift
  "$@" </dev/null >"$id.out" 2>"$id.err"
  echo "$id $?"
done
cd / || exit 0
rm -f -- "$dir/$id.out" "$dir/$id.err"
rmdir -- "$dir"
`;

/** longest line of a program's output handed over (conntrack's are a few hundred bytes); more of a line is cut */
const OUTPUT_LINE_MAX = 65536;
/** longest answer line of the shell (`id status`) */
const ANSWER_MAX = 64;

export interface SpawnResult {
  /** exit status; 128 + N for a program killed by signal N */
  readonly code: number;
  /** the first 4 KiB of its standard error */
  readonly stderr: string;
}

export interface SpawnHelperOptions {
  /** a request not answered after this long kills the shell and what it runs (default 30 s) */
  timeoutMs?: number;
  /** niceness of the shell and its programs (default 19) */
  nice?: number;
  /** the shell (default /bin/sh) */
  shell?: string;
}

interface Request {
  readonly id: number;
  readonly command: string;
  readonly onLine: ((line: string) => void) | undefined;
  readonly resolve: (r: SpawnResult) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface Shell {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly dir: string;
  /** the shell's own error output, for the message when it dies */
  stderr: string;
  dead: boolean;
}

export class SpawnHelper {
  readonly #timeoutMs: number;
  readonly #nice: number;
  readonly #shellPath: string;
  #shell: Shell | undefined;
  readonly #pending = new Map<number, Request>();
  #nextId = 1;
  #closed = false;
  /** why the last `start` failed, until one succeeds */
  #startError: Error | undefined;

  constructor(opts: SpawnHelperOptions = {}) {
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#nice = opts.nice ?? 19;
    this.#shellPath = opts.shell ?? '/bin/sh';
  }

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Starts the shell now, if it is not running: call it while the daemon is
   * small, since this is the fork. Never throws: what kept it from starting
   * (no temporary folder, no /bin/sh) is what the next `run` fails with,
   * and that `run` tries again.
   */
  start(): void {
    if (this.#closed || (this.#shell !== undefined && !this.#shell.dead)) return;
    let dir: string | undefined;
    let child: ChildProcessByStdio<Writable, Readable, Readable>;
    try {
      dir = mkdtempSync(join(tmpdir(), 'banban-spawn-'));
      child = spawn(this.#shellPath, ['-c', SCRIPT, 'banban-spawn', dir], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      this.#startError = new Error(`could not start the helper shell ${this.#shellPath}: ${(err as Error).message}`);
      return;
    }
    this.#startError = undefined;
    const shell: Shell = { child, dir, stderr: '', dead: false };
    this.#shell = shell;
    try {
      if (child.pid !== undefined) setPriority(child.pid, this.#nice);
    } catch {
      // gone already: its exit is reported below
    }
    const answers = new LineSplitter(ANSWER_MAX, (buf, start, end) => this.#answer(shell, buf.toString('latin1', start, end)));
    child.stdout.on('data', (chunk: Buffer) => answers.push(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (shell.stderr.length < 4096) shell.stderr += chunk;
    });
    // a write after the shell died fails with EPIPE: the exit handler below fails the requests
    child.stdin.on('error', () => {});
    // An idle shell does not keep the process alive; a pending request's timer does.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();
    // not ENOENT's code: that would read as "conntrack not found"
    child.on('error', (err) => this.#lost(shell, new Error(`could not start the helper shell ${this.#shellPath}: ${err.message}`)));
    child.on('close', (code, signal) => this.#lost(shell, new Error(`the helper shell ${this.#shellPath} ended (${signal ?? `exit ${String(code)}`})${shell.stderr ? `: ${shell.stderr.trim()}` : ''}`)));
  }

  /**
   * Runs `command args...` through the shell. Resolves with its exit status
   * once it has ended (and `onLine` has been given every line of its
   * output); rejects when it could not be run or did not end in time.
   */
  run(command: string, args: readonly string[], onLine?: (line: string) => void): Promise<SpawnResult> {
    for (const a of [command, ...args]) {
      if (a === '' || /[\t\n\r]/.test(a)) return Promise.reject(new Error(`cannot pass ${JSON.stringify(a)} to the helper shell: empty, or holds a tab or a line break`));
    }
    if (this.#closed) return Promise.reject(new Error('the helper shell is closed'));
    this.start();
    const shell = this.#shell;
    if (shell === undefined) return Promise.reject(this.#startError ?? new Error('the helper shell is not running'));
    const id = this.#nextId++;
    return new Promise<SpawnResult>((resolve, reject) => {
      const timer = setTimeout(() => this.#timedOut(shell, command, args), this.#timeoutMs);
      this.#pending.set(id, { id, command, onLine, resolve, reject, timer });
      shell.child.stdin.write(`${[id, command, ...args].join('\t')}\n`);
    });
  }

  /** Closes the shell's stdin: it ends after the program it is running, if any. Pending requests fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const shell = this.#shell;
    if (shell === undefined) return;
    shell.child.stdin.end(); // the shell removes its folder when it reads the end
    this.#failAll(new Error('the helper shell was closed'));
  }

  #answer(shell: Shell, line: string): void {
    const space = line.indexOf(' ');
    const id = Number(line.slice(0, space));
    const code = Number(line.slice(space + 1));
    const req = this.#pending.get(id);
    if (req === undefined) return; // timed out or failed already
    this.#pending.delete(id);
    clearTimeout(req.timer);
    const out = join(shell.dir, `${id}.out`);
    const err = join(shell.dir, `${id}.err`);
    let stderr = '';
    try {
      stderr = readFileSync(err, 'utf8').slice(0, 4096);
    } catch {
      // the shell could not make the file: the status says so
    }
    const done = (): void => {
      rmSync(out, { force: true });
      rmSync(err, { force: true });
    };
    // The shell reports a program it cannot find with 127 (126: found, not runnable), as execve's ENOENT.
    if (code === 127 && /not found|No such file/i.test(stderr)) {
      done();
      return req.reject(Object.assign(new Error(`${req.command}: not found`), { code: 'ENOENT' }));
    }
    if (req.onLine === undefined) {
      done();
      return req.resolve({ code, stderr });
    }
    const each = req.onLine;
    const lines = new LineSplitter(OUTPUT_LINE_MAX, (buf, start, end) => each(buf.toString('latin1', start, end)));
    const stream = createReadStream(out);
    stream.on('data', (chunk) => lines.push(chunk as Buffer));
    stream.on('error', (e) => {
      done();
      req.reject(e);
    });
    stream.on('end', () => {
      lines.end();
      done();
      req.resolve({ code, stderr });
    });
  }

  #timedOut(shell: Shell, command: string, args: readonly string[]): void {
    this.#failAll(new Error(`${command} ${args.join(' ')} did not end within ${this.#timeoutMs / 1000} s; it was killed`));
    this.#kill(shell);
  }

  #lost(shell: Shell, err: Error): void {
    if (shell.dead) return;
    shell.dead = true;
    if (this.#shell === shell) this.#shell = undefined;
    this.#failAll(err);
    // killed, or it died: it could not clean up after itself
    rmSync(shell.dir, { recursive: true, force: true });
  }

  /** The shell and what it is running: their process group. */
  #kill(shell: Shell): void {
    if (shell.child.pid === undefined) return;
    try {
      process.kill(-shell.child.pid, 'SIGKILL');
    } catch {
      // gone already
    }
    this.#lost(shell, new Error('killed'));
  }

  #failAll(err: Error): void {
    for (const req of this.#pending.values()) {
      clearTimeout(req.timer);
      req.reject(err);
    }
    this.#pending.clear();
  }
}
