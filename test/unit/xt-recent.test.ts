import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { XtRecentLists } from '../../src/enforce/xt-recent.js';

// The real lists (the kernel's EIO on a destroyed one) are in test/e2e/kernel-faults.test.ts.
test('a list keeps its identity while it lasts; a list made anew gets a new one; a missing list has none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'banban-xt-'));
  const lists = new XtRecentLists(dir);
  try {
    assert.equal(lists.identity('BLOCKER'), undefined);
    writeFileSync(join(dir, 'BLOCKER'), '');
    const first = lists.identity('BLOCKER');
    assert.notEqual(first, undefined);
    lists.write('BLOCKER', '+', '192.0.2.1');
    assert.equal(lists.identity('BLOCKER'), first, 'written to, still the same list');
    unlinkSync(join(dir, 'BLOCKER'));
    assert.equal(lists.identity('BLOCKER'), undefined, 'gone');
    writeFileSync(join(dir, 'BLOCKER'), '');
    const second = lists.identity('BLOCKER');
    assert.notEqual(second, undefined);
    assert.notEqual(second, first, 'made anew');
    // replaced between two looks, with no look while it was missing
    unlinkSync(join(dir, 'BLOCKER'));
    writeFileSync(join(dir, 'BLOCKER'), '');
    const third = lists.identity('BLOCKER');
    assert.notEqual(third, second);
    assert.equal(lists.identity('BLOCKER'), third);
    // a plain folder: each command opens the file, so one replaced is written to, not the old one
    assert.equal(lists.keepsListsOpen, false);
    lists.write('BLOCKER', '+', '192.0.2.2');
    unlinkSync(join(dir, 'BLOCKER'));
    writeFileSync(join(dir, 'BLOCKER'), '');
    lists.write('BLOCKER', '+', '192.0.2.3');
    assert.deepEqual(lists.read('BLOCKER').map((e) => e.ip), ['192.0.2.3']);
  } finally {
    lists.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the descriptors of lists a reload dropped are let go; the others keep their identity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'banban-xt-'));
  const lists = new XtRecentLists(dir);
  const open = () => readdirSync('/proc/self/fd').length;
  try {
    writeFileSync(join(dir, 'A'), '');
    writeFileSync(join(dir, 'B'), '');
    const before = open();
    const a = lists.identity('A');
    const b = lists.identity('B');
    assert.equal(open(), before + 2);
    lists.keepOnly(['A']);
    assert.equal(open(), before + 1, "B's descriptor is closed");
    assert.equal(lists.identity('A'), a, 'A is still the list it was');
    assert.notEqual(lists.identity('B'), b, 'B, asked about again, is looked at afresh');
  } finally {
    lists.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
