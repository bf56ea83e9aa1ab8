/**
 * Real TCP traffic between the namespaces, to prove that a ban bites.
 *
 * A Node process cannot switch network namespaces, so the sockets live in
 * small child processes started with `ip netns exec`; this file is both the
 * library the tests call and (run with arguments) the child program:
 *
 *   listen PORT                      echo server on [::]:PORT (IPv4 too)
 *   probe HOST PORT MS [LOCALADDR]   one connect attempt; prints the outcome
 *   hold HOST PORT                   keeps one connection open; for each
 *                                    "ping ID MS" on stdin it sends a line
 *                                    and prints "echo ID" or "silent ID"
 *
 * Run without arguments (as `node --test` does with every file under
 * dist/test/) it does nothing.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Testbed } from './netns.js';
import { run, Service } from './proc.js';

const SELF = fileURLToPath(import.meta.url);

/** How long a connect may take before we call the address blocked. */
export const CONNECT_TIMEOUT_MS = 1500;

export type ProbeResult = 'connected' | 'timeout' | 'refused' | 'error';

// ---------------------------------------------------------------- library

/** Starts the echo listener inside namespace `ns`. */
export async function startListener(ns: string, port: number): Promise<Service> {
  const [cmd, args] = Testbed.wrap(ns, process.execPath, [SELF, 'listen', String(port)]);
  const svc = new Service(`tcp-listener:${port}`, cmd, args);
  await svc.waitForLine((l) => l === `listening ${port}`, { what: 'its listening line' });
  return svc;
}

/**
 * One TCP connect from namespace `ns`: "connected", or "timeout" when no
 * answer came within CONNECT_TIMEOUT_MS (what a DROP rule produces).
 */
export async function probe(ns: string, host: string, port: number, { localAddress }: { localAddress?: string } = {}): Promise<ProbeResult> {
  const [cmd, args] = Testbed.wrap(ns, process.execPath, [SELF, 'probe', host, String(port), String(CONNECT_TIMEOUT_MS), ...(localAddress ? [localAddress] : [])]);
  const r = await run(cmd, args, { timeoutMs: CONNECT_TIMEOUT_MS + 10_000 });
  const out = r.stdout.trim().split('\n').pop() ?? '';
  if (out === 'connected' || out === 'timeout' || out === 'refused') return out;
  return 'error';
}

/** A connection opened from the client and kept open across a ban. */
export class HeldConnection {
  private seq = 0;
  private constructor(
    private readonly svc: Service,
    readonly localPort: number,
  ) {}

  static async open(ns: string, host: string, port: number): Promise<HeldConnection> {
    const [cmd, args] = Testbed.wrap(ns, process.execPath, [SELF, 'hold', host, String(port)]);
    const svc = new Service(`tcp-hold:${host}:${port}`, cmd, args);
    const at = await svc.waitForLine((l) => l.startsWith('connected ') || l.startsWith('error '), { what: 'a connect result' });
    const line = svc.lines[at]!;
    if (!line.startsWith('connected ')) {
      await svc.stop();
      throw new Error(`held connection to ${host}:${port} failed: ${line}`);
    }
    return new HeldConnection(svc, Number(line.split(' ')[1]));
  }

  /** Sends one line over the open connection: "echo" if it came back, "silent" if not within the timeout. */
  async ping(timeoutMs = CONNECT_TIMEOUT_MS): Promise<'echo' | 'silent' | 'closed'> {
    const id = ++this.seq;
    const from = this.svc.lines.length;
    this.svc.child.stdin?.write(`ping ${id} ${timeoutMs}\n`);
    const at = await this.svc.waitForLine((l) => l === `echo ${id}` || l === `silent ${id}` || l.startsWith('closed') || l.startsWith('error '), {
      from,
      timeoutMs: timeoutMs + 5000,
      what: `the answer to ping ${id}`,
    });
    const line = this.svc.lines[at]!;
    if (line === `echo ${id}`) return 'echo';
    if (line === `silent ${id}`) return 'silent';
    return 'closed';
  }

  async close(): Promise<void> {
    await this.svc.stop('SIGKILL', 500);
  }
}

// ---------------------------------------------------------------- child program

function listen(port: number): void {
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.pipe(sock);
  });
  server.listen({ port, host: '::', ipv6Only: false }, () => console.log(`listening ${port}`));
}

function probeChild(host: string, port: number, ms: number, localAddress: string | undefined): void {
  const sock = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
  const done = (what: string) => {
    console.log(what);
    sock.destroy();
    process.exit(0);
  };
  const timer = setTimeout(() => done('timeout'), ms);
  sock.on('connect', () => {
    clearTimeout(timer);
    done('connected');
  });
  sock.on('error', (e: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    done(e.code === 'ECONNREFUSED' ? 'refused' : `error ${e.code ?? e.message}`);
  });
}

function hold(host: string, port: number): void {
  const sock = net.connect({ host, port });
  const pending = new Map<string, NodeJS.Timeout>();
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('connect', () => console.log(`connected ${sock.localPort}`));
  sock.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const id = buf.slice(0, nl).replace(/^ping /, '');
      buf = buf.slice(nl + 1);
      const t = pending.get(id);
      if (t) {
        clearTimeout(t);
        pending.delete(id);
        console.log(`echo ${id}`);
      }
    }
  });
  sock.on('error', (e: NodeJS.ErrnoException) => console.log(`error ${e.code ?? e.message}`));
  sock.on('close', () => console.log('closed'));
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [verb, id, ms] = line.split(' ');
    if (verb !== 'ping' || !id) return;
    pending.set(
      id,
      setTimeout(() => {
        pending.delete(id);
        console.log(`silent ${id}`);
      }, Number(ms)),
    );
    sock.write(`ping ${id}\n`);
  });
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url && process.argv[2] !== undefined) {
  const [mode, a, b, c, d] = process.argv.slice(2);
  if (mode === 'listen') listen(Number(a));
  else if (mode === 'probe') probeChild(a!, Number(b), Number(c), d);
  else if (mode === 'hold') hold(a!, Number(b));
  else {
    console.error(`tcp-peer: unknown mode ${mode}`);
    process.exit(64);
  }
}
