import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ListEntry, ListWriter } from '../../src/enforce/backend.js';
import { packBans, snapshotBans } from '../../src/enforce/ban-columns.js';
import { bansUnder, Enforcer, UNBLOCKS_KEPT } from '../../src/enforce/enforcer.js';
import { parseConfig } from '../../src/config/load.js';
import { ip, logCollector } from '../helpers/values.js';

/** A kernel stand-in for the enforcer's own logic; the real lists are tested in e2e. */
class MemoryLists implements ListWriter {
  lists = new Map<string, string[]>();
  missing = new Set<string>();
  write(target: string, op: '+' | '-', ip: string): void {
    if (this.missing.has(target) || !this.lists.has(target)) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    const l = this.lists.get(target)!.filter((x) => x !== ip);
    if (op === '+') l.push(ip);
    this.lists.set(target, l);
  }
  read(target: string): ListEntry[] {
    return (this.lists.get(target) ?? []).map((ip) => ({ ip, ageSeconds: undefined }));
  }
  targets(): string[] {
    return [...this.lists.keys()];
  }
  identity(target: string): number | undefined {
    return this.lists.has(target) ? 1 : undefined;
  }
}

/** Makes the stand-in refuse every write with `code` until the function returned is called. */
function refuseWrites(lists: MemoryLists, code: string): () => void {
  const write = lists.write.bind(lists);
  let refuse = true;
  lists.write = (target, op, addr) => {
    if (refuse) throw Object.assign(new Error(code), { code });
    write(target, op, addr);
  };
  return () => {
    refuse = false;
  };
}

const block = (a: string, target = 'BLOCKER') => ({ kind: 'block' as const, ip: ip(a), target, blocktype: 'ssh', resetconns: false, bantime: 3600, offences: 3 });

test('a ban due while its list is missing stays active and is written when the list appears', () => {
  const lists = new MemoryLists();
  const { lines, log } = logCollector();
  const e = new Enforcer({ writer: lists, log });
  e.apply(block('192.0.2.1'));
  assert.equal(e.activeCount, 1);
  assert.ok(lines.some((l) => String(l['msg']).includes('no iptables rule uses --name BLOCKER')));
  assert.equal(e.prime('BLOCKER'), 0);
  lists.lists.set('BLOCKER', []);
  assert.equal(e.prime('BLOCKER'), 1);
  assert.deepEqual(lists.lists.get('BLOCKER'), ['192.0.2.1']);
  assert.equal(e.prime('BLOCKER'), 0, 'what the list holds is not written again');
});

test('an unblock ends the active ban, so a list made anew does not get it back', () => {
  const lists = new MemoryLists();
  const { log } = logCollector();
  const e = new Enforcer({ writer: lists, log });
  e.apply(block('192.0.2.1'));
  e.apply({ kind: 'unblock', ip: ip('192.0.2.1'), targets: ['BLOCKER'] });
  lists.lists.set('BLOCKER', []);
  e.prime('BLOCKER');
  assert.deepEqual(lists.lists.get('BLOCKER'), []);
});

test('a write refused for another reason is retried, and a later unblock supersedes it', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { log } = logCollector();
  const e = new Enforcer({ writer: lists, log });
  const write = lists.write.bind(lists);
  lists.write = () => {
    throw Object.assign(new Error('EIO'), { code: 'EIO' });
  };
  e.apply(block('192.0.2.1'));
  e.apply(block('192.0.2.2'));
  assert.equal(e.pendingCount, 2);
  e.apply({ kind: 'unblock', ip: ip('192.0.2.2'), targets: ['BLOCKER'] });
  lists.write = write;
  assert.equal(e.retryPending(), 0);
  assert.deepEqual(lists.lists.get('BLOCKER'), ['192.0.2.1']);
});

test('bans past their bantime are neither primed nor saved', () => {
  const lists = new MemoryLists();
  const { log } = logCollector();
  let now = 1_000_000;
  const e = new Enforcer({ writer: lists, log, now: () => now });
  e.apply(block('192.0.2.1'));
  now += 3_600_001;
  lists.lists.set('BLOCKER', []);
  assert.equal(e.prime('BLOCKER'), 0);
  assert.deepEqual(e.snapshot(), []);
});

