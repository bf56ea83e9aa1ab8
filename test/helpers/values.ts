/** Small makers of values that many unit tests need. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { parseIp, type ParsedIp } from '../../src/lib/ip.js';
import { createLogger, type Logger } from '../../src/lib/log.js';

/** A parsed address; fails the test if the text is not one. */
export function ip(text: string): ParsedIp {
  const r = parseIp(text);
  assert.ok(r.ok, `${text} is not an address`);
  return r.value;
}

/** A logger whose JSON lines are collected in `lines`, parsed. */
export function logCollector(): { lines: Record<string, unknown>[]; log: Logger } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: createLogger({ format: 'json', destination: destination as never }) };
}
