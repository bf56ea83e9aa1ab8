/**
 * What one SMTP connection counts with the shipped postfix preset, on lines
 * a real Postfix wrote: fixtures/postfix-3.7-connections.log is Debian 12's
 * postfix 3.7.11 (master, smtpd with Cyrus SASL) as syslog received it on
 * the development machine on 2026-12-01 (host name set to mx1), while a
 * small SMTP client failed AUTH LOGIN and hung up, failed it and said QUIT,
 * or connected and hung up at once, from 127.0.0.2 and 127.0.0.3.
 *
 * Two things in it the preset must get right, both visible in the file:
 * smtpd writes two lines for a client that hangs up after a failed AUTH
 * (`lost connection after AUTH`, then `disconnect ... auth=0/1`), and one
 * smtpd process serves one connection after another (pid 10469 and 10979
 * each serve several of 127.0.0.2's). So the end of each connection counts
 * once: the first end line after its `connect from` (a sessionpattern).
 *
 * The same rule runs against a live postfix in test/e2e/postfix.test.ts,
 * and sshd's side of it against a live sshd in test/e2e/ssh-ends.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/daemon-process.js';

/** dist/test/presets -> the repo root: fixtures are not copied by tsc */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LOG = path.join(ROOT, 'test/presets/fixtures/postfix-3.7-connections.log');

test("a postfix connection's end counts once, and the next connection of the same smtpd process ends anew", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'banban-ends-'));
  try {
    const config = path.join(dir, 'banban.yml');
    writeFileSync(config, 'include: [postfix]\nblocktypes: {postfix: {minocc: 1000}}\n');
    const res = await runCli(['test', '--json', '--year', '2026', '-c', config, LOG]);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as { matches: { line: number; kind: string }[]; repeated: { line: number }[] };

    // Each line's connection: its process, and how many `connect from` that process had written by then.
    const lines = readFileSync(LOG, 'utf8').split('\n').filter((l) => l !== '');
    const seen = new Map<string, number>();
    const connectionOf = lines.map((l) => {
      const pid = /smtpd\[(\d+)\]: /.exec(l)![1]!;
      if (/: connect from /.test(l)) seen.set(pid, (seen.get(pid) ?? 0) + 1);
      return `${pid}#${seen.get(pid) ?? 0}`;
    });
    const tally = new Map<string, { counted: number; repeated: number }>([...new Set(connectionOf)].map((c) => [c, { counted: 0, repeated: 0 }]));
    for (const m of report.matches) if (m.kind === 'bad') tally.get(connectionOf[m.line - 1]!)!.counted++;
    for (const r of report.repeated) tally.get(connectionOf[r.line - 1]!)!.repeated++;

    assert.deepEqual(Object.fromEntries(tally), {
      // AUTH failed, hung up: the failure, and one end of the two lines
      '10469#1': { counted: 2, repeated: 1 },
      // the same process, the same client, a new connection: AUTH failed, QUIT; its end counts again
      '10469#2': { counted: 2, repeated: 0 },
      // still open when the log was taken
      '10774#1': { counted: 0, repeated: 0 },
      // connected and hung up: `lost connection after CONNECT` (the `disconnect ... commands=0/0` after it is no offence)
      '10979#1': { counted: 1, repeated: 0 },
      '10979#2': { counted: 1, repeated: 0 },
      '10979#3': { counted: 2, repeated: 1 },
      '11106#1': { counted: 2, repeated: 1 },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