test('the bans in columns, for the saving thread, read back as the bans of `snapshot`, the expired left out and dropped', () => {
  const lists = new MemoryLists();
  const { log } = logCollector();
  let now = 1_000_000;
  const e = new Enforcer({ writer: lists, log, now: () => now });
  e.apply({ ...block('192.0.2.1'), bantime: 10 });
  now += 5;
  e.apply({ ...block('2001:db8::2', 'MAIL'), blocktype: 'postfix' });
  now += 5;
  e.apply(block('192.0.2.3'));
  now += 5;
  e.apply({ ...block('192.0.2.1'), bantime: 10 }); // banned again: its record changes in place, its place in its list stays
  now += 9_999; // the first ban of 192.0.2.1 would be over by now; its second is not
  const s = packBans(e.live(), e.activeCount);
  assert.equal(s.count, 3);
  assert.deepEqual(snapshotBans(s), e.snapshot());
  assert.deepEqual(
    snapshotBans(s).map((b) => [b.ip, b.target, b.blocktype, b.at]),
    [
      ['2001:db8::2', 'MAIL', 'postfix', 1_000_005],
      ['192.0.2.3', 'BLOCKER', 'ssh', 1_000_010],
      ['192.0.2.1', 'BLOCKER', 'ssh', 1_000_015],
    ],
    'oldest first',
  );
  now += 2;
  assert.deepEqual(snapshotBans(packBans(e.live(), e.activeCount)).map((b) => b.ip), ['2001:db8::2', '192.0.2.3']);
  assert.equal(e.activeCount, 2, 'the walk dropped the expired ban');
  assert.deepEqual(snapshotBans(packBans([], 0)), []);
  assert.deepEqual(snapshotBans(packBans(e.live(), 1)).map((b) => b.ip), ['192.0.2.3'], 'no more than `most`: the first met');
});

/** An enforcer on a list of `capacity` (MemoryLists); `apply` takes a decision 10 ms after the one before, `run` bans addr(0) to addr(count - 1). */
function afterBans(capacity: number, count: number, addr: (i: number) => string) {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { lines, log } = logCollector();
  const clock = { now: 1_000_000 };
  const e = new Enforcer({ writer: lists, log, capacity, now: () => clock.now });
  const apply = (d: ReturnType<typeof block>) => {
    clock.now += 10;
    e.apply(d);
  };
  const run = () => {
    for (let i = 0; i < count; i++) apply(block(addr(i)));
  };
  return { lists, lines, e, apply, run };
}

test('verify after a flood: the bans a full list still holds stay, in the order they were taken, and the oldest gone are named', () => {
  const addr = (i: number) => `198.18.${i >> 8}.${i & 255}`;
  const { lists, lines, e, apply, run } = afterBans(4, 5000, addr);
  // a long ban of the address that will be re-banned last (kept as it is, taken again)
  apply({ ...block(addr(3)), bantime: 86_400 });
  run();
  apply(block(addr(3))); // re-banned: the longer ban stays, taken in last
  // the kernel list holds four of them, in an order of its own, one printed twice (read while it changed)
  lists.lists.set('BLOCKER', [addr(4999), addr(3), addr(4997), addr(4998), addr(4997)]);
  assert.equal(e.verify(), 4996);
  assert.equal(e.activeCount, 4);
  const w = lines.find((l) => String(l['msg']).includes('evicted 4996'));
  assert.deepEqual(w?.['sample'], [addr(0), addr(1), addr(2), addr(4), addr(5)]);
  // lowering the cap forgets the oldest taken first: 4997, then 4998; the re-banned 3 is the newest
  e.setMaxEntries(2);
  assert.deepEqual(
    e.snapshot().map((b) => b.ip),
    [addr(3), addr(4999)],
  );
  assert.equal(e.verify(), 0);
});

test('verify after a few new bans: the oldest the full list dropped are forgotten, the rest keep their order', () => {
  const addr = (i: number) => `198.51.100.${i}`;
  const { lists, lines, e, run } = afterBans(8, 10, addr);
  run();
  lists.lists.set('BLOCKER', [9, 4, 2, 7, 3, 8, 6, 5, 4].map(addr)); // 0 and 1 pushed out; 4 printed twice
  assert.equal(e.verify(), 2);
  assert.deepEqual(lines.find((l) => String(l['msg']).includes('evicted 2'))?.['sample'], [addr(0), addr(1)]);
  e.setMaxEntries(3);
  assert.deepEqual(
    e.snapshot().map((b) => b.ip),
    [addr(7), addr(8), addr(9)],
  );
});

