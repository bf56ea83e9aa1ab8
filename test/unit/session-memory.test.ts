import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIp, type ParsedIp } from '../../src/lib/ip.js';
import { SessionMemory } from '../../src/track/session-memory.js';

const ip = (s: string): ParsedIp => {
  const p = parseIp(s);
  if (!p.ok) throw new Error(s);
  return p.value;
};

test('a process gives back the address it named last, IPv4 or IPv6, as parseIp makes it', () => {
  const m = new SessionMemory(10, 1000);
  for (const a of ['192.0.2.7', '255.255.255.255', '0.0.0.0', '2001:db8::1', '198.51.100.200']) {
    m.note('sshd[1]', ip(a), 0);
    assert.deepEqual(m.get('sshd[1]', 0), ip(a));
  }
  assert.equal(m.size, 1, 'one process, noted five times');
  assert.equal(m.get('sshd[2]', 0), undefined);
});

test('past the TTL an address is not given, and the process leaves as new ones come', () => {
  const m = new SessionMemory(10, 1000);
  m.note('a[1]', ip('192.0.2.1'), 0);
  m.note('b[2]', ip('192.0.2.2'), 500);
  assert.deepEqual(m.get('a[1]', 1000), ip('192.0.2.1'));
  assert.equal(m.get('a[1]', 1001), undefined);
  m.note('c[3]', ip('192.0.2.3'), 1001); // a[1] is past the TTL: it goes
  assert.equal(m.size, 2);
  m.note('b[2]', ip('192.0.2.4'), 1400); // noted again: fresh, though first in the ring
  m.note('d[4]', ip('192.0.2.5'), 2300); // c[3] is past it, but b[2] is ahead of it and fresh: both stay
  assert.equal(m.size, 3);
  assert.deepEqual(m.get('b[2]', 2300), ip('192.0.2.4'));
});

test('at most cap processes: the one noted first goes first, and its slot serves the next', () => {
  const m = new SessionMemory(3, 1e9);
  for (let i = 1; i <= 3; i++) m.note(`p[${i}]`, ip(`192.0.2.${i}`), i);
  m.note('p[1]', ip('2001:db8::1'), 4); // noted again: keeps its place
  m.note('p[4]', ip('192.0.2.4'), 5); // full: p[1] goes, and p[4] takes its slot
  assert.equal(m.get('p[1]', 5), undefined);
  assert.deepEqual(m.get('p[4]', 5), ip('192.0.2.4'), 'not the IPv6 address the slot held before');
  assert.deepEqual(m.get('p[2]', 5), ip('192.0.2.2'));
  assert.equal(m.size, 3);
});

test('the process noted last is found again after it left the memory and came back', () => {
  const m = new SessionMemory(2, 1e9);
  m.note('p[1]', ip('192.0.2.1'), 1);
  m.note('p[2]', ip('192.0.2.2'), 2);
  m.note('p[3]', ip('192.0.2.3'), 3); // p[1] goes; its slot is p[3]'s now
  m.note('p[3]', ip('192.0.2.33'), 4); // the one noted last, noted again
  m.note('p[1]', ip('192.0.2.11'), 5); // back: p[2] goes
  assert.deepEqual(m.get('p[3]', 5), ip('192.0.2.33'));
  assert.deepEqual(m.get('p[1]', 5), ip('192.0.2.11'));
  assert.equal(m.get('p[2]', 5), undefined);
  // p[3] was noted last but one; p[1] last. Two more push both out, the last one noted included.
  m.note('p[4]', ip('192.0.2.4'), 6);
  m.note('p[5]', ip('192.0.2.5'), 7);
  m.note('p[1]', ip('192.0.2.111'), 8); // p[1] left at p[5]'s note: a new slot, not p[5]'s
  assert.deepEqual(m.get('p[5]', 8), ip('192.0.2.5'));
  assert.deepEqual(m.get('p[1]', 8), ip('192.0.2.111'));
  assert.equal(m.size, 2);
});

