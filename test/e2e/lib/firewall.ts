/**
 * The server namespace's firewall, loaded from examples/iptables.rules.
 *
 * The tests use the example file itself, not a copy, so a broken or
 * misordered example fails the suite. The file holds one iptables-restore
 * block per family between "# BEGIN IPv4" / "# END IPv4" and "# BEGIN IPv6" /
 * "# END IPv6" lines; the only change a test may make is the `--seconds` of
 * the list check.
 *
 * Which iptables: Debian 12 defaults to the nf_tables flavour, whose
 * `-m recent` runs the same xt_recent kernel code through nft's compat layer;
 * the legacy flavour is the fallback for kernels without nf_tables.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, which } from './preflight.js';
import { run } from './proc.js';

export const EXAMPLE_RULES = join(repoRoot, 'examples', 'iptables.rules');

/** The example's list name, which the daemon's `target` must match. */
export const EXAMPLE_TARGET = 'BLOCKER';

export interface RuleBlocks {
  readonly v4: string;
  readonly v6: string;
}

/** Cuts the two restore blocks out of the example and applies `--seconds`. */
export function exampleRuleBlocks({ seconds }: { seconds?: number } = {}): RuleBlocks {
  const text = readFileSync(EXAMPLE_RULES, 'utf8');
  const block = (family: 'IPv4' | 'IPv6'): string => {
    const lines = text.split('\n');
    const start = lines.findIndex((l) => l.startsWith(`# BEGIN ${family}`));
    const end = lines.findIndex((l, i) => i > start && l.startsWith(`# END ${family}`));
    if (start < 0 || end < 0) throw new Error(`${EXAMPLE_RULES}: no "# BEGIN ${family}" ... "# END ${family}" block`);
    let body = lines.slice(start, end + 1).join('\n') + '\n';
    if (!/--name BLOCKER --rcheck --seconds \d+ -j DROP/.test(body)) {
      throw new Error(`${EXAMPLE_RULES}: the ${family} block has no "-m recent --name BLOCKER --rcheck --seconds N -j DROP" rule`);
    }
    if (seconds !== undefined) body = body.replace(/(--rcheck --seconds )\d+/g, `$1${seconds}`);
    return body;
  };
  return { v4: block('IPv4'), v6: block('IPv6') };
}

export type Flavour = 'nft' | 'legacy';

/**
 * Loads the example rules into namespace `ns`, plus a test-only chain that
 * references `extraLists` (so their /proc/net/xt_recent files exist) without
 * affecting any packet: the chain is never jumped to.
 */
export async function loadExampleRules(ns: string, { seconds, extraLists = [] }: { seconds?: number; extraLists?: readonly string[] } = {}): Promise<Flavour> {
  const blocks = exampleRuleBlocks(seconds === undefined ? {} : { seconds });
  // one table is enough: xt_recent lists are per namespace, not per family
  const extra =
    `*filter\n:BBE2E-LISTS - [0:0]\n` + extraLists.map((l) => `-A BBE2E-LISTS -m recent --name ${l} --rcheck\n`).join('') + 'COMMIT\n';
  const errors: string[] = [];
  for (const flavour of ['nft', 'legacy'] as const) {
    const v4 = flavour === 'nft' ? 'iptables-restore' : 'iptables-legacy-restore';
    const v6 = flavour === 'nft' ? 'ip6tables-restore' : 'ip6tables-legacy-restore';
    if (!which(v4) || !which(v6)) continue;
    const r4 = await run('ip', ['netns', 'exec', ns, v4], { input: blocks.v4 });
    const r6 = r4.code === 0 ? await run('ip', ['netns', 'exec', ns, v6], { input: blocks.v6 }) : r4;
    if (r4.code === 0 && r6.code === 0) {
      if (extraLists.length > 0) {
        const e4 = await run('ip', ['netns', 'exec', ns, v4, '--noflush'], { input: extra });
        if (e4.code !== 0) throw new Error(`${v4} of the test's extra lists failed: ${e4.stderr}`);
      }
      return flavour;
    }
    errors.push(`${flavour}: ${(r4.code !== 0 ? r4 : r6).stderr.trim()}`);
    // leave a clean table for the next flavour
    await run('ip', ['netns', 'exec', ns, flavour === 'nft' ? 'iptables' : 'iptables-legacy', '-F']);
    await run('ip', ['netns', 'exec', ns, flavour === 'nft' ? 'ip6tables' : 'ip6tables-legacy', '-F']);
  }
  throw new Error(`could not load ${EXAMPLE_RULES} with any iptables flavour:\n${errors.join('\n')}`);
}