test('verify reports bans the kernel evicted from a full list, with the fix', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { lines, log } = logCollector();
  const e = new Enforcer({ writer: lists, log, capacity: 3 });
  for (const a of ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']) e.apply(block(a));
  lists.lists.set('BLOCKER', ['192.0.2.2', '192.0.2.3', '192.0.2.4']); // what a full kernel list does
  assert.equal(e.verify(), 1);
  assert.equal(e.evictions, 1);
  const w = lines.find((l) => String(l['msg']).includes('evicted'));
  assert.ok(w);
  assert.match(String(w['msg']), /xt_recent\.ip_list_tot=N/);
  assert.equal(e.verify(), 0, 'what the list still holds stays');
});

test('verify reads back a list not written since: a ban lifted by hand on a quiet list ends, and a list made anew does not get it back', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { lines, log } = logCollector();
  const e = new Enforcer({ writer: lists, log, capacity: 100 });
  e.apply(block('192.0.2.1'));
  e.apply(block('192.0.2.2'));
  assert.equal(e.verify(), 0);
  lists.lists.set('BLOCKER', ['192.0.2.2']); // `banban unblock 192.0.2.1`, nothing written by the daemon since
  assert.equal(e.verify(), 1);
  assert.ok(lines.some((l) => String(l['msg']).includes('lifted from outside banban')));
  assert.deepEqual(e.snapshot().map((b) => b.ip), ['192.0.2.2'], 'not saved to come back at the next start');
  lists.lists.set('BLOCKER', []);
  assert.equal(e.prime('BLOCKER'), 1, 'a list made anew gets the ban still active, not the lifted one');
  assert.deepEqual(lists.lists.get('BLOCKER'), ['192.0.2.2']);
});

test('a warning is given once when a list has more active bans than ip_list_tot', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { lines, log } = logCollector();
  const e = new Enforcer({ writer: lists, log, capacity: 2 });
  for (const a of ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']) e.apply(block(a));
  const warnings = lines.filter((l) => String(l['msg']).includes('ip_list_tot=2'));
  assert.equal(warnings.length, 1);
  assert.match(String(warnings[0]!['msg']), /options xt_recent ip_list_tot=N/);
});

test('dry run writes nothing and says what it would have written', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { lines, log } = logCollector();
  const e = new Enforcer({ writer: lists, log, dryRun: true });
  e.apply(block('192.0.2.1'));
  assert.deepEqual(lists.lists.get('BLOCKER'), []);
  assert.ok(lines.some((l) => l['msg'] === 'would block' && l['ip'] === '192.0.2.1'));
});

test('a ban written to a list less than a second ago is not written again; later, or after an unblock, it is', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  lists.lists.set('MAIL', []);
  const { lines, log } = logCollector();
  let now = 1_000_000;
  const e = new Enforcer({ writer: lists, log, now: () => now });
  e.apply(block('192.0.2.1'));
  now += 300;
  e.apply({ ...block('192.0.2.1'), blocktype: 'pam-generic' }); // the pam_unix line of the same guess
  e.apply(block('192.0.2.1', 'MAIL')); // another list: written
  assert.equal(e.writes, 2);
  assert.equal(e.rewritesSkipped, 1);
  assert.equal(lines.filter((l) => l['msg'] === 'blocked').length, 3, 'every decision is logged');
  now += 800; // 1.1 s after the first write
  e.apply(block('192.0.2.1'));
  assert.equal(e.writes, 3);
  e.apply({ kind: 'unblock', ip: ip('192.0.2.1'), targets: ['BLOCKER', 'MAIL'] });
  now += 10;
  e.apply(block('192.0.2.1'));
  assert.deepEqual(lists.lists.get('BLOCKER'), ['192.0.2.1'], 'blocked again right after the unblock');
  assert.equal(e.snapshot().find((b) => b.target === 'BLOCKER')?.until, now + 3_600_000);
});

