/**
 * Log injection against every shipped pattern: examples/banban.yml and every
 * preset. Each corpus line (test/corpus/injection.jsonl) holds attacker text
 * that puts a second address where a careless pattern would capture it.
 * Whatever a shipped pattern matches, the address it takes must be the real
 * peer; a line with no real peer (`"real": null`) must not match at all.
 * Not matching a line is allowed here (the preset scores measure coverage).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { parseSyslogLine } from '../../src/source/syslog-line.js';
import { BanEngine } from '../../src/track/ban-engine.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const corpus = readFileSync(join(root, 'test', 'corpus', 'injection.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as { real: string | null; desc: string; line: string });

function shippedConfigs(): [string, Config][] {
  const out: [string, Config][] = [['examples/banban.yml', loadConfig(join(root, 'examples', 'banban.yml')).config]];
  const presets = join(root, 'presets');
  if (existsSync(presets)) {
    for (const f of readdirSync(presets).filter((n) => n.endsWith('.yml')).sort()) {
      const name = f.slice(0, -4);
      out.push([`presets/${f}`, parseConfig(`include: [${name}]\n`, join(root, 'injection-test.yml')).config]);
    }
  }
  return out;
}

for (const [name, config] of shippedConfigs()) {
  test(`${name}: injected addresses are never captured`, () => {
    const engine = new BanEngine(config);
    for (const c of corpus) {
      const v = engine.handle(parseSyslogLine(c.line).text, 0).verdict;
      const got = v.kind === 'good' ? [v.ip.text] : v.kind === 'bad' ? v.offences.map((o) => o.ip.text) : [];
      for (const ip of got) assert.equal(ip, c.real, `${c.desc}: captured ${ip} from ${c.line}`);
    }
  });
}

test('the corpus is not empty and every line parses', () => {
  assert.ok(corpus.length >= 15);
  for (const c of corpus) assert.notEqual(parseSyslogLine(c.line).format, 'bare', c.desc);
});

test('the corpus catches a careless pattern (so the checks above can fail)', () => {
  const careless = parseConfig(
    "blocktypes:\n  ssh:\n    patterns: ['sshd\\[\\d+\\]: Failed password for .*? from (?<ip>[0-9.]+)', 'Invalid user .*? from (?<ip>[0-9.]+)']\n",
    join(root, 'careless.yml'),
  ).config;
  const engine = new BanEngine(careless);
  const wrong = corpus.filter((c) => {
    const v = engine.handle(parseSyslogLine(c.line).text, 0).verdict;
    return v.kind === 'bad' && v.offences.some((o) => o.ip.text !== c.real);
  });
  assert.ok(wrong.length >= 3, `only ${wrong.length} wrong captures`);
});
