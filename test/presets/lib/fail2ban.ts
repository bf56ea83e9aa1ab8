/**
 * fail2ban's filter test logs, read as a measuring stick for banban's presets.
 *
 * Debian's fail2ban package ships, for each filter, a log whose lines are
 * preceded by `# failJSON: {"match": true|false, "host": ...}`: what the
 * filter must make of the line. A `# filterOptions: [...]` line starts a
 * section whose lines hold for the filter modes it names; we score one mode
 * per service and skip the sections that do not name it.
 *
 * banban receives syslog lines. Some of fail2ban's logs are other programs'
 * own log files (nginx and apache error logs, exim's mainlog, vsftpd's and
 * proftpd's own logs, dovecot's log file). Each such line is turned into the
 * syslog line the service sends when it logs through syslog; `convert` of
 * each service says how, and the README repeats it.
 */
import { existsSync } from 'node:fs';
import { parseIp } from '../../../src/lib/ip.js';
import { parseSyslogLine } from '../../../src/source/syslog-line.js';

/** Where fail2ban's logs are: installed, or unpacked by test/presets/setup-fail2ban.sh. */
export const LOG_DIRS = [
  process.env['BANBAN_FAIL2BAN_LOGS'],
  '/usr/lib/python3/dist-packages/fail2ban/tests/files/logs',
  '/opt/banban-test/fail2ban/usr/lib/python3/dist-packages/fail2ban/tests/files/logs',
].filter((d): d is string => d !== undefined && d !== '');

export function findLogDir(): string | undefined {
  return LOG_DIRS.find((d) => existsSync(`${d}/sshd`));
}

export interface Case {
  /** 1-based line number in fail2ban's file */
  readonly srcLine: number;
  /** the line as fail2ban has it */
  readonly raw: string;
  /** the syslog line banban is given */
  readonly line: string;
  readonly match: boolean;
  /** fail2ban's expected host, as written */
  readonly host: string | undefined;
  /** the expected host as banban writes it, when it is a literal address banban accepts */
  readonly ip: string | undefined;
  readonly desc: string | undefined;
}

export interface Service {
  /** preset name */
  readonly preset: string;
  /** fail2ban's log file */
  readonly file: string;
  /** the filter mode scored */
  readonly mode: string;
  /** fail2ban's line to the syslog line the service would send */
  readonly convert: (raw: string, json: FailJson) => string;
  /** at least this share of the IP-host lines must match */
  readonly goal: number;
}

export interface FailJson {
  match?: boolean;
  host?: string | null;
  time?: string;
  desc?: string;
  constraint?: string;
}

type Options = Record<string, unknown>;

/**
 * The cases of one log for one mode. Sections: lines before the first
 * `# filterOptions:` hold for the default mode (`normal`); after one, for
 * the option sets it lists, where a set without `mode` means `normal`. A
 * `test.condition` naming another filter (`name=='x'`) leaves the set out.
 * A line's `constraint` (`opts.get('mode') == 'aggressive'`, `name == 'sshd'`)
 * is evaluated for the chosen mode.
 */
export function parseCases(text: string, file: string, service: Pick<Service, 'mode' | 'convert'>): Case[] {
  const lines = text.split('\n');
  const cases: Case[] = [];
  let applies = modeApplies([{}], file, service.mode);
  let pending: FailJson | undefined;
  lines.forEach((raw, i) => {
    const opts = /^#\s*filterOptions:\s*(.*)$/.exec(raw);
    if (opts) {
      const parsed = JSON.parse(opts[1]!) as Options | Options[];
      applies = modeApplies(Array.isArray(parsed) ? parsed : [parsed], file, service.mode);
      pending = undefined;
      return;
    }
    const fj = /^#\s*failJSON:\s*(.*)$/.exec(raw);
    if (fj) {
      pending = JSON.parse(fj[1]!) as FailJson;
      return;
    }
    if (raw.startsWith('#') || raw.trim() === '') return;
    const json = pending;
    pending = undefined;
    if (json === undefined || !applies) return;
    if (json.constraint !== undefined && !constraintHolds(json.constraint, file, service.mode)) return;
    const host = json.host ?? undefined;
    const parsedHost = host === undefined ? undefined : parseIp(host);
    cases.push({
      srcLine: i + 1,
      raw,
      line: service.convert(raw, json),
      match: json.match === true,
      host,
      ip: parsedHost?.ok ? parsedHost.value.text : undefined,
      desc: json.desc,
    });
  });
  return cases;
}

