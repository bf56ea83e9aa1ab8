/**
 * Strict IP address handling.
 *
 * Everything that reaches the kernel list passes through `parseIp`. It accepts
 * only literal addresses in their usual textual forms and returns one
 * canonical text per address, so that the same attacker is counted once
 * whichever way a log spells it:
 *   - IPv4: dotted quad, no leading zeros (`192.030.0.6` is rejected: some
 *     parsers read `030` as octal), ASCII digits only (no fullwidth digits).
 *   - IPv6: RFC 4291 text, written back in RFC 5952 form (lower case,
 *     longest zero run compressed). Zone ids (`fe80::1%eth0`), brackets,
 *     prefixes and anything else are rejected.
 *   - IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes IPv4: an xt_recent entry
 *     written as IPv6 never matches an IPv4 packet.
 */
import { createRequire } from 'node:module';
import type { Address6 as Address6Type } from 'ip-address';

/**
 * ip-address, loaded the first time an IPv6 address with an IPv4 tail
 * needs it: most runs never see one, and every process and thread of
 * banban (the CLI, the daemon, its matching thread) starts 8 ms sooner.
 */
let Address6: typeof Address6Type | undefined;
const loadAddress6 = (): typeof Address6Type => (Address6 ??= (createRequire(import.meta.url)('ip-address') as { Address6: typeof Address6Type }).Address6);

export type IpFamily = 4 | 6;

