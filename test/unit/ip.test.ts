import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipv6Network, NetSet, ownText, parseIp, parseCidr } from '../../src/lib/ip.js';

const GOOD: [string, string][] = [
  ['192.0.2.7', '192.0.2.7'],
  ['0.0.0.0', '0.0.0.0'],
  ['255.255.255.255', '255.255.255.255'],
  ['2001:DB8:0:0::1', '2001:db8::1'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
  ['::ffff:192.0.2.7', '192.0.2.7'],
  ['::FFFF:c000:0207', '192.0.2.7'],
  ['::1', '::1'],
];
for (const [raw, canonical] of GOOD) {
  test(`${raw} is accepted and written as ${canonical}`, () => {
    const r = parseIp(raw);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.value.text, canonical);
  });
}

test('ownText gives the same canonical text, cut out of a log line or not, for both families', () => {
  const line = 'sshd[4242]: Failed password for root from 203.0.113.117 port 50022 ssh2';
  for (const raw of [/from (\S+) port/.exec(line)![1]!, '192.0.2.7', '255.255.255.255', '2001:db8::1', '::ffff:198.51.100.200']) {
    const ip = parseIp(raw);
    assert.ok(ip.ok);
    assert.equal(ownText(ip.value), ip.value.text);
  }
});

const BAD = [
  '192.030.0.6', '01.2.3.4', '1.2.3', '1.2.3.4.5', '256.1.1.1', '１.２.３.４', 'fe80::1%eth0', '[2001:db8::1]',
  'example.com', 'ALL', '', '2001:db8::/64', '1.2.3.4/32', '::ffff:01.2.3.4', ' 1.2.3.4', '1.2.3.4 ', '2001:db8::1::2',
  'unknown', '1.2.3.4\n',
];
for (const raw of BAD) {
  test(`${JSON.stringify(raw)} is refused`, () => {
    assert.equal(parseIp(raw).ok, false);
  });
}

test('ignorenets match IPv4, IPv6 and mapped addresses by prefix', () => {
  const nets = new NetSet(['10.0.0.0/8', '2001:db8:1::/48', '192.0.2.7'].map((c) => {
    const r = parseCidr(c);
    assert.ok(r.ok);
    return r.value;
  }));
  const has = (s: string) => {
    const r = parseIp(s);
    assert.ok(r.ok);
    return nets.contains(r.value);
  };
  assert.equal(has('10.200.3.4'), true);
  assert.equal(has('11.0.0.1'), false);
  assert.equal(has('::ffff:10.1.1.1'), true);
  assert.equal(has('2001:db8:1:ffff::1'), true);
  assert.equal(has('2001:db8:2::1'), false);
  assert.equal(has('192.0.2.7'), true);
  assert.equal(has('192.0.2.8'), false);
});

test('a CIDR with host bits set is masked, and a bad prefix is refused', () => {
  const r = parseCidr('10.1.2.3/8');
  assert.ok(r.ok);
  assert.equal(r.value.text, '10.0.0.0/8');
  assert.equal(parseCidr('10.0.0.0/33').ok, false);
  assert.equal(parseCidr('10.0.0.0/08').ok, false);
  assert.equal(parseCidr('2001:db8::/129').ok, false);
  const mapped = parseCidr('::ffff:192.0.2.0/120');
  assert.ok(mapped.ok);
  assert.equal(mapped.value.text, '192.0.2.0/24');
  assert.equal(parseCidr('::ffff:192.0.2.0/95').ok, false);
  // a bare IPv4-mapped address is the IPv4 host, a /32
  const host = parseCidr('::ffff:203.0.113.9');
  assert.ok(host.ok);
  assert.deepEqual([host.value.text, host.value.family, host.value.prefix], ['203.0.113.9/32', 4, 32]);
});

