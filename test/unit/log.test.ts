import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { GatheredLines, LOG_BUFFER, LOG_FLUSH_MS, priorityPrefix, stdoutIsJournal } from '../../src/lib/log.js';

/** Stands in for pino's SonicBoom: records what it is handed, and when it is flushed. */
function recorder() {
  const chunks: string[] = [];
  const events: string[] = [];
  const out = {
    sync: false,
    write: (chunk: string) => chunks.push(`${out.sync ? 'sync:' : ''}${chunk}`),
    flush: (cb?: (err?: Error | null) => void) => {
      events.push('flush');
      cb?.();
    },
    flushSync: () => events.push('flushSync'),
  };
  return { chunks, events, out };
}

test('log lines are handed on in order, a chunk of at least LOG_BUFFER bytes at a time', () => {
  const r = recorder();
  const g = new GatheredLines(r.out);
  const lines = Array.from({ length: 500 }, (_, i) => `{"i":${i},"msg":"blocked","ip":"192.0.2.${i & 255}"}\n`);
  for (const l of lines) g.write(l);
  assert.ok(r.chunks.length >= 2, 'handed in chunks as it went');
  for (const c of r.chunks) assert.ok(c.length >= LOG_BUFFER && c.length < LOG_BUFFER + 64, `a chunk of ${c.length} characters`);
  g.flush();
  assert.equal(r.chunks.join(''), lines.join(''), 'every line, once, in order');
  assert.deepEqual(r.events, ['flush']);
});

test('a lone log line is handed on within LOG_FLUSH_MS, and flush hands on what is left before it calls back', async () => {
  const r = recorder();
  const g = new GatheredLines(r.out);
  g.write('{"msg":"started"}\n');
  assert.deepEqual(r.chunks, [], 'gathered first');
  await sleep(LOG_FLUSH_MS + 100);
  assert.deepEqual(r.chunks, ['{"msg":"started"}\n']);
  g.write('{"msg":"stopped"}\n');
  let handed: string[] = [];
  g.flush(() => (handed = [...r.chunks]));
  assert.deepEqual(handed, ['{"msg":"started"}\n', '{"msg":"stopped"}\n']);
  g.write('{"msg":"fatal"}\n');
  g.flushSync(); // at exit: written on this thread, whatever stdout is
  assert.deepEqual(r.events, ['flush', 'flushSync']);
  assert.deepEqual(r.chunks.slice(2), ['sync:{"msg":"fatal"}\n'], 'handed once, to a writer made synchronous');
});

test('under journald each JSON line starts with its syslog priority; journald is told apart by $JOURNAL_STREAM naming stdout', () => {
  assert.equal(priorityPrefix('{"level":60,"msg":"x"}'), '<2>');
  assert.equal(priorityPrefix('{"level":50,"msg":"x"}'), '<3>');
  assert.equal(priorityPrefix('{"level":40,"msg":"x"}'), '<4>');
  assert.equal(priorityPrefix('{"level":30,"msg":"x"}'), '<6>');
  assert.equal(priorityPrefix('{"level":20,"msg":"x"}'), '<7>');
  const stdout = () => ({ dev: 21, ino: 4242 });
  assert.equal(stdoutIsJournal({ JOURNAL_STREAM: '21:4242' }, stdout), true);
  assert.equal(stdoutIsJournal({ JOURNAL_STREAM: '21:4243' }, stdout), false, 'inherited, but stdout goes elsewhere');
  assert.equal(stdoutIsJournal({}, stdout), false);
  const out: string[] = [];
  const g = new GatheredLines({ write: (c: string) => out.push(c), flush: (cb) => cb?.(), flushSync: () => undefined }, { priorities: true });
  g.write('{"level":50,"msg":"list BLOCKER does not exist"}\n');
  g.write('{"level":30,"msg":"blocked"}\n');
  g.flushSync();
  assert.equal(out.join(''), '<3>{"level":50,"msg":"list BLOCKER does not exist"}\n<6>{"level":30,"msg":"blocked"}\n');
});
