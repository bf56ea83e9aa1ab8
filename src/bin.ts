#!/usr/bin/env node
/**
 * The `banban` command (package.json bin: dist/bin/main.js, this file
 * bundled). It runs the program, main.ts bundled as dist/bin/banban.cjs,
 * with a V8 code cache kept beside it (banban.cjs.cache), so that Node does
 * not parse and compile 700 kB of JavaScript again on every start: 15 ms of
 * about 100 ms here, and `banban test` needs the start-up to stay ahead of
 * sshguard (README, Benchmarks, 2).
 *
 * The cache is written when a run ends, if there was none or V8 refused it
 * (V8 checks it against the source, its own version and its flags), and
 * only if the folder is writable: the daemon's unit makes it read-only, and
 * then nothing is written. Best effort either way: a cache that cannot be
 * read or written is never an error, the program just compiles.
 */
// V8's flags must be the same when the cache is made (at exit) as when it is used (here): the
// program sets its regex flags when it starts, so they are set before it is compiled.
import './match/regex-engine.js';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { ExitCode } from './lib/exit-codes.js';

const here = dirname(fileURLToPath(import.meta.url));
const program = join(here, 'banban.cjs');
const cacheFile = `${program}.cache`;

let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // none yet
}
let source: string;
try {
  source = readFileSync(program, 'utf8');
} catch (err) {
  process.stderr.write(`banban: cannot read ${program} (${(err as Error).message}): the installation is incomplete; build it again (npm ci, or npm run build)\n`);
  process.exit(ExitCode.SOFTWARE);
}
const script = new Script(Module.wrap(source), { filename: program, cachedData });
if (cachedData === undefined || script.cachedDataRejected === true) process.once('exit', writeCache);

const module = { exports: {} };
const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
run.call(module.exports, module.exports, createRequire(program), module, program, here);

/** After a run, the cache holds every function the run compiled, not only the top level. */
function writeCache(): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
    renameSync(tmp, cacheFile);
  } catch {
    rmSync(tmp, { force: true });
  }
}
