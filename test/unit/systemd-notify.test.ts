import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SystemdNotifier } from '../../src/lib/systemd-notify.js';

function notifier(env: NodeJS.ProcessEnv, failWith?: string) {
  const sent: { path: string; text: string }[] = [];
  const n = new SystemdNotifier(env, (path, data) => {
    sent.push({ path, text: data.toString() });
    return failWith;
  });
  return { n, sent };
}

test('with $NOTIFY_SOCKET, ready and stopping are told there, and the variable is taken out of the environment', () => {
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/bin' };
  const { n, sent } = notifier(env);
  assert.deepEqual(env, { PATH: '/bin' }, 'programs banban starts must not speak for it');
  assert.deepEqual(n.ready('serving /etc/banban.yml\nnext'), { sent: true });
  assert.deepEqual(n.stopping(), { sent: true });
  assert.deepEqual(sent, [
    { path: '/run/systemd/notify', text: 'READY=1\nSTATUS=serving /etc/banban.yml next\n' },
    { path: '/run/systemd/notify', text: 'STOPPING=1\n' },
  ]);
});

test('without $NOTIFY_SOCKET (not run by systemd as Type=notify) nothing is sent', () => {
  for (const env of [{}, { NOTIFY_SOCKET: '' }]) {
    const { n, sent } = notifier(env);
    assert.equal(n.ready('x'), undefined);
    assert.equal(sent.length, 0);
  }
});

test('a socket banban cannot write to is a reason, not an exception', () => {
  const abstract = notifier({ NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify/123' });
  assert.match((abstract.n.ready('x') as { reason: string }).reason, /abstract socket .* Type=simple/);
  assert.equal(abstract.sent.length, 0);
  assert.match((notifier({ NOTIFY_SOCKET: 'run/notify' }).n.ready('x') as { reason: string }).reason, /not an absolute path/);
  assert.deepEqual(notifier({ NOTIFY_SOCKET: '/run/systemd/notify' }, 'ECONNREFUSED').n.ready('x'), {
    sent: false,
    reason: 'cannot send to NOTIFY_SOCKET /run/systemd/notify: ECONNREFUSED',
  });
});
