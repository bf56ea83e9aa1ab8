/**
 * The clients bots are: connections to a real sshd that end before any
 * login, each the way a scanner's or a brute-forcer's library ends them.
 * Like tcp-peer.ts, this file is both the library the tests call and (run
 * with arguments) the child program that `ip netns exec` starts in the
 * client namespace:
 *
 *   bye HOST PORT LOCALADDR CODE TEXT   SSH banner exchange, then SSH's
 *                                       DISCONNECT message (RFC 4253 11.1)
 *                                       with reason CODE and TEXT, sent in
 *                                       the clear before the key exchange,
 *                                       as sshd accepts it at any time
 *   close HOST PORT LOCALADDR           connect and close before any banner
 *   banner HOST PORT LOCALADDR TEXT     send TEXT as the banner line (not
 *                                       SSH: a web scanner's "GET / ...")
 *
 * Each prints "done" once sshd closed the connection (or it closed its
 * own), so the caller knows sshd has written its lines.
 *
 * Run without arguments (as `node --test` does) it does nothing.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Testbed } from './netns.js';
import { run } from './proc.js';

const SELF = fileURLToPath(import.meta.url);

/** SSH's disconnect reasons the bots send: 11 by application ("Bye Bye"), 14 no more auth methods, 3 key exchange failed ("Auth fail" from Java's JSch) */
export type ByeCode = 3 | 11 | 14;

export type Ending = { kind: 'bye'; code: ByeCode; text: string } | { kind: 'close' } | { kind: 'banner'; text: string };

/** One connection from `localAddress` in namespace `ns` to sshd on `host`, ended as `how`. */
export async function endConnection(ns: string, host: string, port: number, localAddress: string, how: Ending): Promise<void> {
  const extra = how.kind === 'bye' ? [String(how.code), how.text] : how.kind === 'banner' ? [how.text] : [];
  const [cmd, args] = Testbed.wrap(ns, process.execPath, [SELF, how.kind, host, String(port), localAddress, ...extra]);
  const r = await run(cmd, args, { timeoutMs: 15_000 });
  if (r.stdout.trim() !== 'done') throw new Error(`ssh peer ${how.kind} from ${localAddress} to ${host}: exit ${r.code ?? r.signal}, ${r.stdout.trim()} ${r.stderr.trim()}`);
}

// ---------------------------------------------------------------- child program

/** an SSH string: length, then the bytes */
function sshString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** SSH_MSG_DISCONNECT as an unencrypted binary packet: length, padding length, payload, padding to a multiple of 8 */
function disconnectPacket(code: number, text: string): Buffer {
  const reason = Buffer.alloc(4);
  reason.writeUInt32BE(code);
  const payload = Buffer.concat([Buffer.from([1]), reason, sshString(text), sshString('')]);
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + payload.length + pad);
  head.writeUInt8(pad, 4);
  return Buffer.concat([head, payload, Buffer.alloc(pad)]);
}

function child(kind: string, host: string, port: number, localAddress: string, rest: string[]): void {
  const sock = net.connect({ host, port, localAddress });
  const finish = () => {
    console.log('done');
    process.exit(0);
  };
  sock.on('error', (e) => {
    console.log(`error ${e.message}`);
    process.exit(1);
  });
  sock.on('close', finish);
  sock.resume(); // read (and drop) what sshd sends, so its close is seen
  setTimeout(() => {
    console.log('error: sshd did not close the connection within 10 s');
    process.exit(1);
  }, 10_000).unref();
  if (kind === 'close') {
    sock.on('connect', () => sock.end());
    return;
  }
  if (kind === 'banner') {
    sock.on('connect', () => sock.write(`${rest[0]}\r\n`));
    return;
  }
  // bye: our banner, sshd's banner line, then the goodbye
  let seen = '';
  sock.on('connect', () => sock.write('SSH-2.0-libssh_0.9.6\r\n'));
  sock.on('data', (d: Buffer) => {
    if (seen.includes('\n')) return;
    seen += d.toString('latin1');
    if (seen.includes('\n')) sock.write(disconnectPacket(Number(rest[0]), rest[1] ?? ''));
  });
}

const [kind, host, port, localAddress, ...rest] = process.argv.slice(2);
if (kind !== undefined && host !== undefined && port !== undefined && localAddress !== undefined) child(kind, host, Number(port), localAddress, rest);
