/**
 * ip_list_tot when xt_recent loads after banban: a host whose xt_recent is
 * a module loads it with the first `-m recent` rule, which may come after
 * the daemon started. The daemon, in this process, on a folder standing
 * for /proc/net/xt_recent and a file standing for the module's parameter.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Daemon } from '../../src/daemon.js';
import { sendDatagrams } from '../helpers/daemon-process.js';
import { logCollector } from '../helpers/values.js';

const failed = (ip: string) => `<38>Nov 22 06:25:01 web1 sshd[812]: Failed password for invalid user admin from ${ip} port 50022 ssh2`;

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('ip_list_tot unknown at start is read once a list exists, and a list past it is then warned about', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'banban-capacity-'));
  const proc = join(dir, 'proc');
  mkdirSync(proc);
  const tot = join(dir, 'ip_list_tot'); // not there: the module is not loaded
  const sock = join(dir, 'banban.sock');
  const conf = join(dir, 'banban.yml');
  writeFileSync(
    conf,
    `socket: ${sock}\nproc_dir: ${proc}\nstate_file: ${join(dir, 'state.json')}\nignorenets: [127.0.0.0/8]\nblocktypes:\n  ssh:\n    target: BLOCKER\n    minocc: 1\n    interval: 600\n    patterns:\n      - '^sshd\\[\\d+\\]: Failed password for (?:invalid user )?\\S* from (?<ip>[0-9A-Fa-f:.]+) port \\d+ ssh2$'\n`,
  );
  const { lines, log } = logCollector();
  const d = Daemon.start({ configFile: conf, log, ipListTotPath: tot, watchMs: 50, verifyMs: 60_000 });
  try {
    assert.ok(lines.some((l) => String(l.msg).startsWith('xt_recent ip_list_tot unknown (module not loaded yet')));
    // the first rule loads the module, and the list appears
    writeFileSync(tot, '2\n');
    writeFileSync(join(proc, 'BLOCKER'), '');
    await until('the capacity read', () => lines.some((l) => l.msg === 'kernel list capacity (xt_recent loaded since start)' && l['ip_list_tot'] === 2));
    await sendDatagrams(sock, [failed('192.0.2.1'), failed('192.0.2.2'), failed('192.0.2.3')]);
    await until('the warning', () => lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('list BLOCKER now has more active bans than the kernel keeps (ip_list_tot=2)')));
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
