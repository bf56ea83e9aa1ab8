/**
 * A step of `npm run build`: compiles native-edge.c (recvmmsg for the
 * socket, lseek + write for the kernel lists) into dist/bin/native-edge.node
 * with the C compiler and Node's own headers (node_api.h). No node-gyp: the
 * file includes only node_api.h and libc, and Node-API's symbols are found
 * in the running node at load.
 *
 * Without a compiler or the headers the build goes on and says so: the
 * daemon then reads one datagram per read(2) and opens a list for each
 * command, as it did before, which is correct and costs the main thread
 * about five times as much per datagram and per ban.
 * BANBAN_REQUIRE_NATIVE_EDGE=1 makes that an error (CI sets it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const source = join(root, 'src', 'lib', 'native-edge.c');
const out = join(root, 'dist', 'bin', 'native-edge.node');

function headerDir(): string | undefined {
  const candidates = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
  return candidates.find((d) => existsSync(join(d, 'node_api.h')));
}

function build(): string | undefined {
  const headers = headerDir();
  if (headers === undefined) return `Node's headers (node_api.h) were not found beside ${process.execPath} nor in /usr/include/node or /usr/local/include/node`;
  const cc = process.env.CC ?? 'gcc';
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync(cc, ['-O2', '-Wall', '-shared', '-fPIC', `-I${headers}`, '-o', out, source], { encoding: 'utf8' });
  if (r.error) return `${cc} could not be run: ${r.error.message}`;
  if (r.status !== 0) return `${cc} failed: ${r.stderr.trim()}`;
  return undefined;
}

const problem = build();
if (problem === undefined) {
  process.stdout.write(`banban: built ${out}\n`);
} else if (process.env.BANBAN_REQUIRE_NATIVE_EDGE === '1') {
  process.stderr.write(`banban: the native edge could not be built: ${problem}\n`);
  process.exit(1);
} else {
  process.stderr.write(`banban: warning: the native edge was not built (${problem}); the daemon will read one datagram per system call and open a kernel list for each command, which is slower under a flood. Install gcc and rebuild to have it.\n`);
}
