/** examples/banban.service is a valid unit, and as locked down as systemd can tell. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
if (!analyze) console.log('# SKIPPED systemd unit checks: systemd-analyze is not installed (apt-get install systemd)');

test('the shipped systemd unit verifies and scores at most 3.0 on systemd-analyze security', { skip: !analyze && 'no systemd-analyze' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'banban-unit-'));
  try {
    // verify checks that ExecStart binaries exist in systemd's search path: point them at one that does, by name as the unit does.
    const shipped = readFileSync(join(root, 'examples', 'banban.service'), 'utf8');
    assert.match(shipped, /^ExecStart=banban run /m);
    const unit = shipped.replace(/^(ExecStart(?:Pre)?=|ExecReload=)banban /gm, '$1true ');
    writeFileSync(join(dir, 'banban.service'), unit);
    execFileSync('systemd-analyze', ['verify', join(dir, 'banban.service')], { stdio: 'pipe' });
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', join(dir, 'banban.service')], { encoding: 'utf8' });
    const m = /exposure level for banban\.service: ([0-9.]+)/.exec(out);
    assert.ok(m, out.slice(-500));
    assert.ok(Number(m[1]) <= 3.0, `exposure ${m[1]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the unit stops on a bad config rather than restarting it, and a reload with a bad config fails', () => {
  const unit = readFileSync(join(root, 'examples', 'banban.service'), 'utf8');
  const values = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);
  // systemd looks up RestartPreventExitStatus in the main process's status only: a config check in
  // ExecStartPre that exits 78 would be restarted every RestartSec, for ever
  assert.deepEqual(values('ExecStartPre'), []);
  assert.ok(values('RestartPreventExitStatus').join(' ').split(/\s+/).includes('78'), 'banban run exits 78 on a config error');
  const reload = values('ExecReload');
  assert.match(reload[0] ?? '', /^banban check -c \/etc\/banban\.yml$/, 'the config is checked before the signal');
  assert.match(reload[1] ?? '', /kill -HUP \$MAINPID$/);
});
