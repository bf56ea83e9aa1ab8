/**
 * A password guesser's SMTP connection: EHLO, one AUTH LOGIN with a wrong
 * password, then QUIT or a hang-up. Like tcp-peer.ts, this file is both the
 * library the tests call and (run with arguments) the child program that
 * `ip netns exec` starts in the client namespace:
 *
 *   guess HOST PORT LOCALADDR quit|hangup
 *
 * It prints the server's reply to the password ("535 ...") and then "done"
 * once the server closed the connection (after QUIT) or it closed its own.
 *
 * Run without arguments (as `node --test` does) it does nothing.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Testbed } from './netns.js';
import { run } from './proc.js';

const SELF = fileURLToPath(import.meta.url);

/** One failed AUTH LOGIN from `localAddress` in namespace `ns`; resolves with the server's reply to the password. */
export async function guessSmtpPassword(ns: string, host: string, port: number, localAddress: string, end: 'quit' | 'hangup'): Promise<string> {
  const [cmd, args] = Testbed.wrap(ns, process.execPath, [SELF, 'guess', host, String(port), localAddress, end]);
  const r = await run(cmd, args, { timeoutMs: 20_000 });
  const out = r.stdout.trim().split('\n');
  if (out.at(-1) !== 'done') throw new Error(`smtp peer from ${localAddress} to ${host}: exit ${r.code ?? r.signal}, ${r.stdout.trim()} ${r.stderr.trim()}`);
  return out[0] ?? '';
}

// ---------------------------------------------------------------- child program

function guess(host: string, port: number, localAddress: string, end: string): void {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  // each step is sent once the reply to the one before is complete (its last line has a space after the code)
  const steps = ['EHLO bot.example', 'AUTH LOGIN', b64('admin'), b64('wrong-horse')];
  const sock = net.connect({ host, port, localAddress });
  let buf = '';
  let step = -1; // -1: the greeting
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (line[3] === '-') continue; // a reply's line that is not its last
      step++;
      if (step < steps.length) {
        sock.write(`${steps[step]}\r\n`);
      } else if (step === steps.length) {
        console.log(line); // the verdict on the password
        if (end === 'quit') sock.write('QUIT\r\n');
        else sock.destroy();
      }
    }
  });
  const finish = () => {
    console.log('done');
    process.exit(0);
  };
  sock.on('close', finish);
  sock.on('error', (e) => {
    console.log(`error ${e.message}`);
    process.exit(1);
  });
  setTimeout(() => {
    console.log('error: no end within 15 s');
    process.exit(1);
  }, 15_000).unref();
}

const [mode, host, port, localAddress, end] = process.argv.slice(2);
if (mode === 'guess' && host !== undefined && port !== undefined && localAddress !== undefined && end !== undefined) guess(host, Number(port), localAddress, end);
