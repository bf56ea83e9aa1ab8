/**
 * The socket edge, and the only file that touches unix-dgram (Node's dgram
 * has no UNIX datagram sockets).
 *
 * Binding is careful because whoever can write to this socket can ban any
 * address:
 *   - an existing socket file nobody listens on (a crash left it) is
 *     replaced; one somebody listens on is refused (a second banban?); any
 *     other kind of file is refused, never deleted;
 *   - the file is created under umask 0117 and then chmod'ed, so it is 0660
 *     from its first instant, never world-writable; owner and group come
 *     from the config so the syslog daemon's user can write to it.
 *
 * unix-dgram reads each datagram into a 64 KiB buffer and does not report
 * MSG_TRUNC; a datagram that fills the buffer exactly may have been cut, so
 * `MAX_DATAGRAM` is reported and the receiver must not match it. The batch
 * receiver (recvmmsg, lib/native-edge.c) reads into slots of the same size,
 * so the same rule holds whichever path read a datagram.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, readSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { errnoCode, errnoError, nativeEdge, type NativeEdge } from '../lib/native-edge.js';

const require = createRequire(import.meta.url);

interface UnixDgramSocket {
  on(event: 'message', cb: (buf: Buffer) => void): void;
  on(event: 'error', cb: (err: NodeJS.ErrnoException) => void): void;
  on(event: 'listening' | 'connect' | 'congestion', cb: () => void): void;
  removeAllListeners(event?: string): void;
  /** the socket's file descriptor (non-blocking), -1 once closed */
  readonly fd: number;
  bind(path: string): void;
  connect(path: string): void;
  send(buf: Buffer, cb?: (err?: Error) => void): void;
  close(): void;
}
interface UnixDgram {
  createSocket(type: 'unix_dgram', listener?: (buf: Buffer) => void): UnixDgramSocket;
}
const unix = require('unix-dgram') as UnixDgram;


/** unix-dgram's receive buffer: a datagram this long may have been truncated */
export const MAX_DATAGRAM = 65536;

/** where drained datagrams are read to; shared, since one datagram is handled at a time */
const scratch = Buffer.allocUnsafe(MAX_DATAGRAM);

/** the native edge and the memory it reads into, shared by every socket (each drain hands its datagrams on before the next) */
interface BatchReceiver {
  mod: NativeEdge;
  slots: Buffer;
  lengths: Int32Array;
}
/** datagrams per recvmmsg(2) call (native-edge.c's MAX_BATCH) */
export const RECV_BATCH = 64;

/**
 * The batch receiver, made at the first socket opened, or why there is
 * none (lib/native-edge.ts). Its slots take 4 MiB of address space, of
 * which only the pages datagrams are written to become resident (about 64
 * pages for syslog lines).
 */
let batchReceiver: BatchReceiver | string | undefined;

function loadBatchReceiver(): BatchReceiver | string {
  if (batchReceiver !== undefined) return batchReceiver;
  const mod = nativeEdge();
  return (batchReceiver = typeof mod === 'string' ? mod : { mod, slots: Buffer.allocUnsafeSlow(RECV_BATCH * MAX_DATAGRAM), lengths: new Int32Array(RECV_BATCH) });
}

export const SOCKET_MODE = 0o660;

/**
 * Datagrams read per wake-up at most, after the one unix-dgram delivered:
 * enough to make the per-wake-up cost vanish under a flood, few enough that
 * timers and signals still get their turn every millisecond or so.
 */
export const DRAIN_MAX = 256;

export class SocketError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'SocketError';
  }
}

export interface SocketOptions {
  path: string;
  owner?: number | undefined;
  group?: number | undefined;
  /**
   * One datagram. The buffer may be a view of a scratch buffer that the next
   * datagram overwrites: use it before returning, never keep it.
   */
  onDatagram: (buf: Buffer) => void;
  /** after each wake-up's datagrams: the moment to pass on what was gathered */
  onBurstEnd?: () => void;
  onError: (err: Error) => void;
  /** read queued datagrams in batches when the batch receiver is there (default true; false for tests) */
  batchReceive?: boolean;
}

export class SyslogSocket {
  #sock: UnixDgramSocket | undefined;

  /** queued datagrams are read with recvmmsg(2), up to RECV_BATCH a call, rather than one read(2) each */
  readonly batched: boolean;
  readonly #batch: BatchReceiver | undefined;

  private constructor(
    readonly path: string,
    sock: UnixDgramSocket,
    /** inode of the socket file we bound: tells ours from a stranger's at the same path */
    readonly ino: number,
    batchReceive: boolean,
  ) {
    this.#sock = sock;
    const r = batchReceive ? loadBatchReceiver() : undefined;
    this.#batch = typeof r === 'object' ? r : undefined;
    this.batched = this.#batch !== undefined;
  }

  /** false when the socket file was deleted or replaced under us (then nobody can reach us) */
  isReachable(): boolean {
    try {
      const st = lstatSync(this.path);
      return st.isSocket() && st.ino === this.ino;
    } catch {
      return false;
    }
  }

