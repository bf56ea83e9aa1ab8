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
 */
import type { Blocktype, Config, Rule } from '../config/schema.js';
import { parseIp, type ParsedIp } from '../lib/ip.js';
import type { Offence, RejectedAddress, Verdict } from '../pipeline.js';

const NONE: Verdict = { kind: 'none' };

export class Matcher {
  readonly #good: readonly Rule[];
  readonly #blocktypes: readonly Blocktype[];

  constructor(config: Pick<Config, 'goodpatterns' | 'blocktypes'>) {
    this.#good = config.goodpatterns;
    this.#blocktypes = config.blocktypes;
  }

  match(text: string): Verdict {
    let rejected: RejectedAddress | undefined;
    for (const rule of this.#good) {
      const got = capture(rule, text);
      if (got === undefined) continue;
      if (typeof got === 'string') {
        rejected ??= { raw: text, reason: got, rule };
        continue;
      }
      return { kind: 'good', ip: got, rule };
    }
    let offences: Offence[] | undefined;
    for (const bt of this.#blocktypes) {
      for (const rule of bt.patterns) {
        const got = capture(rule, text);
        if (got === undefined) continue;
        if (typeof got === 'string') {
          rejected ??= { raw: text, reason: got, rule };
          continue;
        }
        (offences ??= []).push({ blocktype: bt.name, ip: got, rule });
        break;
      }
    }
    if (offences) return rejected ? { kind: 'bad', offences, rejected } : { kind: 'bad', offences };
    return rejected ? { kind: 'none', rejected } : NONE;
  }
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