test("a process's end is claimed once per bit, again once it names another address or its memory expires, and a slot reused by a new process starts unclaimed", () => {
  const m = new SessionMemory(2, 1000);
  m.note('sshd[1]', ip('2001:db8::5'), 0);
  assert.equal(m.claimEnd('sshd[1]', 1, 1), true);
  assert.equal(m.claimEnd('sshd[1]', 1, 2), false);
  assert.equal(m.claimEnd('sshd[1]', 2, 3), true, 'another blocktype');
  m.note('sshd[1]', ip('2001:db8::5'), 4);
  assert.equal(m.claimEnd('sshd[1]', 1, 5), false, 'the same address again: the same connection');
  m.note('sshd[1]', ip('2001:db8::6'), 6);
  assert.equal(m.claimEnd('sshd[1]', 1, 7), true, 'another address: another connection');
  m.note('sshd[1]', ip('2001:db8::6'), 2000);
  assert.equal(m.claimEnd('sshd[1]', 1, 2001), true, 'quiet past the TTL: claimed afresh');
  assert.equal(m.claimEnd('sshd[9]', 1, 2002), true, 'a process never noted: nothing to hold it against');
  assert.equal(m.claimEnd('sshd[9]', 1, 2003), true);
  // v4: the address is kept as a number
  m.note('sshd[2]', ip('192.0.2.1'), 3000);
  assert.equal(m.claimEnd('sshd[2]', 1, 3000), true);
  m.note('sshd[2]', ip('192.0.2.1'), 3001);
  assert.equal(m.claimEnd('sshd[2]', 1, 3001), false);
  // two more processes push sshd[1] and sshd[2] out; their slots come back unclaimed
  m.note('sshd[3]', ip('192.0.2.1'), 3002);
  m.note('sshd[4]', ip('192.0.2.1'), 3003);
  assert.equal(m.claimEnd('sshd[3]', 1, 3004), true);
  assert.equal(m.claimEnd('sshd[4]', 1, 3004), true);
});

test('over 200 000 random notes and lookups the memory answers as a plain ordered Map of it would', () => {
  // The model: processes in the order first noted, each with its last address and time.
  const cap = 64;
  const ttl = 1000;
  const model = new Map<string, { ip: ParsedIp; at: number }>();
  const m = new SessionMemory(cap, ttl);
  let seed = 11;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return Math.floor((seed / 0x80000000) * n);
  };
  const tags = Array.from({ length: 300 }, (_, i) => `${['sshd', 'postfix/smtpd', 'x'][i % 3]}[${rnd(100_000)}]`);
  const ips = Array.from({ length: 50 }, (_, i) => ip(i % 5 === 0 ? `2001:db8::${i}` : `192.0.2.${i}`));
  let now = 0;
  for (let k = 0; k < 200_000; k++) {
    now += rnd(10) === 0 ? rnd(1500) : rnd(3);
    const tag = tags[rnd(tags.length)]!;
    if (rnd(2) === 0) {
      const a = ips[rnd(ips.length)]!;
      const had = model.get(tag);
      if (had) {
        had.ip = a;
        had.at = now;
      } else {
        for (const [first, e] of model) {
          if (model.size < cap && now - e.at <= ttl) break;
          model.delete(first);
        }
        model.set(tag, { ip: a, at: now });
      }
      m.note(tag, a, now);
    }
    const asked = tags[rnd(tags.length)]!;
    const e = model.get(asked);
    assert.deepEqual(m.get(asked, now), e && now - e.at <= ttl ? e.ip : undefined, `step ${k}: ${asked}`);
    assert.equal(m.size, model.size, `step ${k}`);
  }
});

test('a memory full to its cap, turned over many times, finds exactly the processes it holds', () => {
  // Every new process pushes out the oldest: the table's entries are taken out and put in
  // across its whole length, wrapping at its end, and each lookup must still find its own.
  const cap = 1000;
  const m = new SessionMemory(cap, 1e12);
  const a = ip('192.0.2.1');
  const b = ip('2001:db8::1');
  for (let i = 0; i < 50_000; i++) {
    m.note(`sshd[${i}]`, i % 2 ? a : b, i);
    if (i % 997 === 0) {
      for (let k = Math.max(0, i - cap - 50); k <= i; k++) {
        const held = k > i - cap;
        assert.deepEqual(m.get(`sshd[${k}]`, i), held ? (k % 2 ? a : b) : undefined, `after ${i}: sshd[${k}]`);
      }
    }
  }
  assert.equal(m.size, cap);
});
