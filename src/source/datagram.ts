/**
 * Bytes of one datagram to the text of one syslog line, or the reason it is
 * skipped. Pure; runs once per datagram.
 *
 *   - empty: skipped;
 *   - longer than `max_line`, or as long as the receive buffer (unix-dgram
 *     does not report MSG_TRUNC, so a full buffer may be a cut datagram):
 *     skipped, because a cut line can end in a cut address (`from
 *     203.0.113.45 port 22` cut to `from 203.0.113.4`);
 *   - a NUL byte: skipped; no syslog daemon sends one, so the datagram did
 *     not come from one;
 *   - invalid UTF-8 is decoded as U+FFFD, which can never form an address;
 *   - a line break inside the message (one trailing newline is the template's
 *     and is dropped): the message is cut there. The head of a message is
 *     what the logging program wrote (its tag); what follows a line break
 *     inside it is, at best, a second record a program should not have
 *     logged that way and, at worst, a forged line. rsyslog escapes such
 *     characters itself (#012), so this only happens with other senders.
 */
export type Decoded =
  | { ok: true; line: string; cut: boolean }
  | { ok: false; reason: 'empty' | 'too long' | 'truncated' | 'NUL byte' };

export function decodeDatagram(buf: Buffer, maxLine: number, receiveBuffer: number): Decoded {
  const len = buf.length;
  if (len === 0) return { ok: false, reason: 'empty' };
  if (len >= receiveBuffer) return { ok: false, reason: 'truncated' };
  let end = len;
  if (buf[end - 1] === 0x0a) end--;
  if (end > 0 && buf[end - 1] === 0x0d) end--;
  if (end > maxLine) return { ok: false, reason: 'too long' };
  const nul = buf.indexOf(0);
  if (nul !== -1 && nul < end) return { ok: false, reason: 'NUL byte' };
  let cut = false;
  const nl = buf.indexOf(0x0a, 0);
  if (nl !== -1 && nl < end) {
    end = nl;
    cut = true;
  }
  const cr = buf.indexOf(0x0d, 0);
  if (cr !== -1 && cr < end) {
    end = cr;
    cut = true;
  }
  return { ok: true, line: buf.toString('utf8', 0, end), cut };
}
