import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSyslogLine, ReplayClock, scanSyslogLine, SyslogSpans } from '../../src/source/syslog-line.js';

// line as received, expected text, host, format
const CASES: [string, string, string | undefined, string][] = [
  ['Nov 22 06:25:01 web1 sshd[123]: Failed password for root from 192.0.2.7 port 22 ssh2', 'sshd[123]: Failed password for root from 192.0.2.7 port 22 ssh2', 'web1', 'bsd'],
  ['Nov  2 06:25:01 web1 sshd[123]: x', 'sshd[123]: x', 'web1', 'bsd'],
  ['<38>Nov 22 06:25:01 web1 sshd[123]: x', 'sshd[123]: x', 'web1', 'bsd'],
  ['<38>Nov 22 06:25:01 web1 sshd[123]: x\n', 'sshd[123]: x', 'web1', 'bsd'],
  ['Nov 22 06:25:01 web1 sshd[123]: x\r\n', 'sshd[123]: x', 'web1', 'bsd'],
  ['2026-11-22T06:25:01.123456+01:00 web1 sshd[123]: x', 'sshd[123]: x', 'web1', 'rfc3339'],
  // journalctl -o short-iso before systemd 255 (Debian 12's 252): the offset without its colon
  ['2026-12-02T06:01:29+0000 web1 sshd[812]: x', 'sshd[812]: x', 'web1', 'rfc3339'],
  ['<13>Nov 22 06:25:01 sshd[123]: no host here', 'sshd[123]: no host here', undefined, 'bsd'],
  ['<13>Nov 22 06:25:01 postfix/smtpd[9]: x', 'postfix/smtpd[9]: x', undefined, 'bsd'],
  ['<38>1 2026-11-22T06:25:01.5Z web1 sshd 123 - - Failed password', 'sshd[123]: Failed password', 'web1', 'rfc5424'],
  ['<38>1 2026-11-22T06:25:01.5Z web1 sshd - - - msg', 'sshd: msg', 'web1', 'rfc5424'],
  ['<38>1 2026-11-22T06:25:01.5Z web1 sshd 123 ID47 [ex@32473 a="1\\]" b="2"][x@1 c="3"] \ufeffmsg', 'sshd[123]: msg', 'web1', 'rfc5424'],
  ['<38>1 - - sshd 7 - -', 'sshd[7]: ', undefined, 'rfc5424'],
  ['sshd[123]: no header at all', 'sshd[123]: no header at all', undefined, 'bare'],
  ['', '', undefined, 'bare'],
];

for (const [raw, text, host, format] of CASES) {
  test(`a ${format} line ${JSON.stringify(raw.slice(0, 40))} yields its text and host`, () => {
    const got = parseSyslogLine(raw);
    assert.equal(got.text, text);
    assert.equal(got.host, host);
    assert.equal(got.format, format);
  });
}

test("the spans the daemon's path reads cut the same parts as parseSyslogLine, and leave RFC 5424 lines to it", () => {
  const spans = new SyslogSpans();
  // as datagrams come: decodeDatagram has dropped the trailing newline
  const lines = [...CASES.map(([raw]) => raw.replace(/\r?\n$/, '')), 'Nov 22 06:25:01 web1', '<38>1 not a 5424 line: Nov 22 06:25:01 h a: x', '<7>2026-11-22T06:25:01Z h a: x'];
  for (const line of lines) {
    const parsed = parseSyslogLine(line);
    const scanned = scanSyslogLine(line, spans);
    assert.equal(scanned, !line.match(/^<\d{1,3}>1 /), line);
    if (!scanned) continue;
    assert.equal(line.slice(spans.textAt), parsed.text, line);
    assert.equal(spans.stampEnd > 0 ? line.slice(spans.stampAt, spans.stampEnd) : undefined, parsed.stamp, line);
    assert.equal(spans.hostEnd > 0 ? line.slice(spans.hostAt, spans.hostEnd) : undefined, parsed.host, line);
    assert.equal(spans.format, parsed.format, line);
  }
});

