/**
 * Every address the end-to-end tests use, in one place.
 *
 * They come from the documentation ranges (RFC 5737, RFC 3849) and exist only
 * on the veth pair between the two namespaces a test creates; the namespaces
 * have no default route, so no packet can leave them for a real network.
 */

/** the server namespace's side of the veth */
export const SERVER4 = '192.0.2.1';
export const SERVER6 = '2001:db8:bb::1';
/** the client namespace's main address: the "attacker" */
export const CLIENT4 = '192.0.2.2';
export const CLIENT6 = '2001:db8:bb::2';
/** a second client address that the daemon's ignorenets covers */
export const CLIENT4_IGNORED = '192.0.2.3';
export const PREFIX4 = 24;
export const PREFIX6 = 64;

/**
 * Addresses that only ever appear in injected log lines: the daemon writes
 * them into a kernel list, no packet is sent to or from them.
 */
export function paperAddress(n: number): string {
  if (n < 1 || n > 254) throw new Error(`paper address index out of range: ${n}`);
  return `203.0.113.${n}`;
}

/**
 * Addresses for barrier lines (see daemon.ts `barrier`): written into the
 * BARRIER list only.
 */
let barrierSeq = 0;
export function nextBarrierAddress(): string {
  barrierSeq++;
  if (barrierSeq > 254) throw new Error('out of barrier addresses');
  return `198.51.100.${barrierSeq}`;
}

/**
 * The kernel prints IPv6 list entries fully expanded
 * (2001:0db8:00bb:0000:...); bring any address text to one spelling so that
 * lists and expectations can be compared.
 */
export function normalizeIp(text: string): string {
  if (!text.includes(':')) return text;
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...zeros, ...t].map((g) => g.toLowerCase().padStart(4, '0')).join(':');
}
