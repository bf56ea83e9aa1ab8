/**
 * The program of the `banban` command: process.argv in, exit code out.
 * bin.ts loads it, bundled (dist/bin/banban.cjs); `node dist/src/main.js`
 * runs it as it is.
 *
 * The daemon's unit (examples/banban.service) sets
 * NODE_OPTIONS=--max-semi-space-size=1, keeping V8's young generation at
 * 1 MiB per half: a line's objects die young, and a flood of datagrams
 * otherwise grows it to 16 MiB per half for good. Measured (README,
 * Benchmarks, memory): about 40 MB less RSS after a flood, no loss of
 * throughput. It is set there, not here: V8 sizes the heap before any of
 * our code runs, and the other commands are better off without it
 * (`banban test` takes 12 % longer with it).
 */
// First, before any pattern is compiled: V8's linear-time regex fallback (see regex-engine.ts).
import './match/regex-engine.js';
import { main } from './cli.js';

// `banban test ... | head`: a reader that stops early is not an error of ours. (Not for `run`,
// whose stdout is its log: there a broken pipe must be reported like any other failure.)
if (process.argv[2] !== 'run') {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
}

// No top-level await: bin.ts runs this module bundled as CommonJS.
void main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  // Asked for only by `banban test -`: making it sets up a socket or TTY stream, which others need not pay for.
  get stdin() {
    return process.stdin;
  },
}).then((code) => {
  process.exitCode = code;
  // `run` has closed its socket and timers by now; anything else left (a
  // conntrack child) must not hold the process past its exit.
  if (process.argv[2] === 'run') setTimeout(() => process.exit(code), 500).unref();
});