test('kernel list lines are read back in canonical form, IPv6 printed in full included', async () => {
  const { parseList } = await import('../../src/enforce/xt-recent.js');
  const text = 'src=192.0.2.7 ttl: 0 last_seen: 4295084304 oldest_pkt: 1 4295084304\nsrc=2001:0db8:0000:0000:0000:0000:0000:0001 ttl: 0 last_seen: 4295084304 oldest_pkt: 1 4295084304\n';
  assert.deepEqual(parseList(text, undefined).map((e) => e.ip), ['192.0.2.7', '2001:db8::1']);
  assert.deepEqual(parseList(text, { now: 4295084304 + 250 * 10, hz: 250 }).map((e) => e.ageSeconds), [10, 10]);
  // a plain folder's list: commands replayed in order, after any kernel lines; no newline at the end
  const plain = `${text}+192.0.2.8\n-192.0.2.7\n+2001:db8::2\n/\n+192.0.2.9\n+192.0.2.10\n-192.0.2.9\n+192.0.2.10`;
  assert.deepEqual(parseList(plain, undefined).map((e) => e.ip), ['192.0.2.10']);
  assert.deepEqual(parseList(plain.slice(0, plain.indexOf('/')), undefined).map((e) => e.ip), ['2001:db8::1', '192.0.2.8', '2001:db8::2']);
  assert.deepEqual(parseList('', undefined), []);
  assert.deepEqual(parseList('\n\nsrc=192.0.2.1', undefined).map((e) => e.ip), ['192.0.2.1']);
});

test('the IPv6 parser agrees with ip-address on 150 000 generated hex-group texts, valid and not', async () => {
  const { Address6 } = await import('ip-address');
  /** what ip-address makes of it: 16 bytes, or 'bad' */
  const oracle = (raw: string): string => {
    let a: InstanceType<typeof Address6>;
    try {
      a = new Address6(raw);
    } catch {
      return 'bad';
    }
    if (a.subnetMask !== 128 || a.parsedAddress.length !== 8) return 'bad';
    return a.parsedAddress.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255]).join(',');
  };
  let seed = 7;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return Math.floor((seed / 0x80000000) * n);
  };
  const HEX = '0123456789abcdefABCDEF';
  let valid = 0;
  for (let k = 0; k < 150_000; k++) {
    // groups of 0 to 5 hex digits joined by ':', sometimes with one more ':' somewhere, or random noise
    let s: string;
    if (k % 4 === 0) {
      s = Array.from({ length: 2 + rnd(18) }, () => `${HEX}::::`[rnd(HEX.length + 4)]).join('');
    } else {
      s = Array.from({ length: 1 + rnd(9) }, () => Array.from({ length: rnd(6) }, () => HEX[rnd(HEX.length)]).join('')).join(':');
      if (rnd(3) === 0) {
        const at = rnd(s.length + 1);
        s = `${s.slice(0, at)}:${s.slice(at)}`;
      }
    }
    if (!s.includes(':') || s.length < 2 || s.length > 45) continue;
    const r = parseIp(s);
    const got = !r.ok ? 'bad' : r.value.family === 6 ? [...r.value.bytes].join(',') : `0,0,0,0,0,0,0,0,0,0,255,255,${[...r.value.bytes].join(',')}`;
    assert.equal(got, oracle(s), JSON.stringify(s));
    if (got !== 'bad') valid++;
  }
  assert.ok(valid > 4_000, `only ${valid} valid addresses were generated: the comparison says little`);
});

test('ipv6Network gives an IPv6 address its network, canonical; NetSet.touches tells whether a network shares an address with the listed ones', () => {
  const v6 = (s: string) => {
    const r = parseIp(s);
    assert.ok(r.ok);
    return r.value;
  };
  assert.equal(ipv6Network(v6('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), 64).text, '2001:db8:1:2::');
  assert.equal(ipv6Network(v6('2001:db8:1:2ff::1'), 56).text, '2001:db8:1:200::');
  const already = v6('2001:db8:1:2::');
  assert.equal(ipv6Network(already, 64), already, 'no host bit set: the same object');
  const four = v6('192.0.2.7');
  assert.equal(ipv6Network(four, 64), four, 'IPv4 is left as it is');
  const nets = new NetSet(
    ['2001:db8:5:6::77', '2001:db8:f000::/36', '10.0.0.0/8'].map((c) => {
      const r = parseCidr(c);
      assert.ok(r.ok);
      return r.value;
    }),
  );
  assert.equal(nets.touches(v6('2001:db8:5:6::'), 64), true, 'a single address inside the /64');
  assert.equal(nets.touches(v6('2001:db8:5:7::'), 64), false);
  assert.equal(nets.touches(v6('2001:db8:f123:4::'), 64), true, 'the /64 inside a listed /36');
  assert.equal(nets.touches(v6('2001:db8:e000::'), 48), false);
  assert.equal(nets.touches(v6('2001:db8:5:6::78'), 128), false, 'at 128 the same as contains');
  assert.equal(nets.touches(v6('10.1.2.3'), 64), true, 'IPv4 as contains');
});
