#!/usr/bin/env node
/**
 * Entry point of the `banban` command: process.argv in, exit code out.
 */
import { setFlagsFromString } from 'node:v8';

// Patterns come from admins and the text from attackers. With this flag V8
// falls back to its linear-time engine when a match backtracks too much, so a
// pattern with nested quantifiers cannot stall the daemon on a crafted line.
// It must be set before any pattern runs, hence the dynamic import below.
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

const { main } = await import('./cli.js');
const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
process.exitCode = code;
// `run` has closed its socket and timers by now; anything else left (a
// conntrack child) must not hold the process past its exit.
if (process.argv[2] === 'run') setTimeout(() => process.exit(code), 500).unref();
