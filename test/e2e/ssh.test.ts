/**
 * The main end-to-end scenario, with nothing simulated: a real ssh client in
 * the client namespace fails to log in to a real sshd in the server
 * namespace; sshd logs through a private /dev/log to a real rsyslogd;
 * rsyslogd forwards (examples/rsyslog.conf) to the daemon; the daemon writes
 * the kernel's xt_recent list that the rules of examples/iptables.rules check.
 *
 * Each step is asserted twice: on the kernel list itself, and on real
 * connections from the client (a connect that times out is a ban that bites).
 *
 * The steps build on each other (the unblock step needs the ban before it),
 * so they share one environment and run in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLIENT4, CLIENT4_IGNORED, CLIENT6, SERVER4, SERVER6 } from './lib/addresses.js';
import { Cleanup } from './lib/cleanup.js';
import { BARRIER_BLOCKTYPE, BARRIER_LIST, Daemon, SSH_ACCEPTED_PATTERN, SSH_FAILED_PATTERN, barrier, daemonPaths, writeConfig } from './lib/daemon.js';
import { EXAMPLE_TARGET } from './lib/firewall.js';
import { Testbed } from './lib/netns.js';
import { skipReason } from './lib/preflight.js';
import { waitFor } from './lib/proc.js';
import { Rsyslog } from './lib/rsyslog.js';
import { SSH_PASSWORD, SSH_PORT, SSH_WRONG_PASSWORD, Sshd, sshLogin } from './lib/sshd.js';
import { captured, inject } from './lib/syslog-input.js';
import { HeldConnection, probe, startListener } from './lib/tcp-peer.js';

/** a plain TCP service on the server (the example firewall's "mail" port) */
const MAIL_PORT = 25;
const MINOCC = 3;
/** an IPv6 network in ignorenets; its addresses only appear in injected lines */
const IGNORED_NET6 = '2001:db8:ffff::/48';
const IGNORED6 = '2001:db8:ffff::9';
/** just outside IGNORED_NET6: the control that the same lines do ban */
const NOT_IGNORED6 = '2001:db8:fffe::9';

const skip = skipReason(['sshd', 'ssh', 'sshpass', 'ssh-keygen']);

