/**
 * The bare receive loops: the ceiling of banban's socket design. Nothing is
 * done per datagram but a length check. The sentinel (a datagram of the
 * length given, holding "banban-bench[") is answered like the daemon would:
 * "+ADDR" is written to the kernel list, so the sender times both the same
 * way. Two ways of reading:
 *   unix-dgram  the same unix-dgram as the daemon, bound the same way, one
 *               datagram per wake-up: the figure the issue names;
 *   batched     the daemon's own socket edge (source/syslog-socket.ts), which
 *               reads what is queued 64 datagrams a system call (recvmmsg).
 *
 *   node bare-receiver.js SOCKET SENTINEL_LENGTH LIST [unix-dgram|batched]
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface Sock {
  on(event: 'message', cb: (buf: Buffer) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  bind(path: string): void;
}
const require = createRequire(import.meta.url);
const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram'): Sock };

const [path, lenText, list, mode = 'unix-dgram'] = process.argv.slice(2);
if (path === undefined || lenText === undefined || list === undefined || (mode !== 'unix-dgram' && mode !== 'batched')) {
  process.stderr.write('usage: bare-receiver SOCKET SENTINEL_LENGTH LIST [unix-dgram|batched]\n');
  process.exit(64);
}
const sentinelLength = Number(lenText);
let received = 0;
const onDatagram = (buf: Buffer): void => {
  received++;
  if (buf.length !== sentinelLength) return;
  const text = buf.toString('latin1');
  if (!text.includes('banban-bench[')) return;
  writeFileSync(list, `+${text.slice(text.lastIndexOf(' from ') + 6)}\n`, { flag: 'a' });
};
const fail = (err: Error): void => {
  process.stderr.write(`bare-receiver: ${err.message}\n`);
  process.exit(1);
};
if (mode === 'batched') {
  const { SyslogSocket } = await import('../../src/source/syslog-socket.js');
  const { nativeEdgeProblem } = await import('../../src/lib/native-edge.js');
  const problem = nativeEdgeProblem();
  if (problem !== undefined) fail(new Error(problem));
  SyslogSocket.open({ path, onDatagram, onError: fail });
} else {
  const sock = unix.createSocket('unix_dgram');
  sock.on('error', fail);
  sock.on('message', onDatagram);
  sock.bind(path);
}
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ received })}\n`);
  process.exit(0);
});
