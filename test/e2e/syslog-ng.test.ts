/**
 * The same path as ssh.test.ts with syslog-ng in rsyslog's place: real sshd
 * logs to syslog-ng, which forwards with the template of
 * examples/syslog-ng.conf ("$DATE $HOST $MSGHDR$MESSAGE\n": no <PRI>, and a
 * trailing newline), to the daemon.
 *
 * syslog-ng comes unpacked from Debian's package by
 * test/e2e/setup-unpacked.sh syslog-ng (.ci/run calls it); without it this file is
 * skipped with a loud line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLIENT4, SERVER4 } from './lib/addresses.js';
import { Cleanup } from './lib/cleanup.js';
import { BARRIER_BLOCKTYPE, BARRIER_LIST, Daemon, SSH_ACCEPTED_PATTERN, SSH_FAILED_PATTERN, barrier, daemonPaths, writeConfig } from './lib/daemon.js';
import { EXAMPLE_TARGET } from './lib/firewall.js';
import { Testbed } from './lib/netns.js';
import { skipReason } from './lib/preflight.js';
import { waitFor } from './lib/proc.js';
import { SETUP_SCRIPT, SyslogNg, findSyslogNg, type SyslogNgInstall } from './lib/syslog-ng.js';
import { SSH_PORT, SSH_WRONG_PASSWORD, Sshd, sshLogin } from './lib/sshd.js';
import { captured, inject } from './lib/syslog-input.js';
import { probe } from './lib/tcp-peer.js';

const MINOCC = 3;

function syslogNgSkip(): string | undefined {
  const common = skipReason(['sshd', 'ssh', 'sshpass', 'ssh-keygen']);
  if (common !== undefined) return common;
  if (findSyslogNg() === undefined) {
    const why = `syslog-ng is not unpacked; run ${SETUP_SCRIPT} (as root) first`;
    process.stderr.write(`\n!!!!! banban syslog-ng e2e test SKIPPED: ${why} !!!!!\n\n`);
    return why;
  }
  return undefined;
}

const skip = syslogNgSkip();

describe('banban fed by a real syslog-ng instead of rsyslog', { skip }, () => {
  const cleanup = new Cleanup();
  let tb: Testbed;
  let syslogNg: SyslogNg;
  let daemon: Daemon;

  before(async () => {
    try {
      const install = findSyslogNg() as SyslogNgInstall;
      tb = await Testbed.create({ tag: 'sng', lists: [BARRIER_LIST] });
      cleanup.defer('remove namespaces', () => tb.destroy());
      const dir = cleanup.tempDir('sng');
      const paths = daemonPaths(dir);
      writeConfig(paths.config, {
        socket: paths.socket,
        state_file: paths.stateFile,
        goodpatterns: [SSH_ACCEPTED_PATTERN],
        ignorenets: ['127.0.0.0/8', '::1/128'],
        blocktypes: {
          ssh: { target: EXAMPLE_TARGET, minocc: MINOCC, interval: 60, resetconns: true, patterns: [SSH_FAILED_PATTERN] },
          barrier: BARRIER_BLOCKTYPE,
        },
      });
      daemon = await Daemon.start(tb, paths.config, paths.socket);
      syslogNg = await SyslogNg.start(install, dir, paths.socket);
      await Sshd.start(tb, dir, syslogNg.inputSocket);
    } catch (e) {
      await cleanup.run().catch(() => {});
      throw e;
    }
  });

  after(async () => {
    await cleanup.run();
  });

  it('bans the client after minocc failed ssh logins that sshd logged through syslog-ng, and unblocks it on an Accepted line', async () => {
    const failed = new RegExp(`sshd\\[\\d+\\]: Failed password for \\S+ from ${CLIENT4.replace(/\./g, '\\.')} port \\d+ ssh2$`);
    for (let i = 0; i < MINOCC - 1; i++) {
      const r = await sshLogin(tb.client, SERVER4, SSH_WRONG_PASSWORD);
      assert.equal(r.outcome, 'denied', r.detail);
    }
    await waitFor('sshd\'s "Failed password" lines in syslog-ng', async () => (await captured(syslogNg)).filter((l) => failed.test(l)).length >= MINOCC - 1);
    await barrier(tb, syslogNg);
    assert.equal(await tb.listed(EXAMPLE_TARGET, CLIENT4), false, `below minocc ${CLIENT4} must not be listed`);

    const mark = daemon.mark;
    const r = await sshLogin(tb.client, SERVER4, SSH_WRONG_PASSWORD);
    assert.equal(r.outcome, 'denied', r.detail);
    await waitFor(`${CLIENT4} in /proc/net/xt_recent/${EXAMPLE_TARGET}`, () => tb.listed(EXAMPLE_TARGET, CLIENT4));
    await daemon.waitForLog((e) => e.msg === 'blocked' && e.ip === CLIENT4, { from: mark, what: `"blocked" for ${CLIENT4}` });
    assert.equal(await probe(tb.client, SERVER4, SSH_PORT), 'timeout', 'new connections to sshd must time out');

    await inject(syslogNg, 'sshd[1234]', `Accepted password for bbe2e from ${CLIENT4} port 40022 ssh2`);
    await waitFor(`${CLIENT4} to leave the list`, async () => !(await tb.listed(EXAMPLE_TARGET, CLIENT4)));
    assert.equal(await probe(tb.client, SERVER4, SSH_PORT), 'connected');
    assert.ok(syslogNg.service.running, `syslog-ng is still running\n${syslogNg.service.tail()}`);
    assert.ok(daemon.service.running, `the daemon is still running\n${daemon.service.tail()}`);
  });
});
