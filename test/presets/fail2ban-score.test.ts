/**
 * Scores the shipped presets on fail2ban's filter test logs.
 *
 * For each service, the lines of fail2ban's log that hold for the chosen
 * filter mode are turned into syslog lines (see lib/fail2ban.ts) and
 * replayed through the real CLI, `banban test --json`, with a config that
 * includes the preset and sets `minocc: 1` on its blocktypes: every match
 * is then a block, so matches are scored independently of thresholds.
 *
 *   - a `match: true` line whose host is a literal address must give a bad
 *     match with that address;
 *   - no line may give a bad match (a block) with any other address, and a
 *     `match: false` line none at all;
 *   - no address may be blocked that no line expects.
 *
 * Some `match: true` lines carry no address at all: fail2ban joins them to
 * an earlier line of the same sshd process ("Connection from ADDR", then
 * "fatal: Read from socket failed ..."). banban matches single lines, so
 * those lines are counted in the table ("address only on an earlier line")
 * but left out of the share the goal applies to.
 *
 * The logs come from Debian's fail2ban package: test/presets/setup-fail2ban.sh
 * unpacks them without installing fail2ban. Without them the test fails
 * when CI=true and is skipped otherwise.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { PRESET_DIR } from '../../src/config/load.js';
import { runCli } from '../helpers/daemon-process.js';
import { findLogDir, LOG_DIRS, parseCases, score, SERVICES, type ReplayJson, type Score, type Service } from './lib/fail2ban.js';

const logDir = findLogDir();
/** dist/test/presets -> the repo root */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Row {
  service: Service;
  s: Score;
}

async function scoreService(service: Service, dir: string, work: string): Promise<Row> {
  const cases = parseCases(readFileSync(path.join(dir, service.file), 'utf8'), service.file, service);
  const preset = parse(readFileSync(path.join(PRESET_DIR, `${service.preset}.yml`), 'utf8')) as { blocktypes: Record<string, unknown> };
  const config = path.join(work, `${service.preset}.yml`);
  const log = path.join(work, `${service.preset}.log`);
  writeFileSync(
    config,
    [`include: [${service.preset}]`, 'blocktypes:', ...Object.keys(preset.blocktypes).map((name) => `  ${name}: {minocc: 1}`), ''].join('\n'),
  );
  writeFileSync(log, `${cases.map((c) => c.line).join('\n')}\n`);
  const res = await runCli(['test', '--json', '--year', '2005', '-c', config, log]);
  assert.equal(res.code, 0, `banban test failed for ${service.preset}: ${res.stderr}`);
  const report = JSON.parse(res.stdout) as ReplayJson;
  assert.equal(report.lines, cases.length);
  return { service, s: score(cases, report) };
}

const pct = (n: number, d: number): string => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`);

function table(rows: Row[]): string {
  const out = [
    '| service | fail2ban log (mode) | lines with an IP host | matched | share | `match: false` lines | wrong address |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const { service, s } of rows) {
    out.push(`| ${service.preset} | \`${service.file}\` (${service.mode}) | ${s.ipLines} | ${s.matched} | ${pct(s.matched, s.ipLines)} | ${s.noMatchLines} | ${s.wrong} |`);
  }
  return out.join('\n');
}

test("the presets match fail2ban's test logs, with the right address", async (t) => {
  if (logDir === undefined) {
    const why = `fail2ban's test logs are missing (looked in ${LOG_DIRS.join(', ')}); run test/presets/setup-fail2ban.sh`;
    if (process.env['CI'] === 'true') assert.fail(why);
    console.log(`SKIPPED fail2ban scoring: ${why}`);
    t.skip(why);
    return;
  }
  const work = mkdtempSync(path.join(tmpdir(), 'banban-f2b-'));
  try {
    const rows = await Promise.all(SERVICES.map((svc) => scoreService(svc, logDir, work)));
    const current = table(rows);
    console.log(`fail2ban logs: ${logDir}\n${current}`);
    for (const { service, s } of rows) if (s.repeats > 0) console.log(`${service.preset}: ${s.repeats} of the matched lines are ends not counted again (their process id ended a case before)`);
    for (const { service, s } of rows) {
      await t.test(service.preset, () => {
        const details = [
          ...s.wrongCases.map((w) => `  wrong: ${service.file}:${w.c.srcLine} expected ${w.c.match ? w.c.ip ?? w.c.host : 'no match'}, got ${w.got.join(', ')}: ${w.c.line}`),
          ...s.misses.map((c) => `  missed: ${service.file}:${c.srcLine} (${c.ip}): ${c.line}`),
        ].join('\n');
        assert.ok(s.ipLines > 0, `no scorable lines in ${service.file} for mode ${service.mode}`);
        assert.equal(s.wrong, 0, `${service.preset}: lines with a wrong address:\n${details}`);
        assert.deepEqual(s.wrongBlocks, [], `${service.preset}: blocked addresses no line expects`);
        assert.ok(
          s.matched >= service.goal * s.ipLines,
          `${service.preset}: matched ${s.matched} of ${s.ipLines} lines (${pct(s.matched, s.ipLines)}), goal ${service.goal * 100}%:\n${details}`,
        );
      });
    }
    await t.test("the README's table is the current one", () => {
      const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
      for (const row of current.split('\n')) assert.ok(readme.includes(`${row}\n`), `README's Presets table lacks the row:\n${row}\n(the whole table:)\n${current}`);
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
