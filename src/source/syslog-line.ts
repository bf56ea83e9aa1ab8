/**
 * Takes a syslog line apart: header (priority, timestamp, host) and the part
 * patterns are matched against, `prog[pid]: msg`.
 *
 * Shapes accepted, each with or without a leading `<PRI>` and a trailing newline:
 *   - BSD / RSYSLOG_TraditionalFileFormat / syslog-ng `$DATE $HOST $MSGHDR$MESSAGE`:
 *       `Nov 22 06:25:01 host sshd[123]: msg`
 *   - the same with an RFC 3339 timestamp (RSYSLOG_FileFormat, syslog-ng ts-format(iso)):
 *       `2026-11-22T06:25:01.123+00:00 host sshd[123]: msg`, or its offset
 *       without the colon, as `journalctl -o short-iso` writes it before systemd 255 (`+0000`)
 *   - RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`, rebuilt as
 *       `app[procid]: msg` so the same patterns match
 *   - anything else is kept whole as the text ('bare'): patterns still decide.
 *
 * Pure and allocation-light: it runs once per datagram.
 */
import type { SyslogLine } from '../pipeline.js';

/** sticky: tried where the stamp would start (after a `<PRI>`), its lastIndex set first */
const RFC3339_STAMP_RE = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d) /y;
/** a token that is a tag (`prog:` / `prog[pid]:`), meaning the header had no host */
const TAG_TOKEN_RE = /^[^\s:[\]]+(?:\[[^\]\s]*\])?:$/;

export function parseSyslogLine(raw: string): SyslogLine {
  let line = raw;
  // Syslog daemons end with at most one newline; anything before it belongs to the message.
  if (line.charCodeAt(line.length - 1) === 10) line = line.slice(0, line.charCodeAt(line.length - 2) === 13 ? -2 : -1);
  const priLen = priorityLength(line);
  if (priLen > 0 && line.startsWith('1 ', priLen)) {
    const rfc5424 = parseRfc5424(line.slice(priLen));
    if (rfc5424) return rfc5424;
  }
  const s = scanHeader(line, priLen, new SyslogSpans());
  return {
    text: line.slice(s.textAt),
    stamp: s.stampEnd > 0 ? line.slice(s.stampAt, s.stampEnd) : undefined,
    host: s.hostEnd > 0 ? line.slice(s.hostAt, s.hostEnd) : undefined,
    format: s.format,
  };
}

/**
 * Where the parts of a line are, as offsets into it (scanSyslogLine): what
 * parseSyslogLine cuts into strings, kept as numbers so that the
 * per-datagram path (match/batch-matcher.ts) makes no string but the text,
 * and no object. An end of 0: the line has no such part.
 */
export class SyslogSpans {
  /** where the text (`prog[pid]: msg`) starts */
  textAt = 0;
  stampAt = 0;
  stampEnd = 0;
  hostAt = 0;
  hostEnd = 0;
  format: 'bsd' | 'rfc3339' | 'bare' = 'bare';
}

/**
 * The spans of `line` (a datagram's text: no trailing newline, which
 * decodeDatagram has dropped) into `out`, the same parts as
 * parseSyslogLine's. False for an RFC 5424 line (`<PRI>1 `): its text is
 * rebuilt from its fields, not a span of it; parseSyslogLine makes that.
 */
export function scanSyslogLine(line: string, out: SyslogSpans): boolean {
  const priLen = priorityLength(line);
  if (priLen > 0 && line.startsWith('1 ', priLen)) return false;
  scanHeader(line, priLen, out);
  return true;
}

