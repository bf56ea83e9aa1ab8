import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIp, type ParsedIp } from '../../src/lib/ip.js';
import { ReplayEntries, type RepeatedEnd, type ReplayMatch } from '../../src/replay-matches.js';

const ip = (text: string): ParsedIp => {
  const p = parseIp(text);
  if (!p.ok) throw new Error(`${text}: ${p.reason}`);
  return p.value;
};

test('the matches as JSON are, byte for byte, what JSON.stringify makes of them, across many chunks', () => {
  const addrs = ['0.0.0.0', '255.255.255.255', '192.0.2.7', '10.1.20.255', '2001:db8::1', '::', 'fe80::1:2:3:4', '::ffff:198.51.100.9'].map(ip);
  // a name JSON must escape, and one in UTF-8 past ASCII
  const blocktypes = [undefined, 'ssh', 'odd"name\\', 'été'];
  const lines = [1, 9, 10, 99, 100, 65_535, 2 ** 32 + 5, 2 ** 40];
  const m = ReplayEntries.matches();
  const expected: ReplayMatch[] = [];
  for (let i = 0; i < 40_000; i++) {
    const a = addrs[i % addrs.length]!;
    const bt = blocktypes[(i >> 3) % blocktypes.length];
    const ignored = i % 7 === 0;
    const line = i < lines.length ? lines[i]! : 2 ** 40 + i;
    m.push(line, bt, a, ignored);
    const e: ReplayMatch = bt === undefined ? { line, kind: 'good', ip: a.text } : { line, kind: 'bad', blocktype: bt, ip: a.text };
    if (ignored) e.ignored = true;
    expected.push(e);
  }
  const chunks = m.jsonChunks();
  assert.ok(chunks.length > 5, `40 000 matches fill several chunks (${chunks.length})`);
  assert.equal(Buffer.concat(chunks).toString('utf8'), JSON.stringify(expected));
  assert.equal(JSON.stringify(m), JSON.stringify(expected));
  assert.deepEqual([...m], expected);
  assert.equal(m.length, 40_000);
  assert.equal(m.ignored, expected.filter((e) => e.ignored).length);
  assert.deepEqual(m.at(7), expected[7]);
  assert.equal(m.at(40_000), undefined);
  assert.deepEqual(m.at(-1), expected[39_999], 'a negative index counts from the end, as Array.prototype.at');
  assert.equal(m.at(-40_001), undefined);
  assert.equal(m.at(1.5), undefined);
});

test('the repeated ends, which have no kind, are as JSON what JSON.stringify makes of them', () => {
  const r = ReplayEntries.repeatedEnds();
  const expected: RepeatedEnd[] = [];
  for (let i = 0; i < 30_000; i++) {
    const a = ip(i % 3 === 0 ? `2001:db8::${(i % 65_535).toString(16)}` : `198.18.${i % 256}.${(i * 7) % 256}`);
    const blocktype = i % 2 === 0 ? 'sshd' : 'odd"name';
    r.push(i + 1, blocktype, a);
    expected.push({ line: i + 1, blocktype, ip: a.text });
  }
  assert.equal(Buffer.concat(r.jsonChunks()).toString('utf8'), JSON.stringify(expected));
  assert.deepEqual([...r], expected);
  assert.equal(r.ignored, 0);
});

test('a blocktype whose name is longer than a buffer still gets its entries written, one buffer each', () => {
  const long = `b${'x'.repeat(300_000)}`;
  const m = ReplayEntries.matches();
  const r = ReplayEntries.repeatedEnds();
  const expected: ReplayMatch[] = [];
  const expectedEnds: RepeatedEnd[] = [];
  for (let i = 1; i <= 5; i++) {
    m.push(i, long, ip('192.0.2.1'), false);
    r.push(i, long, ip('2001:db8::1'));
    expected.push({ line: i, kind: 'bad', blocktype: long, ip: '192.0.2.1' });
    expectedEnds.push({ line: i, blocktype: long, ip: '2001:db8::1' });
  }
  assert.equal(Buffer.concat(m.jsonChunks()).toString('utf8'), JSON.stringify(expected));
  assert.equal(Buffer.concat(r.jsonChunks()).toString('utf8'), JSON.stringify(expectedEnds));
});

test('no entries are an empty JSON array', () => {
  for (const m of [ReplayEntries.matches(), ReplayEntries.repeatedEnds()]) {
    assert.equal(Buffer.concat(m.jsonChunks()).toString(), '[]');
    assert.deepEqual([...m], []);
    assert.equal(m.length, 0);
  }
});
