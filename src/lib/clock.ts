/** The daemon's clock: monotonic milliseconds, immune to NTP steps and DST. */
import { performance } from 'node:perf_hooks';

export type Clock = () => number;

export const monotonicMs: Clock = () => performance.now();