/** The BSD and RFC 3339 headers (and none: 'bare') of `line`, from `at` (after its `<PRI>`). */
function scanHeader(line: string, at: number, out: SyslogSpans): SyslogSpans {
  let stampLen = 0;
  let format: SyslogSpans['format'] = 'bare';
  if (isBsdStamp(line, at)) {
    stampLen = BSD_STAMP_LENGTH;
    format = 'bsd';
  } else if (isDigit(line.charCodeAt(at))) {
    RFC3339_STAMP_RE.lastIndex = at;
    const iso = RFC3339_STAMP_RE.exec(line);
    if (iso) {
      stampLen = iso[0].length;
      format = 'rfc3339';
    }
  }
  out.format = format;
  out.hostAt = out.hostEnd = out.stampAt = out.stampEnd = 0;
  if (format === 'bare') {
    out.textAt = at;
    return out;
  }
  const head = at + stampLen;
  out.stampAt = at;
  out.stampEnd = head - 1;
  const space = line.indexOf(' ', head);
  const tokenEnd = space < 0 ? line.length : space;
  // `logger` and some relays leave the host out: the first token is the tag. A host name never ends in ':'.
  if (line.charCodeAt(tokenEnd - 1) === 58 /* : */ && TAG_TOKEN_RE.test(line.slice(head, tokenEnd))) {
    out.textAt = head;
    return out;
  }
  out.hostAt = head;
  out.hostEnd = tokenEnd;
  out.textAt = space < 0 ? line.length : space + 1;
  return out;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** length of a leading `<PRI>` (one to three digits), or 0 */
function priorityLength(line: string): number {
  if (line.charCodeAt(0) !== 60 /* < */) return 0;
  let i = 1;
  while (i < 4 && isDigit(line.charCodeAt(i))) i++;
  return i > 1 && line.charCodeAt(i) === 62 /* > */ ? i + 1 : 0;
}

/** `Mmm dd hh:mm:ss ` */
const BSD_STAMP_LENGTH = 16;

/**
 * `Nov 22 06:25:01 `: month as a capital and two lower-case letters, day
 * space-padded, seconds up to 60 (a leap second). Checked by character
 * codes: this runs for every datagram.
 */
function isBsdStamp(l: string, at: number): boolean {
  if (l.length < at + BSD_STAMP_LENGTH) return false;
  const c0 = l.charCodeAt(at);
  const c1 = l.charCodeAt(at + 1);
  const c2 = l.charCodeAt(at + 2);
  if (c0 < 65 || c0 > 90 || c1 < 97 || c1 > 122 || c2 < 97 || c2 > 122) return false;
  const d0 = l.charCodeAt(at + 4);
  return (
    l.charCodeAt(at + 3) === 32 &&
    (d0 === 32 || (d0 >= 48 && d0 <= 51)) &&
    isDigit(l.charCodeAt(at + 5)) &&
    l.charCodeAt(at + 6) === 32 &&
    inRange(l.charCodeAt(at + 7), 48, 50) &&
    isDigit(l.charCodeAt(at + 8)) &&
    l.charCodeAt(at + 9) === 58 &&
    inRange(l.charCodeAt(at + 10), 48, 53) &&
    isDigit(l.charCodeAt(at + 11)) &&
    l.charCodeAt(at + 12) === 58 &&
    inRange(l.charCodeAt(at + 13), 48, 54) &&
    isDigit(l.charCodeAt(at + 14)) &&
    l.charCodeAt(at + 15) === 32
  );
}

const inRange = (c: number, lo: number, hi: number): boolean => c >= lo && c <= hi;

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

const twoDigits = (s: string, at: number): number => (s.charCodeAt(at) - 48) * 10 + s.charCodeAt(at + 1) - 48;

/** A month's English abbreviation, its three character codes as one number, to the month (0-11). */
const MONTHS = new Map(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((name, i) => [monthCode(name, 0), i]));

function monthCode(s: string, at: number): number {
  return (s.charCodeAt(at) << 16) | (s.charCodeAt(at + 1) << 8) | s.charCodeAt(at + 2);
}

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
  /** Date.UTC(#year, #lastMonth, 1): a BSD stamp is this plus its day, hour, minute and second */
  #monthStart = NaN;
  constructor(startYear: number) {
    this.#year = startYear;
  }

  /**
   * Milliseconds for a line with this header stamp (SyslogLine.stamp); a
   * line without a usable one gets the time of the line asked about before.
   */
  timeOf(stamp: string | undefined): number {
    return stamp === undefined ? this.#last : this.timeOfSpan(stamp, 0, stamp.length);
  }

  /** timeOf the stamp `line[at, end)` (SyslogSpans' stamp), read where it is: no string is made for a BSD stamp. */
  timeOfSpan(line: string, at: number, end: number): number {
    // A BSD stamp starts with the month's name, the others with the year.
    const t = isDigit(line.charCodeAt(at)) ? Date.parse(line.slice(at, end)) : this.#bsd(line, at);
    if (Number.isFinite(t)) this.#last = t;
    return this.#last;
  }

  /**
   * `Mmm dd hh:mm:ss` (isBsdStamp checked its shape). Every line of a log
   * has one, so it is read by character codes, and the year and month are
   * turned into milliseconds only when they change. The rest is added as
   * Date.UTC would: a day or second past the end rolls over (a leap second
   * is the next minute's first).
   */
  #bsd(stamp: string, at: number): number {
    const month = MONTHS.get(monthCode(stamp, at));
    if (month === undefined) return NaN;
    let monthStart = this.#monthStart;
    if (month !== this.#lastMonth) {
      if (this.#lastMonth >= 0 && month >= this.#lastMonth + 10) {
        // A late line of the year before (December's, written after January's began): read in
        // that year, and the clock stays where it is, or the next January would begin another year.
        // (A jump forward of fewer months is a quiet stretch of the same year, as before.)
        monthStart = Date.UTC(this.#year - 1, month, 1);
      } else {
        if (this.#lastMonth >= 0 && month < this.#lastMonth - 6) this.#year += 1;
        this.#lastMonth = month;
        monthStart = this.#monthStart = Date.UTC(this.#year, month, 1);
      }
    }
    const day = (stamp.charCodeAt(at + 4) === 32 ? 0 : (stamp.charCodeAt(at + 4) - 48) * 10) + stamp.charCodeAt(at + 5) - 48;
    return monthStart + (((day - 1) * 24 + twoDigits(stamp, at + 7)) * 60 + twoDigits(stamp, at + 10)) * 60_000 + twoDigits(stamp, at + 13) * 1000;
  }
}