test('an unblock the list took less than a second ago is not written again, unless a block came between', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', ['192.0.2.1', '192.0.2.2']);
  lists.lists.set('MAIL', []);
  const { lines, log } = logCollector();
  let now = 1_000_000;
  const e = new Enforcer({ writer: lists, log, now: () => now });
  const writes: string[] = [];
  const write = lists.write.bind(lists);
  lists.write = (target, op, addr) => {
    writes.push(`${target} ${op}${addr}`);
    write(target, op, addr);
  };
  const unblock = (a: string) => e.apply({ kind: 'unblock', ip: ip(a), targets: ['BLOCKER', 'MAIL'] });
  unblock('192.0.2.1');
  now += 200;
  unblock('192.0.2.1'); // a mail client's second connection: skipped in both lists
  unblock('192.0.2.2'); // another address: written
  assert.deepEqual(writes, ['BLOCKER -192.0.2.1', 'MAIL -192.0.2.1', 'BLOCKER -192.0.2.2', 'MAIL -192.0.2.2']);
  assert.equal(e.rewritesSkipped, 2);
  assert.equal(lines.filter((l) => l['msg'] === 'unblocked').length, 3, 'every decision is logged');
  e.apply(block('192.0.2.1')); // banned again within the second: the next unblock must reach the list
  now += 100;
  unblock('192.0.2.1');
  assert.deepEqual(lists.lists.get('BLOCKER'), [], 'the list holds neither');
  assert.deepEqual(writes.slice(4), ['BLOCKER +192.0.2.1', 'BLOCKER -192.0.2.1'], 'MAIL was not given the address back: still skipped');
  now += 1000; // a second later: written again
  writes.length = 0;
  unblock('192.0.2.1');
  assert.deepEqual(writes, ['BLOCKER -192.0.2.1', 'MAIL -192.0.2.1']);
});

test('a ban that failed to be written ends the unblock skip: the next unblock supersedes it', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { log } = logCollector();
  let now = 1_000_000;
  const e = new Enforcer({ writer: lists, log, now: () => now });
  const unblock = () => e.apply({ kind: 'unblock', ip: ip('192.0.2.1'), targets: ['BLOCKER'] });
  unblock(); // taken
  now += 100;
  const write = lists.write.bind(lists);
  lists.write = () => {
    throw Object.assign(new Error('EIO'), { code: 'EIO' });
  };
  e.apply(block('192.0.2.1')); // refused: pending
  lists.write = write;
  now += 100;
  unblock(); // within the second, but a ban came between: not skipped, it replaces the pending ban
  now += 2000;
  assert.equal(e.retryPending(), 0);
  assert.equal(e.activeCount, 0);
  assert.deepEqual(lists.lists.get('BLOCKER'), [], 'the list does not hold an address banban no longer bans');
});

test('a ban the list refuses while it is primed is kept and written by the next retry', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { log } = logCollector();
  const now = Date.now();
  const e = new Enforcer({ writer: lists, log, now: () => now });
  e.restore([
    { ip: '192.0.2.1', target: 'BLOCKER', blocktype: 'ssh', at: now - 1000, until: now + 3_600_000 },
    { ip: '192.0.2.2', target: 'BLOCKER', blocktype: 'ssh', at: now - 500, until: now + 3_600_000 },
  ]);
  const write = lists.write.bind(lists);
  let refusals = 1;
  lists.write = (target, op, addr) => {
    if (refusals-- > 0) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    write(target, op, addr);
  };
  assert.equal(e.prime('BLOCKER'), 1, 'the first refused, the second written');
  assert.equal(e.pendingCount, 1);
  assert.equal(e.retryPending(), 0);
  assert.deepEqual(lists.lists.get('BLOCKER')!.sort(), ['192.0.2.1', '192.0.2.2']);
});

test('a ban a reload forgets takes its write still waiting for a retry with it, and a refused write says how to give the lists to a user', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { lines, log } = logCollector();
  const e = new Enforcer({ writer: lists, log });
  const accept = refuseWrites(lists, 'EACCES');
  e.apply(block('192.0.2.44'));
  e.apply(block('192.0.2.45'));
  assert.equal(e.pendingCount, 2);
  assert.ok(lines.some((l) => String(l['msg']).includes('ip_list_uid')), 'the EACCES error names the fix');
  assert.ok(lines.some((l) => l['msg'] === 'blocked' && l['pending'] === true), 'the ban is said to wait, not to be in the list');
  assert.equal(e.revise((b) => (b.ip === '192.0.2.44' ? undefined : b)), 1);
  accept();
  assert.equal(e.retryPending(), 0);
  assert.deepEqual(lists.lists.get('BLOCKER'), ['192.0.2.45'], 'the forgotten ban is not written after all');
});