export interface ParsedIp {
  /** canonical text, as written to the kernel and used as a key */
  readonly text: string;
  readonly family: IpFamily;
  /** network-order bytes: 4 for IPv4, 16 for IPv6 */
  readonly bytes: Uint8Array;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const IPV6_CHARS_RE = /^[0-9A-Fa-f:.]{2,45}$/;
/** longest textual IPv6 address with an embedded IPv4 tail */
const MAX_IP_TEXT = 45;

export function parseIp(raw: string): Parsed<ParsedIp> {
  if (raw.length === 0) return { ok: false, reason: 'empty address' };
  if (raw.length > MAX_IP_TEXT) return { ok: false, reason: 'too long to be an address' };
  const quad = dottedQuad(raw);
  if (quad !== undefined) return { ok: true, value: { text: raw, family: 4, bytes: quad } };
  if (raw.includes(':')) return parseIpv6(raw);
  if (/^[0-9.]+$/.test(raw)) return { ok: false, reason: 'not a dotted-quad IPv4 address (leading zeros, octets over 255, or wrong count)' };
  return { ok: false, reason: 'not a literal IP address' };
}

/**
 * The four bytes of a strict dotted quad (`192.0.2.1`: four decimal
 * octets of 0-255, ASCII digits, no leading zeros), or undefined. Read by
 * character codes: it runs for every address a pattern captures.
 */
function dottedQuad(text: string): Uint8Array | undefined {
  if (text.length < 7 || text.length > 15) return undefined;
  const bytes = new Uint8Array(4);
  let i = 0;
  let octet = 0;
  let digits = 0;
  for (let p = 0; p <= text.length; p++) {
    const c = p < text.length ? text.charCodeAt(p) : 46;
    if (c === 46) {
      // `.`, or the end: an octet of 1-3 digits, no leading zero, at most 255
      if (digits === 0 || octet > 255 || i === 4 || (digits > 1 && text.charCodeAt(p - digits) === 48)) return undefined;
      bytes[i++] = octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      octet = octet * 10 + (c - 48);
      digits++;
    } else {
      return undefined;
    }
  }
  return i === 4 ? bytes : undefined;
}

function parseIpv6(raw: string): Parsed<ParsedIp> {
  if (raw.includes('%')) return { ok: false, reason: 'IPv6 zone ids (%iface) cannot be blocked' };
  if (!IPV6_CHARS_RE.test(raw)) return { ok: false, reason: 'not a literal IPv6 address' };
  let bytes: Uint8Array | undefined;
  if (raw.includes('.')) {
    // An embedded IPv4 tail must be as strict as a plain IPv4 address.
    const tail = raw.slice(raw.lastIndexOf(':') + 1);
    if (dottedQuad(tail) === undefined) return { ok: false, reason: 'bad IPv4 part in IPv6 address' };
    bytes = mixedIpv6Bytes(raw);
  } else {
    bytes = hexIpv6Bytes(raw);
  }
  if (bytes === undefined) return { ok: false, reason: 'not a valid IPv6 address' };
  if (isV4Mapped(bytes)) {
    const v4 = bytes.slice(12);
    return { ok: true, value: { text: formatIpBytes(v4), family: 4, bytes: v4 } };
  }
  return { ok: true, value: { text: formatIpv6(bytes), family: 6, bytes } };
}

/**
 * The address bytes of an IPv6 text of hex groups only (RFC 4291 2.2, forms
 * 1 and 2), or undefined: one to four hex digits a group, eight groups, or
 * fewer with exactly one `::` standing for the zero groups left out. The
 * form in nearly every log line: one pass over the characters.
 */
function hexIpv6Bytes(raw: string): Uint8Array | undefined {
  const groups = new Uint16Array(8);
  let n = 0;
  /** where `::` stood, in groups, or -1 */
  let gap = -1;
  let i = 0;
  const len = raw.length;
  if (raw.charCodeAt(0) === 58 /* : */) {
    if (raw.charCodeAt(1) !== 58) return undefined;
    gap = 0;
    i = 2;
    if (i === len) return new Uint8Array(16); // `::`
  }
  for (;;) {
    let v = 0;
    let digits = 0;
    for (; i < len && digits <= 4; i++, digits++) {
      const d = hexValue(raw.charCodeAt(i));
      if (d < 0) break;
      v = v * 16 + d;
    }
    if (digits === 0 || digits > 4 || n === 8) return undefined;
    groups[n++] = v;
    if (i === len) break;
    if (raw.charCodeAt(i) !== 58) return undefined;
    i++;
    if (raw.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined; // a second `::`
      gap = n;
      i++;
      if (i === len) break;
    }
  }
  if (gap < 0 ? n !== 8 : n > 7) return undefined;
  const bytes = new Uint8Array(16);
  const tail = n - (gap < 0 ? n : gap);
  for (let g = 0; g < n; g++) {
    const at = g < n - tail ? g : 8 - n + g; // groups after the gap go to the end
    bytes[at * 2] = groups[g]! >> 8;
    bytes[at * 2 + 1] = groups[g]! & 0xff;
  }
  return bytes;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** The address bytes of an IPv6 text with an IPv4 tail (`::ffff:192.0.2.7`; the tail already checked), or undefined. */
function mixedIpv6Bytes(raw: string): Uint8Array | undefined {
  let addr: Address6Type;
  try {
    addr = new (loadAddress6())(raw);
  } catch {
    return undefined;
  }
  if (addr.subnetMask !== 128) return undefined;
  const groups = addr.parsedAddress;
  if (groups.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  for (let g = 0; g < 8; g++) {
    const v = parseInt(groups[g]!, 16);
    if (!(v >= 0 && v <= 0xffff)) return undefined;
    bytes[g * 2] = v >> 8;
    bytes[g * 2 + 1] = v & 0xff;
  }
  return bytes;
}

/**
 * The `w`-th 32-bit word of an address's bytes, big-endian, unsigned: how
 * the offence windows key an address, the session memory keeps one and the
 * matching thread sends one (IPv4 is one word, IPv6 four).
 */
export function ipWord(bytes: Uint8Array, w: number): number {
  const k = w * 4;
  return ((bytes[k]! << 24) | (bytes[k + 1]! << 16) | (bytes[k + 2]! << 8) | bytes[k + 3]!) >>> 0;
}

/** Writes `word` (ipWord's) back as the `w`-th four bytes of `bytes`. */
export function putIpWord(bytes: Uint8Array, w: number, word: number): void {
  const k = w * 4;
  bytes[k] = word >>> 24;
  bytes[k + 1] = (word >>> 16) & 255;
  bytes[k + 2] = (word >>> 8) & 255;
  bytes[k + 3] = word & 255;
}

/**
 * The address's text as a string of its own, for what keeps it beyond the
 * line (a ban, a recent unblock, a conntrack request). A dotted quad's
 * `text` is the very substring a pattern captured, which V8 keeps, from 13
 * characters on, as a view into the whole log line: a ban stored with it
 * keeps its line alive (a heap snapshot of the daemon after 5 s of the
 * bench's ban-latency load: 4 443 whole lines held by bans; 4 with this).
 * Rebuilt from the bytes it holds only itself. Other texts are formatted
 * anew already.
 */
export function ownText(ip: ParsedIp): string {
  return ip.family === 4 && ip.text.length >= 13 ? formatIpBytes(ip.bytes) : ip.text;
}

/** The IPv4 address kept as its 32-bit word (`ipWord`), as parseIp would give it. */
export function ipv4FromWord(word: number): ParsedIp {
  const bytes = new Uint8Array(4);
  putIpWord(bytes, 0, word);
  return { text: formatIpBytes(bytes), family: 4, bytes };
}

/**
 * 16 address bytes to banban's canonical text: IPv4 for IPv4-mapped
 * addresses, else RFC 5952 (lower case, no leading zeros, the first longest
 * run of two or more zero groups compressed).
 */
export function formatIpBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (isV4Mapped(bytes)) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  return formatIpv6(bytes);
}

function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

export interface Cidr {
  readonly text: string;
  readonly family: IpFamily;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** `addr/prefix` or a bare address (a /32 or /128). Host bits are masked off. */
export function parseCidr(raw: string): Parsed<Cidr> {
  const slash = raw.indexOf('/');
  const addrText = slash < 0 ? raw : raw.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip.ok) return { ok: false, reason: `${ip.reason}: '${addrText}'` };
  // The limit follows the spelling: an IPv4-mapped network is written with an IPv6 prefix.
  const max = addrText.includes(':') ? 128 : 32;
  // a bare address is one host of its family (an IPv4-mapped one is an IPv4 /32)
  let prefix = ip.value.family === 4 ? 32 : 128;
  if (slash >= 0) {
    const p = raw.slice(slash + 1);
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) {
      return { ok: false, reason: `prefix length '${p}' must be a whole number from 0 to ${max}` };
    }
    // An IPv4-mapped network given in IPv6 form keeps its meaning in IPv4 terms.
    prefix = Number(p);
    if (ip.value.family === 4 && addrText.includes(':')) {
      if (prefix < 96) return { ok: false, reason: 'an IPv4-mapped network needs a prefix of at least 96' };
      prefix -= 96;
    }
  }
  const bytes = Uint8Array.from(ip.value.bytes);
  maskBytes(bytes, prefix);
  const text = `${formatBytes(bytes, ip.value.family)}/${prefix}`;
  return { ok: true, value: { text, family: ip.value.family, bytes, prefix } };
}

function maskBytes(bytes: Uint8Array, prefix: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i]! &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
}

