/**
 * The build-time cache of the shipped presets (src/config/preset-cache.ts)
 * must give exactly what reading their YAML gives, and give way to the
 * YAML whenever it cannot be trusted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseConfig, PRESET_DIR, presetsFromCache, readIncluded, shippedPresets, writePresetCache, type IncludedPart } from '../../src/config/load.js';
import { cacheEntry, cacheText, PresetCache } from '../../src/config/preset-cache.js';
import type { Rule } from '../../src/config/schema.js';
import { patternLiterals, ruleLiterals } from '../../src/match/prefilter.js';

const dir = mkdtempSync(path.join(tmpdir(), 'banban-preset-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** RegExps compared by what they are, not by identity; a rule's literals (the cache's alone) left out: a test of their own holds them */
function plain(part: IncludedPart | undefined): unknown {
  return JSON.parse(JSON.stringify(part, (k, v: unknown) => (k === 'literals' ? undefined : v instanceof RegExp ? { re: v.source, flags: v.flags } : v)));
}

/** every rule of a part */
const rulesOf = (part: IncludedPart): Rule[] => [...part.goodpatterns, ...part.sessionpatterns, ...part.blocktypes.flatMap((b) => [...(b.patterns ?? []), ...(b.endpatterns ?? [])])];

const presetFile = (name: string) => path.join(PRESET_DIR, `${name}.yml`);

test('every shipped preset comes out of the cache as the loader reads it from its YAML', () => {
  const file = path.join(dir, 'presets.cache.json');
  writePresetCache(file);
  const cache = new PresetCache(file);
  const names = shippedPresets();
  assert.ok(names.length >= 10, names.join(', '));
  for (const name of names) {
    const text = readFileSync(presetFile(name), 'utf8');
    const cached = cache.get(name, text, presetFile(name));
    assert.notEqual(cached, undefined, name);
    assert.deepEqual(plain(cached), plain(readIncluded(name, text, presetFile(name))), name);
    // and the rules work: a fresh RegExp each, with the loader's flags
    for (const r of [...cached!.goodpatterns, ...cached!.blocktypes.flatMap((b) => b.patterns ?? [])]) assert.ok(r.regex instanceof RegExp && !r.regex.global, r.where);
  }
});

test("every cached rule carries the literals the matcher would work out from its pattern, and uses them", () => {
  const file = path.join(dir, 'literals.cache.json');
  writePresetCache(file);
  const cache = new PresetCache(file);
  let n = 0;
  for (const name of shippedPresets()) {
    const text = readFileSync(presetFile(name), 'utf8');
    for (const r of rulesOf(cache.get(name, text, presetFile(name))!)) {
      assert.deepEqual(r.literals, patternLiterals(r.regex.source, r.regex.flags), r.where);
      assert.equal(ruleLiterals(r), r.literals, `${r.where}: the matcher takes them as they are`);
      n++;
    }
    // read from the YAML, a rule has none, and the matcher works them out
    for (const r of rulesOf(readIncluded(name, text, presetFile(name)))) assert.equal(r.literals, undefined, r.where);
  }
  assert.ok(n >= 70, `${n} rules`);
});

test('a preset edited in place is read from its YAML, not the cache', () => {
  const file = path.join(dir, 'edited.cache.json');
  writePresetCache(file);
  const text = readFileSync(presetFile('sshd'), 'utf8');
  const cache = new PresetCache(file);
  assert.equal(cache.get('sshd', `${text}\n`, presetFile('sshd')), undefined);
  assert.equal(cache.get('sshd', text.replace('minocc: 5', 'minocc: 4'), presetFile('sshd')), undefined);
  assert.equal(cache.get('no-such-preset', text, presetFile('sshd')), undefined);
  assert.notEqual(cache.get('sshd', text, presetFile('sshd')), undefined);
});

