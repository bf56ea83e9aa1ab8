/**
 * The values that travel between banban's stages, and how data flows.
 *
 *   datagram ──source/syslog-socket──▶ bytes
 *   bytes    ──source/syslog-line────▶ text         (header read as offsets, SyslogSpans; stripped: `prog[pid]: msg`)
 *   text     ──match/matcher─────────▶ Verdict      (good / bad per blocktype / nothing)
 *   verdict  ──track/ban-engine──────▶ Decision[]   (offence windows, thresholds)
 *   decision ──enforce/enforcer──────▶ kernel list writes, conntrack deletes
 *
 * Everything up to and including the engine is pure: values in, values out,
 * time passed in as a number. The daemon feeds it receive times from a
 * monotonic clock; `banban test` feeds it each log line's own timestamp. Both
 * match each line with match/batch-matcher.ts (the daemon on its matching
 * thread) and hand what was found to `BanEngine.apply`, so what
 * `banban test` prints is what the daemon would do.
 */
import type { Rule } from './config/schema.js';
import type { ParsedIp } from './lib/ip.js';

/** One syslog message with its header taken apart. */
export interface SyslogLine {
  /** what patterns are matched against: `prog[pid]: msg` */
  readonly text: string;
  /** the header's timestamp as written, if there was one */
  readonly stamp: string | undefined;
  readonly host: string | undefined;
  readonly format: 'bsd' | 'rfc3339' | 'rfc5424' | 'bare';
}

/** A pattern matched but its `ip` group did not hold a usable address. */
export interface RejectedAddress {
  readonly raw: string;
  readonly reason: string;
  readonly rule: Rule;
}

export interface Offence {
  readonly blocktype: string;
  readonly ip: ParsedIp;
  readonly rule: Rule;
}

export type Verdict =
  | { readonly kind: 'none'; readonly rejected?: RejectedAddress }
  | { readonly kind: 'good'; readonly ip: ParsedIp; readonly rule: Rule; readonly rejected?: undefined }
  | {
      readonly kind: 'bad';
      /** one per blocktype that matched, in config order */
      readonly offences: readonly Offence[];
      readonly rejected?: RejectedAddress;
    };

export type Decision =
  | {
      readonly kind: 'block';
      readonly ip: ParsedIp;
      readonly target: string;
      readonly blocktype: string;
      readonly resetconns: boolean;
      /** seconds the ban is kept for re-priming the list after a restart */
      readonly bantime: number;
      /** offences seen in the window that tipped it */
      readonly offences: number;
    }
  | {
      readonly kind: 'unblock';
      readonly ip: ParsedIp;
      /** every target of the config: a good login lifts all bans */
      readonly targets: readonly string[];
    };

export interface Outcome {
  readonly verdict: Verdict;
  /** addresses matched but inside `ignorenets` */
  readonly ignored: readonly ParsedIp[];
  readonly decisions: readonly Decision[];
  /**
   * offences not counted, and left out of `verdict`: the line ends a
   * connection whose end its process had written already (Rule.perProcess)
   */
  readonly repeated: readonly Offence[];
}
