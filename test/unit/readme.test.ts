/** Keeps the README's config reference true: every key banban reads is documented there. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, FIELDS } from '../../src/config/schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

test('every config key is in the README reference table with its default', () => {
  for (const f of FIELDS) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${f.key}\` |`));
    assert.ok(row, `README has no row for ${f.key}`);
    if (!f.default.startsWith('(')) assert.ok(row.includes(f.default), `README row for ${f.key} lacks the default ${f.default}`);
  }
  assert.ok(readme.includes(DEFAULTS.socket));
});

test('the README names the two set-up commands', () => {
  assert.match(readme, /npm ci/);
  assert.match(readme, /npm test/);
});
