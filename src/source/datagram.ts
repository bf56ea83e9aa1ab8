/**
 * Bytes of one datagram to the text of one syslog line, or the reason it is
 * skipped. Pure.
 *
 *   - empty: skipped;
 *   - as long as the receive buffer: possibly truncated, and truncation can
 *     turn `from 203.0.113.45 port 22` into `from 203.0.113.4`: skipped;
 *   - invalid UTF-8 is decoded with U+FFFD, so it can never form an address;
 *   - one datagram is one message, whatever newlines it holds: syslog daemons
 *     send one message per datagram.
 */
export type Decoded = { ok: true; line: string } | { ok: false; reason: 'empty' | 'truncated' };

export function decodeDatagram(buf: Buffer, maxBytes: number): Decoded {
  if (buf.length === 0) return { ok: false, reason: 'empty' };
  if (buf.length >= maxBytes) return { ok: false, reason: 'truncated' };
  return { ok: true, line: buf.toString('utf8') };
}
