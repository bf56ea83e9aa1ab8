/**
 * The `banban` command's V8 code cache (src/bin.ts), on a copy of the built
 * command: written after a run, used by the next, and never an error when
 * it is missing or garbage.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { Script } from 'node:vm';
import Module from 'node:module';
import '../../src/match/regex-engine.js';
import { MAIN } from '../helpers/daemon-process.js';

const dir = mkdtempSync(join(tmpdir(), 'banban-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(dir, 'bin');
cpSync(dirname(MAIN), bin, { recursive: true, filter: (src) => !src.endsWith('.cache') });
const cache = join(bin, 'banban.cjs.cache');

const banban = (...args: string[]) => spawnSync(process.execPath, [join(bin, 'main.js'), ...args], { encoding: 'utf8' });

/** Whether V8 takes the cache for the program, with the flags the command sets (this file imports regex-engine too). */
function accepted(): boolean {
  const program = join(bin, 'banban.cjs');
  return new Script(Module.wrap(readFileSync(program, 'utf8')), { filename: program, cachedData: readFileSync(cache) }).cachedDataRejected === false;
}

test('the first run writes the code cache, V8 takes it, and the runs after it leave it alone', () => {
  assert.equal(existsSync(cache), false);
  const first = banban('--version');
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout.trim(), '0.1.0');
  assert.ok(existsSync(cache), 'written after the first run');
  assert.ok(accepted(), 'a cache V8 takes');
  const before = readFileSync(cache);
  const second = banban('--version');
  assert.equal(second.status, 0, second.stderr);
  assert.deepEqual(readFileSync(cache), before, 'not written again');
  assert.deepEqual(readdirSync(bin).filter((f) => f.endsWith('.tmp')), []);
});

test('a cache that is garbage is no error: the run compiles, and the cache is made anew', () => {
  writeFileSync(cache, 'not a code cache');
  const r = banban('check', '-c', join(dir, 'missing.yml'));
  assert.equal(r.status, 78, 'the program ran as usual (a missing config is a config error)');
  assert.match(r.stderr, /missing\.yml/);
  assert.notEqual(readFileSync(cache, 'utf8'), 'not a code cache');
  assert.ok(accepted());
});