function modeApplies(sets: Options[], file: string, mode: string): boolean {
  return sets.some((o) => {
    const cond = o['test.condition'];
    if (typeof cond === 'string') {
      const m = /name\s*==\s*'([^']*)'/.exec(cond);
      if (m && m[1] !== file) return false;
    }
    return (typeof o['mode'] === 'string' ? o['mode'] : 'normal') === mode;
  });
}

function constraintHolds(constraint: string, file: string, mode: string): boolean {
  return constraint.split(/\s+and\s+/).every((part) => {
    let m = /^opts\.get\('mode'\)\s*(==|!=)\s*'([^']*)'$/.exec(part.trim());
    if (m) return (mode === m[2]) === (m[1] === '==');
    m = /^name\s*(==|!=)\s*'([^']*)'$/.exec(part.trim());
    if (m) return (file === m[2]) === (m[1] === '==');
    throw new Error(`unknown failJSON constraint: ${constraint}`);
  });
}

// ---- conversion to syslog lines ------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Jan  4 17:03:46` from year, month (1-12), day, time. */
function bsdStamp(month: number, day: number, time: string): string {
  return `${MONTHS[month - 1]} ${String(day).padStart(2, ' ')} ${time}`;
}

/** A BSD stamp for failJSON's time, or a fixed one. */
function stampOf(json: FailJson): string {
  const m = /^(\d{4})-(\d\d?)-(\d\d?)T(\d\d:\d\d:\d\d)/.exec(json.time ?? '');
  return m ? bsdStamp(Number(m[2]), Number(m[3]), m[4]!) : 'Jan  1 00:00:00';
}

/**
 * A syslog line as it is: only a day written without its padding space
 * (`Feb 7 16:01:07`, which no syslog daemon sends) is padded (`Feb  7`).
 */
export function asSyslog(raw: string): string {
  return raw.replace(/^([A-Z][a-z]{2}) (\d) /, '$1  $2 ');
}

function isSyslog(line: string): boolean {
  return parseSyslogLine(line).format !== 'bare';
}

/** `2013-01-04 17:03:46[,121|.5] rest` (a log file's own stamp): [stamp, rest] */
function isoPrefix(raw: string): [string, string] | undefined {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d:\d\d:\d\d)(?:[.,]\d+)? (.*)$/.exec(raw);
  return m ? [bsdStamp(Number(m[2]), Number(m[3]), m[4]!), m[5]!] : undefined;
}

/** sshd, postfix, pam-generic, pure-ftpd: fail2ban's lines are syslog lines already. */
export function syslogOnly(raw: string): string {
  return asSyslog(raw);
}

/**
 * dovecot logging through syslog: ident `dovecot`, message `<process>: <text>`
 * with no level word (syslog carries the level). dovecot's own log file
 * (`Jan 29 09:33:58 pop3-login: Info: ...`, `2013-08-11 03:56:40
 * auth-worker(default): Info: ...`) and multilog's `@4000... imap-login:
 * Info: ...` become `dovecot: <process>: <text>`; a multilog line without a
 * level word (`dovecot-auth: pam_unix(...)`, written by PAM itself) keeps
 * its tag.
 */
