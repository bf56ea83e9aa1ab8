/**
 * The native edge (native-edge.c, built by build-native-edge.ts into
 * dist/bin/native-edge.node): recvmmsg(2) for the socket edge, lseek(2) and
 * write(2) for the kernel-list edge, the calls Node does not offer.
 *
 * Contract: `nativeEdge()` gives the loaded module, or a sentence saying why
 * there is none (not built: npm run build needs gcc and Node's headers; not
 * loadable). It is looked for once, beside this file (the bundle in dist/bin)
 * and in dist/bin seen from dist/src/lib. Each edge falls back to what Node
 * offers when it is missing; the daemon says so once at start.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export interface NativeEdge {
  /** up to 64 datagrams into `slots` (each `slotBytes`), their lengths in `lengths`: the count, 0 when none waits, or -errno */
  recvBatch(fd: number, slots: Buffer, slotBytes: number, lengths: Int32Array): number;
  /** `command` written at offset 0 of `fd`: the bytes written, or -errno */
  listWrite(fd: number, command: Buffer): number;
}

const NATIVE_EDGE_FILE = 'native-edge.node';

let loaded: NativeEdge | string | undefined;

export function nativeEdge(): NativeEdge | string {
  if (loaded !== undefined) return loaded;
  const here = dirname(fileURLToPath(import.meta.url));
  const file = [join(here, NATIVE_EDGE_FILE), join(here, '..', '..', 'bin', NATIVE_EDGE_FILE)].find((f) => existsSync(f));
  if (file === undefined) return (loaded = `${NATIVE_EDGE_FILE} was not built (npm run build needs gcc and Node's headers)`);
  try {
    const mod = require(file) as Partial<NativeEdge>;
    const missing = (['recvBatch', 'listWrite'] as const).filter((f) => typeof mod[f] !== 'function');
    if (missing.length > 0) return (loaded = `${file} has no ${missing.join(', ')} (built from an older source: run npm run build)`);
    return (loaded = mod as NativeEdge);
  } catch (err) {
    return (loaded = `${file} could not be loaded: ${(err as Error).message}`);
  }
}

/** Why the edges do without it, or undefined when it is loaded. */
export function nativeEdgeProblem(): string | undefined {
  const r = nativeEdge();
  return typeof r === 'string' ? r : undefined;
}

/** The name of a (positive) errno number, as Node gives it in `code` (EBADF for 9), or undefined for one it does not know. */
export function errnoCode(errno: number): string | undefined {
  return Object.entries(osConstants.errno).find(([, n]) => n === errno)?.[0];
}

/** A negative return of the native edge as the error Node would have thrown for it (code, errno, syscall; `path` when given). */
export function errnoError(errno: number, call: string, path?: string): NodeJS.ErrnoException {
  const code = errnoCode(errno) ?? `errno ${errno}`;
  const err: NodeJS.ErrnoException = new Error(`${code}: ${call} failed${path === undefined ? '' : `, '${path}'`}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = call;
  if (path !== undefined) err.path = path;
  return err;
}