test("problems and blocktypes name the file read now, with the cached lines (a package built in one place, run from another)", () => {
  const text = [
    'goodpatterns:',
    "  - '^svc\\[\\d+\\]: ok .*? from (?<ip>\\S+)'",
    'blocktypes:',
    '  svc:',
    '    minocc: 2',
    '    patterns:',
    "      - '^svc\\[\\d+\\]: bad .*? from (?<ip>\\S+)'",
    '',
  ].join('\n');
  const built = '/build/place/presets/svc.yml';
  const here = '/usr/lib/node_modules/banban/presets/svc.yml';
  const part = readIncluded('svc', text, built);
  assert.ok(part.problems.length >= 2, 'the lazy .*? patterns are warned about'); // the test needs problems to map
  const file = path.join(dir, 'moved.cache.json');
  writeFileSync(file, cacheText({ svc: cacheEntry(text, built, part) }));
  const cached = new PresetCache(file).get('svc', text, here);
  assert.deepEqual(plain(cached), plain(readIncluded('svc', text, here)));
  assert.ok(cached!.problems.every((p) => p.file === here && p.source === text && p.line > 0));
  assert.equal(cached!.blocktypes[0]!.at, `${here}:4`);
});

test('a cache made by another V8 or format, or one that is damaged, is ignored and never throws', () => {
  const text = readFileSync(presetFile('sshd'), 'utf8');
  const good = path.join(dir, 'good.cache.json');
  writePresetCache(good);
  const c = JSON.parse(readFileSync(good, 'utf8')) as { format: number; v8: string; presets: Record<string, Record<string, unknown>> };
  const variants: [string, string][] = [
    ['other V8', JSON.stringify({ ...c, v8: '9.9.9' })],
    ['other format', JSON.stringify({ ...c, format: c.format + 1 })],
    ['not JSON', '{"format": 1, "v8": '],
    ['null', 'null'],
    ['a list', '[]'],
    ['no presets', JSON.stringify({ format: c.format, v8: c.v8 })],
    ['a null entry', JSON.stringify({ ...c, presets: { sshd: null } })],
    ['rules not a list', JSON.stringify({ ...c, presets: { sshd: { ...c.presets['sshd'], goodpatterns: 7 } } })],
    ['a rule that is not one', JSON.stringify({ ...c, presets: { sshd: { ...c.presets['sshd'], goodpatterns: [{ source: 'x' }] } } })],
    ['a pattern V8 refuses', JSON.stringify({ ...c, presets: { sshd: { ...c.presets['sshd'], goodpatterns: [{ source: 'x', re: '(', flags: '', where: 'goodpatterns[0]', literals: {} }] } } })],
    ['a rule without its literals', JSON.stringify({ ...c, presets: { sshd: { ...c.presets['sshd'], goodpatterns: [{ source: 'x', re: 'x', flags: '', where: 'goodpatterns[0]' }] } } })],
    ['literals of the wrong type', JSON.stringify({ ...c, presets: { sshd: { ...c.presets['sshd'], goodpatterns: [{ source: 'x', re: 'x', flags: '', where: 'goodpatterns[0]', literals: { prefixes: 'sshd' } }] } } })],
    // well-typed but not what patternLiterals gives: each would ask the rule of no line at all
    ...[{ prefixes: [] }, { prefixes: [''] }, { words: [] }, { prefix: 'sshd', prefixes: ['ssh'] }, { prefix: '' }].map(
      (l): [string, string] => [`literals ${JSON.stringify(l)}`, JSON.stringify({ ...c, presets: { sshd: { ...c.presets['sshd'], goodpatterns: [{ source: 'x', re: 'x', flags: '', where: 'goodpatterns[0]', literals: l }] } } })],
    ),
  ];
  for (const [what, body] of variants) {
    const file = path.join(dir, 'bad.cache.json');
    writeFileSync(file, body);
    assert.equal(new PresetCache(file).get('sshd', text, presetFile('sshd')), undefined, what);
  }
  assert.equal(new PresetCache(path.join(dir, 'missing.json')).get('sshd', text, presetFile('sshd')), undefined, 'missing');
});

test('the build writes the cache where the loader looks, and the loader uses it', () => {
  const before = presetsFromCache();
  const names = shippedPresets();
  const { config } = parseConfig(`include: [${names.join(', ')}]\n`, path.join(dir, 'all.yml'), { passwdText: '', groupText: '' });
  assert.equal(presetsFromCache() - before, names.length, 'npm run build writes dist/bin/presets.cache.json (config/write-preset-cache.ts)');
  assert.equal(config.blocktypes.length, names.length);
});