describe('banban against real sshd, ssh, rsyslog and the kernel', { skip }, () => {
  const cleanup = new Cleanup();
  let tb: Testbed;
  let rsyslog: Rsyslog;
  let daemon: Daemon;
  /** the Accepted line sshd wrote for the client's good login, replayed later */
  let acceptedMessage: { tag: string; text: string } | undefined;

  /** sshd's lines that rsyslog has received so far matching `re` */
  const count = async (re: RegExp) => (await captured(rsyslog)).filter((l) => re.test(l)).length;
  const failedFrom = (ip: string) => new RegExp(`sshd\\[\\d+\\]: Failed password for \\S+ from ${ip.replace(/\./g, '\\.')} port \\d+ ssh2$`);

  /** n wrong-password logins from `ns`; waits until sshd's n lines went through rsyslog */
  async function failLogins(n: number, host: string, source: string, bind?: string): Promise<void> {
    const before = await count(failedFrom(source));
    for (let i = 0; i < n; i++) {
      const r = await sshLogin(tb.client, host, SSH_WRONG_PASSWORD, bind ? { bind } : {});
      assert.equal(r.outcome, 'denied', `ssh login ${i + 1} from ${source} should reach sshd and be denied (${r.detail})`);
    }
    await waitFor(`${n} "Failed password ... from ${source}" lines from sshd in rsyslog`, async () => (await count(failedFrom(source))) >= before + n);
  }

  before(async () => {
    try {
      tb = await Testbed.create({ tag: 'ssh', lists: [BARRIER_LIST] });
      cleanup.defer('remove namespaces', () => tb.destroy());
      const dir = cleanup.tempDir('ssh');
      const paths = daemonPaths(dir);
      writeConfig(paths.config, {
        socket: paths.socket,
        state_file: paths.stateFile,
        goodpatterns: [SSH_ACCEPTED_PATTERN],
        ignorenets: ['127.0.0.0/8', '::1/128', `${CLIENT4_IGNORED}/32`, IGNORED_NET6],
        blocktypes: {
          ssh: { target: EXAMPLE_TARGET, minocc: MINOCC, interval: 60, resetconns: true, patterns: [SSH_FAILED_PATTERN] },
          barrier: BARRIER_BLOCKTYPE,
        },
      });
      daemon = await Daemon.start(tb, paths.config, paths.socket);
      rsyslog = await Rsyslog.start(dir, paths.socket);
      await Sshd.start(tb, dir, rsyslog.inputSocket);
      await startListener(tb.server, MAIL_PORT);
    } catch (e) {
      await cleanup.run().catch(() => {});
      throw e;
    }
  });

  after(async () => {
    await cleanup.run();
  });

  it('lets the client in before anything happened, and a good ssh login is accepted', async () => {
    assert.equal(await probe(tb.client, SERVER4, MAIL_PORT), 'connected');
    const r = await sshLogin(tb.client, SERVER4, SSH_PASSWORD);
    assert.equal(r.outcome, 'accepted', r.detail);
    // keep sshd's own Accepted line, to replay it when the client is banned
    const line = await waitFor('sshd\'s "Accepted password" line in rsyslog', async () =>
      (await captured(rsyslog)).find((l) => new RegExp(`sshd\\[\\d+\\]: Accepted password for \\S+ from ${CLIENT4.replace(/\./g, '\\.')} port`).test(l)),
    );
    const m = /(sshd\[\d+\]): (Accepted .*)$/.exec(line);
    assert.ok(m, line);
    acceptedMessage = { tag: m[1]!, text: m[2]! };
  });

  it(`blocks nobody for ${MINOCC - 1} failed ssh logins, one short of minocc`, async () => {
    await failLogins(MINOCC - 1, SERVER4, CLIENT4);
    await barrier(tb, rsyslog);
    assert.deepEqual(await tb.list(EXAMPLE_TARGET), [], 'nothing may be in the list yet');
    assert.equal(await probe(tb.client, SERVER4, SSH_PORT), 'connected');
    assert.equal(await probe(tb.client, SERVER4, MAIL_PORT), 'connected');
  });

  it('bans the client at minocc: its new connections time out and the connection it had open is cut', async () => {
    const held = await HeldConnection.open(tb.client, SERVER4, MAIL_PORT);
    assert.equal(await held.ping(), 'echo', 'the held connection works before the ban');
    const mark = daemon.mark;

    await failLogins(1, SERVER4, CLIENT4);

    await waitFor(`${CLIENT4} in /proc/net/xt_recent/${EXAMPLE_TARGET}`, () => tb.listed(EXAMPLE_TARGET, CLIENT4));
    const logged = await daemon.waitForLog((e) => e.msg === 'blocked' && e.ip === CLIENT4, { from: mark, what: `"blocked" for ${CLIENT4}` });
    assert.equal(logged.target, EXAMPLE_TARGET);
    assert.equal(logged.blocktype, 'ssh');

    // resetconns: the daemon deletes the flow's conntrack entry (asynchronously)
    await waitFor(`the conntrack entry of the held connection (port ${held.localPort}) to be deleted`, async () =>
      (await tb.conntrack(['-p', 'tcp', '-s', CLIENT4, '--sport', String(held.localPort)])).length === 0,
    );
    // ...so its next packet is no longer ESTABLISHED and meets the DROP rule
    assert.equal(await held.ping(), 'silent', 'data on the connection opened before the ban must go unanswered');
    await held.close();

    assert.equal(await probe(tb.client, SERVER4, SSH_PORT), 'timeout', 'new connections to sshd must time out');
    assert.equal(await probe(tb.client, SERVER4, MAIL_PORT), 'timeout', 'new connections to any port must time out');
  });

  it("unblocks the client on sshd's Accepted line, and it connects and logs in again", async () => {
    assert.ok(await tb.listed(EXAMPLE_TARGET, CLIENT4), 'precondition: the previous test banned the client');
    assert.ok(acceptedMessage, 'precondition: the first test captured an Accepted line');
    const mark = daemon.mark;
    // The banned client cannot reach sshd, so its Accepted line cannot come
    // from a new login (in real life: a login from elsewhere, or one already
    // under way); replay the one sshd wrote for it in the first test.
    await inject(rsyslog, acceptedMessage.tag, acceptedMessage.text);

    await waitFor(`${CLIENT4} to leave /proc/net/xt_recent/${EXAMPLE_TARGET}`, async () => !(await tb.listed(EXAMPLE_TARGET, CLIENT4)));
    await daemon.waitForLog((e) => e.msg === 'unblocked' && e.ip === CLIENT4, { from: mark, what: `"unblocked" for ${CLIENT4}` });
    assert.equal(await probe(tb.client, SERVER4, MAIL_PORT), 'connected');
    const r = await sshLogin(tb.client, SERVER4, SSH_PASSWORD);
    assert.equal(r.outcome, 'accepted', r.detail);
  });

  it('does the same over IPv6: bans the IPv6 address, cuts its open connection, leaves IPv4 alone, and unblocks it', async () => {
    const held = await HeldConnection.open(tb.client, SERVER6, MAIL_PORT);
    assert.equal(await held.ping(), 'echo', 'the held IPv6 connection works before the ban');
    const mark = daemon.mark;

    await failLogins(MINOCC, SERVER6, CLIENT6);

    await waitFor(`${CLIENT6} in /proc/net/xt_recent/${EXAMPLE_TARGET}`, () => tb.listed(EXAMPLE_TARGET, CLIENT6));
    await daemon.waitForLog((e) => e.msg === 'blocked' && e.ip === CLIENT6, { from: mark, what: `"blocked" for ${CLIENT6}` });
    await waitFor(`the IPv6 conntrack entry of the held connection (port ${held.localPort}) to be deleted`, async () =>
      (await tb.conntrack(['-f', 'ipv6', '-p', 'tcp', '-s', CLIENT6, '--sport', String(held.localPort)])).length === 0,
    );
    assert.equal(await held.ping(), 'silent', 'data on the IPv6 connection opened before the ban must go unanswered');
    await held.close();
    assert.equal(await probe(tb.client, SERVER6, MAIL_PORT), 'timeout', 'new IPv6 connections must time out');

    assert.equal(await tb.listed(EXAMPLE_TARGET, CLIENT4), false, 'the IPv4 address is not banned with it');
    assert.equal(await probe(tb.client, SERVER4, MAIL_PORT), 'connected', 'IPv4 still connects');

    await inject(rsyslog, 'sshd[1234]', `Accepted password for bbe2e from ${CLIENT6} port 40022 ssh2`);
    await waitFor(`${CLIENT6} to leave the list`, async () => !(await tb.listed(EXAMPLE_TARGET, CLIENT6)));
    assert.equal(await probe(tb.client, SERVER6, MAIL_PORT), 'connected');
  });

  it('never blocks an address in ignorenets, however often it fails', async () => {
    const mark = daemon.mark;
    await failLogins(MINOCC + 1, SERVER4, CLIENT4_IGNORED, CLIENT4_IGNORED);
    await barrier(tb, rsyslog);
    assert.equal(await tb.listed(EXAMPLE_TARGET, CLIENT4_IGNORED), false);
    assert.equal(
      daemon.logs(mark).some((e) => e.msg === 'blocked' && e.ip === CLIENT4_IGNORED),
      false,
      'the daemon must not log a ban for an ignored address',
    );
    assert.equal(await probe(tb.client, SERVER4, MAIL_PORT, { localAddress: CLIENT4_IGNORED }), 'connected');
  });

  it('never blocks an IPv6 address inside an ignorenets network, while its neighbour outside is blocked', async () => {
    for (const ip of [IGNORED6, NOT_IGNORED6]) {
      for (let i = 0; i < MINOCC + 1; i++) await inject(rsyslog, 'sshd[1234]', `Failed password for root from ${ip} port ${43000 + i} ssh2`);
    }
    await waitFor(`${NOT_IGNORED6} in the list`, () => tb.listed(EXAMPLE_TARGET, NOT_IGNORED6));
    await barrier(tb, rsyslog);
    assert.equal(await tb.listed(EXAMPLE_TARGET, IGNORED6), false, `${IGNORED6} is inside ${IGNORED_NET6}`);
  });

  it('kept every part running throughout', () => {
    assert.ok(daemon.service.running, `the daemon is still running\n${daemon.service.tail()}`);
    assert.ok(rsyslog.service.running, `rsyslogd is still running\n${rsyslog.service.tail()}`);
  });
});