test('the replay clock reads a stamp in place as it reads it cut out', () => {
  const line = '<38>Nov  2 06:25:01 web1 sshd[1]: x';
  const a = new ReplayClock(2026);
  const b = new ReplayClock(2026);
  assert.equal(a.timeOfSpan(line, 4, 19), b.timeOf('Nov  2 06:25:01'));
  assert.equal(a.timeOfSpan(line, 4, 19), Date.UTC(2026, 10, 2, 6, 25, 1));
  const iso = 'x 2026-11-22T06:25:01Z h';
  assert.equal(a.timeOfSpan(iso, 2, 22), Date.UTC(2026, 10, 22, 6, 25, 1));
});

test('a header without a message gives an empty text', () => {
  const got = parseSyslogLine('Nov 22 06:25:01 web1');
  assert.equal(got.format, 'bsd');
  assert.equal(got.host, 'web1');
  assert.equal(got.text, '');
});

test('a newline inside the message stays part of the one message', () => {
  const got = parseSyslogLine('Nov 22 06:25:01 web1 app: one\nNov 22 06:25:01 web1 sshd[1]: forged\n');
  assert.equal(got.text, 'app: one\nNov 22 06:25:01 web1 sshd[1]: forged');
});

test("the replay clock reads an RFC 3339 offset with or without its colon alike", () => {
  const clock = new ReplayClock(2026);
  const at = (line: string) => clock.timeOf(parseSyslogLine(line).stamp);
  assert.equal(at('2026-12-02T07:01:29+0100 h sshd[1]: x'), Date.UTC(2026, 11, 2, 6, 1, 29));
  assert.equal(at('2026-12-02T07:01:29+01:00 h sshd[1]: x'), Date.UTC(2026, 11, 2, 6, 1, 29));
});

test('the replay clock reads BSD stamps and rolls the year over at New Year', () => {
  const c = new ReplayClock(2025);
  const t1 = c.timeOf(parseSyslogLine('Dec 31 23:59:59 h a: x').stamp);
  const t2 = c.timeOf(parseSyslogLine('Jan  1 00:00:01 h a: x').stamp);
  assert.equal(t2 - t1, 2000);
});

test('the replay clock reads every BSD stamp as Date.UTC would, overflowing days and leap seconds included', () => {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  for (let month = 0; month < 12; month++) {
    // One clock per month: no roll-over, so the year stays 2024 (a leap year: Feb 29 is real, Feb 31 is Mar 2).
    const c = new ReplayClock(2024);
    for (let k = 0; k < 300; k++) {
      const [day, h, m, s] = k < 3 ? [[31, 23, 59, 60], [1, 0, 0, 0], [29, 12, 30, 59]][k]! : [1 + rnd(31), rnd(24), rnd(60), rnd(61)];
      const stamp = `${months[month]} ${String(day).padStart(2, ' ')} ${two(h!)}:${two(m!)}:${two(s!)}`;
      const line = parseSyslogLine(`${stamp} h a: x`);
      assert.equal(line.stamp, stamp);
      assert.equal(c.timeOf(line.stamp), Date.UTC(2024, month, day, h, m, s), stamp);
    }
  }
});

test('the replay clock gives a line without a stamp the time of the line before', () => {
  const c = new ReplayClock(2026);
  const t1 = c.timeOf(parseSyslogLine('2026-11-22T06:25:01Z h a: x').stamp);
  assert.equal(c.timeOf(parseSyslogLine('no stamp').stamp), t1);
});

test("a late December line after January has begun is December of the year before, and the year does not move on again", () => {
  const c = new ReplayClock(2025);
  assert.equal(c.timeOf('Dec 31 23:59:50'), Date.UTC(2025, 11, 31, 23, 59, 50));
  assert.equal(c.timeOf('Jan  1 00:00:05'), Date.UTC(2026, 0, 1, 0, 0, 5));
  assert.equal(c.timeOf('Dec 31 23:59:58'), Date.UTC(2025, 11, 31, 23, 59, 58), 'late, from the year before');
  assert.equal(c.timeOf('Jan  1 00:00:10'), Date.UTC(2026, 0, 1, 0, 0, 10), 'still 2026');
  // a quiet stretch forward stays in the year
  const q = new ReplayClock(2025);
  q.timeOf('Jan  5 10:00:00');
  assert.equal(q.timeOf('Aug  5 10:00:00'), Date.UTC(2025, 7, 5, 10));
});
