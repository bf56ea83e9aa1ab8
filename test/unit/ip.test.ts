import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetSet, parseCidr, parseIp } from '../../src/lib/ip.js';

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
});

test('kernel list lines are read back in canonical form, IPv6 printed in full included', async () => {
  const { parseList } = await import('../../src/enforce/xt-recent.js');
  const text = 'src=192.0.2.7 ttl: 0 last_seen: 4295084304 oldest_pkt: 1 4295084304\nsrc=2001:0db8:0000:0000:0000:0000:0000:0001 ttl: 0 last_seen: 4295084304 oldest_pkt: 1 4295084304\n';
  assert.deepEqual(parseList(text, undefined).map((e) => e.ip), ['192.0.2.7', '2001:db8::1']);
  assert.deepEqual(parseList(text, { now: 4295084304 + 250 * 10, hz: 250 }).map((e) => e.ageSeconds), [10, 10]);
});
