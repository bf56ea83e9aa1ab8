/**
 * The bare receive loop: the ceiling of banban's socket design. The same
 * unix-dgram as the daemon, bound the same way, and nothing done per
 * datagram but a length check. The sentinel (a datagram of the length given,
 * holding "banban-bench[") is answered like the daemon would: "+ADDR" is
 * written to the kernel list, so the sender times both the same way.
 *
 *   node bare-receiver.js SOCKET SENTINEL_LENGTH LIST
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

const [path, lenText, list] = process.argv.slice(2);
if (path === undefined || lenText === undefined || list === undefined) {
  process.stderr.write('usage: bare-receiver SOCKET SENTINEL_LENGTH LIST\n');
  process.exit(64);
}
const sentinelLength = Number(lenText);
let received = 0;
const sock = unix.createSocket('unix_dgram');
sock.on('error', (err) => {
  process.stderr.write(`bare-receiver: ${err.message}\n`);
  process.exit(1);
});
sock.on('message', (buf) => {
  received++;
  if (buf.length !== sentinelLength) return;
  const text = buf.toString('latin1');
  if (!text.includes('banban-bench[')) return;
  writeFileSync(list, `+${text.slice(text.lastIndexOf(' from ') + 6)}\n`, { flag: 'a' });
});
sock.bind(path);
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ received })}\n`);
  process.exit(0);
});