/**
 * An IPv6 address as the network of `prefix` bits it is in (`ipv6_prefix`):
 * the address itself when it is IPv4, the prefix is 128, or no host bit is set.
 */
export function ipv6Network(ip: ParsedIp, prefix: number): ParsedIp {
  if (ip.family === 4 || prefix >= 128) return ip;
  const bytes = Uint8Array.from(ip.bytes);
  maskBytes(bytes, prefix);
  let same = true;
  for (let i = 0; i < 16 && same; i++) same = bytes[i] === ip.bytes[i];
  return same ? ip : { text: formatIpv6(bytes), family: 6, bytes };
}

/** xt_recent's `--mask` for an IPv6 prefix: ffff:ffff:ffff:ffff:: for 64 */
export function v6Mask(prefix: number): string {
  const bytes = new Uint8Array(16).fill(0xff);
  maskBytes(bytes, prefix);
  return formatIpv6(bytes);
}

function formatBytes(bytes: Uint8Array, family: IpFamily): string {
  return family === 4 ? bytes.join('.') : formatIpv6(bytes);
}

/** A set of networks; `contains` is a linear scan, fine for the handful an admin lists. */
export class NetSet {
  readonly #nets: readonly Cidr[];
  constructor(nets: readonly Cidr[]) {
    this.#nets = nets;
  }
  get size(): number {
    return this.#nets.length;
  }

  /** These networks and `more`. */
  with(more: readonly Cidr[]): NetSet {
    return more.length === 0 ? this : new NetSet([...this.#nets, ...more]);
  }

  contains(ip: ParsedIp): boolean {
    for (const net of this.#nets) {
      if (net.family === ip.family && prefixEqual(net.bytes, ip.bytes, net.prefix)) return true;
    }
    return false;
  }

  /**
   * Whether any of the networks shares an address with the IPv6 network of
   * `v6prefix` bits that `ip` starts (ipv6Network): a network counted and
   * banned as a whole is ignored as a whole when it holds an address never
   * to be blocked. For IPv4, or v6prefix 128, the same as `contains`.
   */
  touches(ip: ParsedIp, v6prefix: number): boolean {
    if (ip.family === 4 || v6prefix >= 128) return this.contains(ip);
    for (const net of this.#nets) {
      if (net.family === 6 && prefixEqual(net.bytes, ip.bytes, Math.min(net.prefix, v6prefix))) return true;
    }
    return false;
  }
}

function prefixEqual(net: Uint8Array, ip: Uint8Array, prefix: number): boolean {
  let i = 0;
  for (; prefix >= 8; prefix -= 8, i++) if (net[i] !== ip[i]) return false;
  if (prefix === 0) return true;
  const mask = (0xff << (8 - prefix)) & 0xff;
  return (ip[i]! & mask) === (net[i]! & mask); // net may hold bits past `prefix` (touches)
}
