/**
 * Run by state-save-thread.test.ts as `node --allow-natives-syntax` (V8's
 * test intrinsics, reached through `new Function`): makes a saving thread,
 * then gets a function that reads a typed array optimized, as the daemon's
 * hot path is by the time of its first save, then saves (which hands buffers
 * over, detaching them). Prints whether the function was optimized before
 * and after the save, as JSON.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { rmSync } from 'node:fs';
import { packBans } from '../../src/enforce/ban-columns.js';
import { MAX_STATE_CHARS } from '../../src/state/state-file.js';
import { StateSaveThread } from '../../src/state/state-save-thread.js';
import { OffenceWindows } from '../../src/track/offence-windows.js';
import { ip } from '../helpers/values.js';

const intrinsic = (name: string) => new Function('f', `return %${name}(f);`) as (f: unknown) => number;
const OPTIMIZED = 16; // V8's OptimizationStatus::kOptimized

const t = new StateSaveThread();
const hot = (u: Uint8Array): number => u[0]! + u[1]! + u.length;
const bytes = new Uint8Array([1, 2, 3]);
intrinsic('PrepareFunctionForOptimization')(hot);
hot(bytes);
hot(bytes);
intrinsic('OptimizeFunctionOnNextCall')(hot);
hot(bytes);
const before = (intrinsic('GetOptimizationStatus')(hot) & OPTIMIZED) !== 0;

const w = new OffenceWindows(100);
w.record('ssh', ip('192.0.2.1'), 1000, 600_000, 5);
const snap = w.snapshot();
const path = join(tmpdir(), `banban-first-save-${process.pid}.json`);
const out = await t.save({ path, wall: 1, mono: 0, windows: snap, bans: packBans([], 0), maxChars: MAX_STATE_CHARS });
rmSync(path, { force: true });
hot(bytes);
const after = (intrinsic('GetOptimizationStatus')(hot) & OPTIMIZED) !== 0;
console.log(JSON.stringify({ before, after, saved: out.kind, detached: snap[0]!.view.keys.byteLength === 0 }));
await t.close();