export function dovecot(raw: string, json: FailJson): string {
  let stamp: string;
  let text: string;
  const tai = /^@[0-9a-f]{24} (.*)$/.exec(raw);
  const iso = isoPrefix(raw);
  if (tai) {
    stamp = stampOf(json);
    text = tai[1]!;
  } else if (iso) {
    [stamp, text] = iso;
  } else {
    const line = asSyslog(raw);
    const p = parseSyslogLine(line);
    if (p.format === 'bare' || p.stamp === undefined) return line;
    if (p.host !== undefined) return line;
    stamp = p.stamp;
    text = p.text;
  }
  const own = /^([a-z][a-z0-9-]*(?:\([^)\s]*\))?): (?:Info|Warning|Error): (.*)$/.exec(text);
  if (own) text = `dovecot: ${own[1]}: ${own[2]}`;
  return `${stamp} mail ${text}`;
}

/**
 * exim logging to syslog (log_file_path = syslog): ident `exim` with its
 * pid; with syslog_timestamp (the default) the message keeps exim's own
 * `YYYY-MM-DD HH:MM:SS` stamp, so a mainlog line is the message as it is.
 * A line that is already `DATE TIME host exim[pid]: msg` gets a BSD stamp.
 */
export function exim(raw: string): string {
  const iso = isoPrefix(raw);
  if (iso === undefined) return asSyslog(raw);
  const [stamp, rest] = iso;
  if (/^\S+ exim\d?\[\d+\]: /.test(rest)) return `${stamp} ${rest}`;
  const pid = /^\[(\d+)\] /.exec(rest)?.[1] ?? '1000';
  return `${stamp} mail exim[${pid}]: ${raw}`;
}

/**
 * nginx's `error_log syslog:server=unix:/dev/log`: tag `nginx`, and the
 * message is the error log line, nginx's own stamp included.
 */
export function nginx(raw: string, json: FailJson): string {
  if (isSyslog(raw)) return asSyslog(raw);
  const m = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d:\d\d:\d\d) /.exec(raw);
  return `${m ? bsdStamp(Number(m[2]), Number(m[3]), m[4]!) : stampOf(json)} web nginx: ${raw}`;
}

/**
 * apache's `ErrorLog syslog:...`: tag `apache2[pid]` (Debian's binary), and
 * the message is the error log line without its `[date]`.
 */
export function apache(raw: string): string {
  if (isSyslog(raw)) return asSyslog(raw);
  const m = /^\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) (\d\d) (\d\d:\d\d:\d\d)(?:\.\d+)? \d{4}\] (.*)$/.exec(raw);
  if (!m) return raw;
  const pid = /\[pid (\d+)/.exec(m[4]!)?.[1] ?? '1000';
  return `${m[1]} ${String(Number(m[2])).padStart(2, ' ')} ${m[3]} web apache2[${pid}]: ${m[4]}`;
}

/**
 * vsftpd with syslog_enable=YES: ident `vsftpd[pid]`, and the message is its
 * log line without the date (`[pid N] [user] FAIL LOGIN: Client "..."`).
 */
export function vsftpd(raw: string): string {
  const m = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d+) (\d\d:\d\d:\d\d) \d{4} (\[pid (\d+)\] .*)$/.exec(raw);
  if (!m) return asSyslog(raw);
  return `${m[1]} ${m[2]!.padStart(2, ' ')} ${m[3]} ftp vsftpd[${m[5]}]: ${m[4]}`;
}

/**
 * proftpd's own log (SystemLog) writes `host proftpd[pid] SERVER (CLIENT[IP]): MSG`;
 * through syslog the same event is `proftpd[pid]: SERVER (CLIENT[IP]) - MSG`.
 */
export function proftpd(raw: string): string {
  let line = raw;
  const iso = isoPrefix(raw);
  if (iso) line = `${iso[0]} ${iso[1]}`;
  line = asSyslog(line);
  return line.replace(/^(.*? proftpd\[\d+\]) (\S+ \(\S*\[[^\]\s]*\]\)): /, '$1: $2 - ');
}