test('verify keeps a ban whose write the list refused and that waits for a retry: it is not lifted, only not written yet', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { lines, log } = logCollector();
  const e = new Enforcer({ writer: lists, log, capacity: 100 });
  const accept = refuseWrites(lists, 'EPERM');
  e.apply(block('192.0.2.9'));
  assert.equal(e.verify(), 0);
  assert.ok(!lines.some((l) => String(l['msg']).includes('lifted')));
  assert.deepEqual(e.snapshot().map((b) => b.ip), ['192.0.2.9'], 'still saved');
  accept();
  assert.equal(e.retryPending(), 0);
  assert.equal(e.verify(), 0);
  assert.deepEqual(lists.lists.get('BLOCKER'), ['192.0.2.9']);
});

test('recent unblocks kept for the skip are bounded, oldest forgotten first', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { log } = logCollector();
  const e = new Enforcer({ writer: lists, log, now: () => 5_000 });
  const n = UNBLOCKS_KEPT + 10;
  for (let i = 0; i < n; i++) e.apply({ kind: 'unblock', ip: ip(`10.0.${i >> 8}.${i & 255}`), targets: ['BLOCKER'] });
  const before = e.writes;
  e.apply({ kind: 'unblock', ip: ip('10.0.0.0'), targets: ['BLOCKER'] }); // forgotten: written again
  e.apply({ kind: 'unblock', ip: ip(`10.0.${(n - 1) >> 8}.${(n - 1) & 255}`), targets: ['BLOCKER'] }); // kept: skipped
  assert.equal(e.writes - before, 1);
});

test('a ban whose write failed or waits is written again by the next decision, even within the second', () => {
  const lists = new MemoryLists();
  const { log } = logCollector();
  let now = 1_000_000;
  const e = new Enforcer({ writer: lists, log, now: () => now });
  e.apply(block('192.0.2.1')); // no list yet: ENOENT
  lists.lists.set('BLOCKER', []);
  now += 100;
  e.apply(block('192.0.2.1'));
  assert.deepEqual(lists.lists.get('BLOCKER'), ['192.0.2.1'], 'the failed first write does not count as taken');
  const write = lists.write.bind(lists);
  lists.write = () => {
    throw Object.assign(new Error('EIO'), { code: 'EIO' });
  };
  e.apply({ kind: 'unblock', ip: ip('192.0.2.1'), targets: ['BLOCKER'] }); // pending
  now += 100;
  e.apply(block('192.0.2.1')); // queued behind the pending unblock
  lists.write = write;
  assert.equal(e.retryPending(), 0);
  assert.deepEqual(lists.lists.get('BLOCKER'), ['192.0.2.1'], 'the latest command, the block, is what the list holds');
  now += 100;
  e.apply(block('192.0.2.1'));
  assert.equal(e.rewritesSkipped, 1, 'only now, after a write the kernel took, is a repeat skipped');
});

