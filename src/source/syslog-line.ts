/**
 * Takes a syslog line apart: header (priority, timestamp, host) and the part
 * patterns are matched against, `prog[pid]: msg`.
 *
 * Shapes accepted, each with or without a leading `<PRI>` and a trailing newline:
 *   - BSD / RSYSLOG_TraditionalFileFormat / syslog-ng `$DATE $HOST $MSGHDR$MESSAGE`:
 *       `Nov 22 06:25:01 host sshd[123]: msg`
 *   - the same with an RFC 3339 timestamp (RSYSLOG_FileFormat, syslog-ng ts-format(iso)):
 *       `2026-11-22T06:25:01.123+00:00 host sshd[123]: msg`
 *   - RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`, rebuilt as
 *       `app[procid]: msg` so the same patterns match
 *   - anything else is kept whole as the text ('bare'): patterns still decide.
 *
 * Pure and allocation-light: it runs once per datagram.
 */
import type { SyslogLine } from '../pipeline.js';

const PRI_RE = /^<\d{1,3}>/;
const BSD_STAMP_RE = /^[A-Z][a-z]{2} [ 0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] /;
const RFC3339_STAMP_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) /;
/** a token that is a tag (`prog:` / `prog[pid]:`), meaning the header had no host */
const TAG_TOKEN_RE = /^[^\s:[\]]+(?:\[[^\]\s]*\])?:$/;

export function parseSyslogLine(raw: string): SyslogLine {
  let line = raw;
  // Syslog daemons end with at most one newline; anything before it belongs to the message.
  if (line.endsWith('\n')) line = line.slice(0, line.endsWith('\r\n') ? -2 : -1);
  const pri = PRI_RE.exec(line);
  if (pri) line = line.slice(pri[0].length);

  if (pri && line.startsWith('1 ')) {
    const rfc5424 = parseRfc5424(line);
    if (rfc5424) return rfc5424;
  }
  let stampLen = 0;
  let format: SyslogLine['format'] = 'bare';
  const bsd = BSD_STAMP_RE.exec(line);
  if (bsd) {
    stampLen = bsd[0].length;
    format = 'bsd';
  } else {
    const iso = RFC3339_STAMP_RE.exec(line);
    if (iso) {
      stampLen = iso[0].length;
      format = 'rfc3339';
    }
  }
  if (format === 'bare') return { text: line, stamp: undefined, host: undefined, format };

  const stamp = line.slice(0, stampLen - 1);
  const rest = line.slice(stampLen);
  const space = rest.indexOf(' ');
  const token = space < 0 ? rest : rest.slice(0, space);
  if (TAG_TOKEN_RE.test(token)) {
    // `logger` and some relays leave the host out: the first token is the tag.
    return { text: rest, stamp, host: undefined, format };
  }
  return { text: space < 0 ? '' : rest.slice(space + 1), stamp, host: token, format };
}

/** `1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]`, after the `<PRI>`. */
function parseRfc5424(line: string): SyslogLine | undefined {
  let pos = 2;
  const fields: string[] = [];
  for (let i = 0; i < 5; i++) {
    const space = line.indexOf(' ', pos);
    if (space < 0) return undefined;
    fields.push(line.slice(pos, space));
    pos = space + 1;
  }
  const [stamp, host, app, procid] = fields as [string, string, string, string, string];
  // Structured data: `-` or one or more `[id k="v" ...]` blocks, `\]` escaped inside values.
  if (line.startsWith('-', pos)) {
    pos += 1;
  } else if (line.startsWith('[', pos)) {
    while (line.startsWith('[', pos)) {
      let i = pos + 1;
      for (; i < line.length; i++) {
        const c = line.charCodeAt(i);
        if (c === 92 /* \ */) i++;
        else if (c === 93 /* ] */) break;
      }
      if (i >= line.length) return undefined;
      pos = i + 1;
    }
  } else {
    return undefined;
  }
  let msg = line.startsWith(' ', pos) ? line.slice(pos + 1) : line.slice(pos);
  if (msg.charCodeAt(0) === 0xfeff) msg = msg.slice(1);
  const tag = app === '-' ? '' : procid === '-' ? `${app}: ` : `${app}[${procid}]: `;
  return {
    text: tag + msg,
    stamp: stamp === '-' ? undefined : stamp,
    host: host === '-' ? undefined : host,
    format: 'rfc5424',
  };
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/**
 * Turns the timestamps of a log file into milliseconds, for `banban test`.
 * BSD stamps carry no year and no zone: the replay starts in `startYear`, moves
 * to the next year when the month jumps back (December to January), and reads
 * them as UTC; only differences between lines matter for the windows.
 */
export class ReplayClock {
  #year: number;
  #lastMonth = -1;
  #last = 0;
  #lastStamp = '';
  #lastBsd = NaN;
  constructor(startYear: number) {
    this.#year = startYear;
  }

  /** milliseconds for this line; a line without a usable stamp gets the previous line's time */
  timeOf(line: SyslogLine): number {
    if (line.stamp !== undefined) {
      const t = line.format === 'bsd' ? this.#bsd(line.stamp) : Date.parse(line.stamp);
      if (Number.isFinite(t)) this.#last = t;
    }
    return this.#last;
  }

  #bsd(stamp: string): number {
    // Log files hold runs of lines with one stamp: reuse the last answer.
    if (stamp === this.#lastStamp) return this.#lastBsd;
    const month = MONTHS[stamp.slice(0, 3)];
    if (month === undefined) return NaN;
    if (this.#lastMonth >= 0 && month < this.#lastMonth - 6) this.#year += 1;
    this.#lastMonth = month;
    const day = (stamp.charCodeAt(4) === 32 ? 0 : (stamp.charCodeAt(4) - 48) * 10) + stamp.charCodeAt(5) - 48;
    const two = (at: number) => (stamp.charCodeAt(at) - 48) * 10 + stamp.charCodeAt(at + 1) - 48;
    this.#lastStamp = stamp;
    this.#lastBsd = Date.UTC(this.#year, month, day, two(7), two(10), two(13));
    return this.#lastBsd;
  }
}
