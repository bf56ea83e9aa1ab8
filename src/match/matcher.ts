/**
 * Line text to verdict: which good pattern or which blocktypes' patterns match,
 * and the address each captured. Pure.
 *
 * Order: good patterns first. A line that matches a good pattern is a good
 * line, whatever else it matches (a successful login must never count as a
 * failure). Otherwise each blocktype is asked in config order; within a
 * blocktype the first matching pattern wins, so a line is at most one offence
 * per blocktype.
 *
 * The captured text is parsed strictly (lib/ip.ts). A capture that is not a
 * literal address makes that match void; the line's other matches still count.
 *
 * prefilter.ts skips the patterns that cannot match a line, without changing
 * the outcome: a line no pattern concerns costs a few Set lookups.
 */
import type { Config, Rule } from '../config/schema.js';
import { parseIp, type ParsedIp } from '../lib/ip.js';
import type { Offence, RejectedAddress, Verdict } from '../pipeline.js';
import { FilteredRules, keyLengthFor } from './prefilter.js';

const NONE: Verdict = { kind: 'none' };

export class Matcher {
  readonly #good: FilteredRules;
  readonly #blocktypes: readonly { name: string; rules: FilteredRules }[];
  readonly #keyLength: number;

  constructor(config: Pick<Config, 'goodpatterns' | 'blocktypes'>) {
    this.#keyLength = keyLengthFor([...config.goodpatterns, ...config.blocktypes.flatMap((b) => b.patterns)]);
    this.#good = new FilteredRules(config.goodpatterns, this.#keyLength);
    this.#blocktypes = config.blocktypes.map((b) => ({ name: b.name, rules: new FilteredRules(b.patterns, this.#keyLength) }));
  }

  match(text: string): Verdict {
    const key = text.slice(0, this.#keyLength);
    let rejected: RejectedAddress | undefined;
    const note = (r: RejectedAddress) => {
      rejected ??= r;
    };
    const good = this.#good.mayMatch(key) ? firstMatch(this.#good, text, note) : undefined;
    if (good) return { kind: 'good', ip: good.ip, rule: good.rule };
    let offences: Offence[] | undefined;
    for (const bt of this.#blocktypes) {
      if (!bt.rules.mayMatch(key)) continue;
      const hit = firstMatch(bt.rules, text, note);
      if (hit) (offences ??= []).push({ blocktype: bt.name, ip: hit.ip, rule: hit.rule });
    }
    if (offences) return rejected ? { kind: 'bad', offences, rejected } : { kind: 'bad', offences };
    return rejected ? { kind: 'none', rejected } : NONE;
  }
}

/** The first rule of the list that matches with a usable address; rules that match without one are noted. */
function firstMatch(list: FilteredRules, text: string, note: (r: RejectedAddress) => void): { ip: ParsedIp; rule: Rule } | undefined {
  for (let i = 0; i < list.rules.length; i++) {
    const p = list.prefixes[i];
    if (p !== undefined && !text.startsWith(p)) continue;
    const inf = list.infixes[i];
    if (inf !== undefined && !text.includes(inf)) continue;
    const rule = list.rules[i]!;
    const got = capture(rule, text);
    if (got === undefined) continue;
    if (typeof got === 'string') {
      note({ raw: text, reason: got, rule });
      continue;
    }
    return { ip: got, rule };
  }
  return undefined;
}

/** undefined: no match; string: matched but the capture is not an address (why); else the address */
function capture(rule: Rule, text: string): ParsedIp | string | undefined {
  const m = rule.regex.exec(text);
  if (m === null) return undefined;
  const raw = m.groups?.['ip'];
  if (raw === undefined) return `the ip group of ${rule.where} took part in no match`;
  const ip = parseIp(raw);
  return ip.ok ? ip.value : `${ip.reason}: '${truncate(raw)}'`;
}

function truncate(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}