test("bans under a config: its targets and blocktypes only, no address it ignores, none longer than its bantime", () => {
  const { config } = parseConfig(
    "ignorenets: [192.0.2.0/24]\nblocktypes:\n  ssh: {target: BLOCKER, bantime: 600, patterns: ['^x (?<ip>\\S+)$']}\n",
    'bans.yml',
  );
  const now = 10_000_000;
  const under = bansUnder(config, now);
  const ban = (ip: string, target = 'BLOCKER', blocktype = 'ssh', at = now - 1000, until = now + 86_400_000) => ({ ip, target, blocktype, at, until });
  assert.deepEqual(under(ban('192.0.2.7')), { ban: undefined, why: 'ignorenets' });
  assert.deepEqual(under(ban('198.51.100.7', 'OTHER')), { ban: undefined, why: 'target' });
  assert.deepEqual(under(ban('198.51.100.7', 'BLOCKER', 'mail')), { ban: undefined, why: 'blocktype' });
  const two = parseConfig(
    "blocktypes:\n  ssh: {target: NEW, patterns: ['^x (?<ip>\\S+)$']}\n  web: {target: BLOCKER, patterns: ['^y (?<ip>\\S+)$']}\n",
    'moved.yml',
  ).config;
  assert.deepEqual(bansUnder(two, now)(ban('198.51.100.7')), { ban: undefined, why: 'target' }, 'ssh writes to NEW now: its ban in BLOCKER is not primed again');
  assert.deepEqual(under(ban('198.51.100.7', 'BLOCKER', 'ssh', now - 700_000)), { ban: undefined, why: 'expired' }, 'past today\'s bantime');
  assert.deepEqual(under(ban('198.51.100.7')).ban, ban('198.51.100.7', 'BLOCKER', 'ssh', now - 1000, now - 1000 + 600_000));
  const short = ban('198.51.100.8', 'BLOCKER', 'ssh', now - 1000, now + 5000);
  assert.equal(under(short).ban, short, 'a ban within the bantime is the same object');
  // ipv6_prefix changed to 64: an address's own ban would never match a masked rule; a /64's stays
  const by64 = bansUnder(parseConfig("ipv6_prefix: 64\nblocktypes:\n  ssh: {target: BLOCKER, bantime: 600, patterns: ['^x (?<ip>\\S+)$']}\n", 'v6.yml').config, now);
  assert.deepEqual(by64(ban('2001:db8:1:2::5')), { ban: undefined, why: 'prefix' });
  assert.equal(by64(ban('2001:db8:1:2::')).ban?.ip, '2001:db8:1:2::');
  assert.equal(by64(ban('198.51.100.9')).ban?.ip, '198.51.100.9', 'IPv4 as before');

  // the enforcer revises its active bans with it: forgotten ones are neither primed nor saved
  const lists = new MemoryLists();
  const { log } = logCollector();
  const e = new Enforcer({ writer: lists, log, now: () => now });
  e.restore([ban('192.0.2.7'), ban('198.51.100.7'), short]);
  assert.equal(e.revise((b) => under(b).ban), 1);
  assert.deepEqual(e.snapshot().map((b) => [b.ip, b.until]), [
    ['198.51.100.7', now - 1000 + 600_000],
    ['198.51.100.8', now + 5000],
  ]);
  lists.lists.set('BLOCKER', []);
  assert.equal(e.prime('BLOCKER'), 2);
  assert.deepEqual(lists.lists.get('BLOCKER')!.sort(), ['198.51.100.7', '198.51.100.8']);
});

test('a block of a shorter bantime does not shorten a longer active ban of the same address in the same list, whenever it comes', () => {
  for (const gap of [300, 1300]) {
    const lists = new MemoryLists();
    lists.lists.set('BLOCKER', []);
    const { log } = logCollector();
    let now = 1_000_000;
    const e = new Enforcer({ writer: lists, log, now: () => now });
    e.apply({ ...block('192.0.2.5'), blocktype: 'long', bantime: 3600 });
    now += gap;
    e.apply({ ...block('192.0.2.5'), blocktype: 'short', bantime: 2 });
    assert.deepEqual(
      e.snapshot().map((b) => [b.blocktype, b.at, b.until]),
      [['long', 1_000_000, 1_000_000 + 3_600_000]],
      `${gap} ms apart`,
    );
    // and a longer one that follows a short one takes its place
    now += 10;
    e.apply({ ...block('192.0.2.6'), blocktype: 'short', bantime: 2 });
    now += gap;
    e.apply({ ...block('192.0.2.6'), blocktype: 'long', bantime: 3600 });
    assert.deepEqual(e.snapshot().find((b) => b.ip === '192.0.2.6')!.blocktype, 'long');
  }
});

test('the bans remembered per list follow max_tracked when a reload changes it', () => {
  const lists = new MemoryLists();
  lists.lists.set('BLOCKER', []);
  const { log } = logCollector();
  let now = 1_000_000;
  const e = new Enforcer({ writer: lists, log, now: () => now, maxEntries: 1 });
  e.apply(block('192.0.2.1'));
  e.setMaxEntries(100);
  for (const a of ['192.0.2.2', '192.0.2.3']) {
    now += 2000;
    e.apply(block(a));
  }
  assert.deepEqual(e.snapshot().map((b) => b.ip), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
  e.setMaxEntries(2);
  assert.deepEqual(e.snapshot().map((b) => b.ip), ['192.0.2.2', '192.0.2.3'], 'the oldest forgotten');
});
