/**
 * A matching thread that never says it started and never answers (a hung
 * start): for the start-stall test in match-thread.test.ts.
 */
setInterval(() => {}, 60_000);