  /** Binds synchronously; throws SocketError saying what is wrong and what to do. */
  static open(opts: SocketOptions): SyslogSocket {
    clearStaleSocket(opts.path);
    try {
      mkdirSync(dirname(opts.path), { recursive: true, mode: 0o755 });
    } catch (err) {
      throw new SocketError(`cannot create the folder of socket ${opts.path}: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code);
    }
    const sock = unix.createSocket('unix_dgram');
    let bindError: NodeJS.ErrnoException | undefined;
    sock.on('error', (err) => {
      bindError = err;
    });
    const oldMask = process.umask(0o117);
    try {
      sock.bind(opts.path); // unix-dgram binds synchronously and emits 'error' at once on failure
    } finally {
      process.umask(oldMask);
    }
    if (bindError) {
      sock.close();
      throw new SocketError(`cannot bind socket ${opts.path}: ${errnoName(bindError)}`, errnoName(bindError));
    }
    try {
      chmodSync(opts.path, SOCKET_MODE);
      if (opts.owner !== undefined || opts.group !== undefined) chownSync(opts.path, opts.owner ?? -1, opts.group ?? -1);
    } catch (err) {
      sock.close();
      unlinkQuietly(opts.path);
      throw new SocketError(`cannot set owner or mode of socket ${opts.path}: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code);
    }
    sock.removeAllListeners('error');
    sock.on('error', opts.onError);
    const socket = new SyslogSocket(opts.path, sock, lstatSync(opts.path).ino, opts.batchReceive ?? true);
    sock.on('message', (buf) => {
      try {
        opts.onDatagram(buf);
        if (socket.#batch) socket.#drainBatched(opts, socket.#batch);
        else socket.#drain(opts);
      } finally {
        opts.onBurstEnd?.();
      }
    });
    return socket;
  }

  /**
   * unix-dgram hands over one datagram per wake-up of the event loop (a
   * poll, a recvmsg, a fresh Buffer and a call into JavaScript for each).
   * Under load more are already queued: read them here with plain read(2)
   * on the same non-blocking descriptor into one reused buffer, until the
   * queue is empty (EAGAIN) or DRAIN_MAX were read. A datagram socket's
   * read(2) returns exactly one datagram, cut to the buffer like recvmsg,
   * so the truncation rule (MAX_DATAGRAM) is the same for both paths.
   */
  #drain(opts: SocketOptions): void {
    for (let i = 0; i < DRAIN_MAX; i++) {
      const sock = this.#sock;
      if (sock === undefined || sock.fd < 0) return;
      let n: number;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0; // the EAGAIN that ends every drain needs no stack
      try {
        n = readSync(sock.fd, scratch, 0, MAX_DATAGRAM, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') opts.onError(err as Error);
        return;
      } finally {
        Error.stackTraceLimit = limit;
      }
      opts.onDatagram(scratch.subarray(0, n));
    }
  }

  /**
   * The same as #drain, with recvmmsg(2): up to RECV_BATCH datagrams a
   * system call, each in a slot of its own (measured here: 0.4-0.7 µs a
   * datagram against 3.3-4.7 with read(2), whose cost is mostly Node's
   * call and the exception that says EAGAIN). The slots are reused by the
   * next call: each datagram is handed on before it.
   */
  #drainBatched(opts: SocketOptions, batch: BatchReceiver): void {
    const { mod, slots, lengths } = batch;
    for (let read = 0; read < DRAIN_MAX; ) {
      const sock = this.#sock;
      if (sock === undefined || sock.fd < 0) return;
      const n = mod.recvBatch(sock.fd, slots, MAX_DATAGRAM, lengths);
      if (n < 0) {
        opts.onError(errnoError(-n, 'recvmmsg'));
        return;
      }
      for (let i = 0; i < n; i++) opts.onDatagram(slots.subarray(i * MAX_DATAGRAM, i * MAX_DATAGRAM + lengths[i]!));
      if (n < lengths.length) return; // the queue is empty (0 is EAGAIN)
      read += n;
    }
  }

  /** Stops receiving and removes the socket file, if the file at the path is still ours. */
  close(): void {
    if (this.#sock === undefined) return;
    const ours = this.isReachable();
    this.#sock.close();
    this.#sock = undefined;
    if (ours) unlinkQuietly(this.path);
  }
}

function clearStaleSocket(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new SocketError(`cannot inspect ${path}: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code);
  }
  if (!st.isSocket()) {
    throw new SocketError(
      `${path} exists and is not a socket; refusing to replace it. Remove it yourself or set another path in the config key 'socket'`,
      'EEXIST',
    );
  }
  if (someoneListens(path)) {
    throw new SocketError(`another process is listening on ${path} (a second banban?); stop it or choose another 'socket'`, 'EADDRINUSE');
  }
  unlinkSync(path);
}

/**
 * One datagram to the socket bound at `path` (connect, send, close), for
 * systemd's readiness messages (lib/systemd-notify.ts): what went wrong
 * (an errno name), or undefined when it was sent.
 */
export function sendDatagram(path: string, data: Buffer): string | undefined {
  const sock = unix.createSocket('unix_dgram');
  let failed: string | undefined;
  sock.on('error', (err: NodeJS.ErrnoException) => {
    failed ??= errnoName(err);
  });
  sock.on('congestion', () => {
    failed ??= 'EAGAIN';
  });
  sock.connect(path); // unix-dgram connects and sends synchronously, and says so at once
  if (failed === undefined) sock.send(data);
  sock.close();
  return failed;
}

/** A datagram connect succeeds only when a socket is bound there. */
function someoneListens(path: string): boolean {
  const probe = unix.createSocket('unix_dgram');
  let connected = false;
  probe.on('error', () => {});
  probe.on('connect', () => {
    connected = true;
  });
  probe.connect(path);
  probe.close();
  return connected;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone: that is what we wanted
  }
}

/** unix-dgram reports errors as negative errno numbers. */
function errnoName(err: NodeJS.ErrnoException): string {
  const n = Number(err.code ?? err.errno);
  return (Number.isInteger(n) && n < 0 ? errnoCode(-n) : undefined) ?? String(err.code ?? err.message);
}
