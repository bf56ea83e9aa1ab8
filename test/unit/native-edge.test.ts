/**
 * The native edge's listWrite (lib/native-edge.c) on plain files: each
 * command written at offset 0, whatever the descriptor's offset was, which
 * is what the kernel's lists need (test/e2e/kernel-faults.test.ts has them).
 * recvBatch is tested with the socket edge (syslog-socket.test.ts).
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { errnoError, nativeEdge } from '../../src/lib/native-edge.js';

const dir = mkdtempSync(join(tmpdir(), 'banban-native-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('listWrite writes each command at offset 0 through the same descriptor, says a bad descriptor as -EBADF, and throws on bad arguments', () => {
  const edge = nativeEdge();
  assert.ok(typeof edge !== 'string', edge as string);
  const file = join(dir, 'LIST');
  const fd = openSync(file, 'w'); // not O_APPEND: where each command lands shows the offset it was written at
  try {
    assert.equal(edge.listWrite(fd, Buffer.from('+192.0.2.10\n')), 12);
    assert.equal(edge.listWrite(fd, Buffer.from('-192.0.2.1\n')), 11);
    assert.equal(readFileSync(file, 'latin1'), '-192.0.2.1\n\n', 'the second command over the first, from offset 0');
  } finally {
    closeSync(fd);
  }
  assert.equal(edge.listWrite(fd, Buffer.from('+192.0.2.1\n')), -9, 'a closed descriptor: -EBADF');
  assert.throws(() => edge.listWrite(0, '+192.0.2.1\n' as unknown as Buffer), /command must be a Buffer/);
  const err = errnoError(9, 'write', file);
  assert.equal(err.code, 'EBADF');
  assert.equal(err.errno, -9);
  assert.equal(err.path, file);
});
