/**
 * The shell that starts conntrack for the daemon (src/enforce/spawn-helper.ts):
 * arguments arrive verbatim, never expanded; one shell serves every call;
 * a hung program is killed with its shell and the next call gets a new one.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SpawnHelper } from '../../src/enforce/spawn-helper.js';

const helpers: SpawnHelper[] = [];
after(() => {
  for (const h of helpers) h.close();
});
function helper(opts: ConstructorParameters<typeof SpawnHelper>[0] = {}): SpawnHelper {
  const h = new SpawnHelper(opts);
  helpers.push(h);
  return h;
}

/** the program's stdout, line by line, and its status */
async function lines(h: SpawnHelper, command: string, args: string[]): Promise<{ code: number; out: string[]; stderr: string }> {
  const out: string[] = [];
  const r = await h.run(command, args, (l) => out.push(l));
  return { code: r.code, out, stderr: r.stderr };
}

test('arguments reach the program as given: nothing in them is expanded, split or run by the shell', async () => {
  const h = helper();
  const tricky = ['two words', '$HOME', '*', "'q'", '"dq"', '`id`', '$(id)', ';', '|', '\\', '-n', '2001:db8::1'];
  const r = await lines(h, 'printf', ['%s\\n', ...tricky]);
  assert.equal(r.code, 0);
  assert.deepEqual(r.out, tricky);
});

test('exit status and standard error come back; standard output only when asked for', async () => {
  const h = helper();
  const r = await h.run('/bin/sh', ['-c', 'echo out; echo "err  two" >&2; exit 3']);
  assert.deepEqual(r, { code: 3, stderr: 'err  two\n' });
  const big = await lines(h, '/bin/sh', ['-c', 'seq 1 50000']);
  assert.equal(big.out.length, 50000, 'a long output is handed over whole');
  assert.equal(big.out[49999], '50000');
});

test('one shell, forked once, starts every program, at nice 19', async () => {
  const h = helper();
  h.start();
  const a = await lines(h, '/bin/sh', ['-c', 'echo $PPID']);
  const b = await lines(h, '/bin/sh', ['-c', 'echo $PPID']);
  assert.equal(a.out[0], b.out[0], 'both programs have the same parent');
  assert.notEqual(a.out[0], String(process.pid), 'and it is not this process');
  assert.deepEqual((await lines(h, 'nice', [])).out, ['19']);
});

test('a program that does not exist fails with ENOENT, and the shell goes on', async () => {
  const h = helper();
  await assert.rejects(h.run('/nonexistent/conntrack', ['-L']), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && /not found/.test(e.message));
  assert.equal((await h.run('true', [])).code, 0);
});

test('an empty argument, or one holding a tab or a line break, is refused before anything runs', async () => {
  const h = helper();
  for (const bad of ['', 'a\tb', 'a\nb', 'a\rb']) {
    await assert.rejects(h.run('echo', ['x', bad]), /cannot pass .* to the helper shell/);
  }
  assert.equal(h.pending, 0);
});

test('a program that outlives the timeout is killed with its shell; the calls waiting behind it fail; the next call gets a new shell', async () => {
  const h = helper({ timeoutMs: 300 });
  const marker = `/tmp/banban-spawn-test-${process.pid}`;
  const hung = h.run('/bin/sh', ['-c', `sleep 2; touch ${marker}`]);
  const behind = h.run('true', []);
  await assert.rejects(hung, /did not end within 0.3 s; it was killed/);
  await assert.rejects(behind, /did not end within/);
  assert.equal((await h.run('true', [])).code, 0, 'a new shell answers');
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(existsSync(marker), false, 'the hung program died with its shell');
});

test('close ends the shell, which removes its folder and nothing else; later calls are refused', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'banban-spawn-test-'));
  const program = join(scratch, 'program');
  writeFileSync(program, '#!/bin/sh\necho $PPID\n', { mode: 0o755 });
  const tmp = process.env['TMPDIR'];
  process.env['TMPDIR'] = scratch; // the shell's folder is made in here
  const h = helper();
  let pid: string;
  try {
    h.start();
  } finally {
    if (tmp === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = tmp;
  }
  try {
    pid = (await lines(h, program, [])).out[0]!;
    assert.equal(readdirSync(scratch).length, 2, 'the program and the shell\'s folder');
    h.close();
    await assert.rejects(h.run('true', []), /closed/);
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(existsSync(`/proc/${pid}`), false, `shell ${pid} still running`);
    assert.deepEqual(readdirSync(scratch), ['program'], 'the folder is gone; the program the last call ran is still there');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('a helper shell that cannot start fails each call with a message naming it, not as a missing program', async () => {
  const h = helper({ shell: '/nonexistent/sh' });
  await assert.rejects(h.run('true', []), (e: NodeJS.ErrnoException) => e.code === undefined && /could not start the helper shell \/nonexistent\/sh/.test(e.message));
});

test('no temporary folder to work in: starting throws nothing, each call fails saying why, and a later call starts the shell once it can', async () => {
  const tmp = process.env['TMPDIR'];
  const h = helper();
  try {
    process.env['TMPDIR'] = '/nonexistent/banban-tmp';
    h.start(); // the daemon calls this in its constructor: it must not throw
    await assert.rejects(h.run('true', []), /could not start the helper shell \/bin\/sh: .*ENOENT.*\/nonexistent\/banban-tmp/);
  } finally {
    if (tmp === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = tmp;
  }
  assert.equal((await h.run('true', [])).code, 0);
});