/** The services scored, the fail2ban file and mode for each, and the goal. */
export const SERVICES: readonly Service[] = [
  { preset: 'sshd', file: 'sshd', mode: 'aggressive', convert: syslogOnly, goal: 0.95 },
  { preset: 'postfix', file: 'postfix', mode: 'aggressive', convert: syslogOnly, goal: 0.9 },
  { preset: 'dovecot', file: 'dovecot', mode: 'normal', convert: dovecot, goal: 0.9 },
  { preset: 'exim', file: 'exim', mode: 'normal', convert: exim, goal: 0.9 },
  { preset: 'nginx', file: 'nginx-http-auth', mode: 'normal', convert: nginx, goal: 0.9 },
  { preset: 'apache', file: 'apache-auth', mode: 'normal', convert: apache, goal: 0.9 },
  { preset: 'vsftpd', file: 'vsftpd', mode: 'normal', convert: vsftpd, goal: 0.9 },
  { preset: 'proftpd', file: 'proftpd', mode: 'normal', convert: proftpd, goal: 0.9 },
  { preset: 'pure-ftpd', file: 'pure-ftpd', mode: 'normal', convert: syslogOnly, goal: 0.9 },
  { preset: 'pam-generic', file: 'pam-generic', mode: 'normal', convert: syslogOnly, goal: 0.9 },
];

// ---- scoring ---------------------------------------------------------------

/** `banban test --json` output. */
export interface ReplayJson {
  lines: number;
  matches: { line: number; kind: 'good' | 'bad'; blocktype?: string; ip: string; ignored?: boolean }[];
  /** lines an endpattern matched that were not counted: their process's end was counted already */
  repeated: { line: number; blocktype: string; ip: string }[];
  blocked: { ip: string; target: string; blocktype: string }[];
  unblocked: string[];
}

export interface Score {
  /** `match: true` lines whose host is a literal address */
  ipLines: number;
  /** of those, matched with that address */
  matched: number;
  /** of those, matched by an endpattern but not counted: the log puts another end of the same process id before them */
  repeats: number;
  /** `match: false` lines: none of them may give a bad match */
  noMatchLines: number;
  /** lines where a bad match (and so, with minocc 1, a block) has the wrong address, or any address on a `match: false` line */
  wrong: number;
  /** blocked addresses that no line expected */
  wrongBlocks: string[];
  /** per-line verdicts, for the report */
  misses: Case[];
  wrongCases: { c: Case; got: string[] }[];
}

/** Scores a replay of `cases` (line n of the replay is cases[n-1]). */
export function score(cases: readonly Case[], report: ReplayJson): Score {
  // A line is matched with an address when a pattern took that address from it: counted (a bad
  // match), or an end not counted again because the process's end was (`repeated`). fail2ban's log
  // gives several of its cases one process id (sshd[32686] three times), which a real sshd, one
  // process per connection, never writes; the engine's once-per-process rule is tested apart.
  // Only a counted match can be wrong: a `match: false` line may be an end not counted again.
  const bad = new Map<number, string[]>();
  for (const m of report.matches) if (m.kind === 'bad') bad.set(m.line, [...(bad.get(m.line) ?? []), m.ip]);
  const repeated = new Map<number, string[]>();
  for (const r of report.repeated) repeated.set(r.line, [...(repeated.get(r.line) ?? []), r.ip]);
  const s: Score = { ipLines: 0, matched: 0, repeats: 0, noMatchLines: 0, wrong: 0, wrongBlocks: [], misses: [], wrongCases: [] };
  const expected = new Set<string>();
  cases.forEach((c, i) => {
    const got = bad.get(i + 1) ?? [];
    const again = repeated.get(i + 1) ?? [];
    if (c.match && c.ip !== undefined) {
      s.ipLines++;
      expected.add(c.ip);
      if (got.includes(c.ip)) {
        s.matched++;
      } else if (again.includes(c.ip)) {
        s.matched++;
        s.repeats++;
      } else {
        s.misses.push(c);
      }
    }
    if (!c.match) s.noMatchLines++;
    const wrongHere = c.match ? got.filter((ip) => ip !== c.ip) : got;
    if (wrongHere.length) {
      s.wrong++;
      s.wrongCases.push({ c, got });
    }
  });
  s.wrongBlocks = [...new Set(report.blocked.map((b) => b.ip))].filter((ip) => !expected.has(ip));
  return s;
}

