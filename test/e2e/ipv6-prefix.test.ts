/**
 * `ipv6_prefix: 64` on the real kernel: an attacker who hops between the
 * addresses of its /64 is counted as one, banned as one entry of the list,
 * and an ip6tables rule with the matching `--mask` drops a connection from
 * an address of that /64 the logs never named. A good line from any address
 * of it lifts the ban. IPv4 is not touched by the setting, and the /64 the
 * server's own address is in is never banned.
 *
 * The client gets a second IPv6 network for this (ATTACKER_NET), routed on
 * the link: the veth's own /64 is the server's too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sendDatagrams } from '../helpers/daemon-process.js';
import { SERVER4, SERVER6, normalizeIp } from './lib/addresses.js';
import { Cleanup } from './lib/cleanup.js';
import { Daemon, daemonPaths, writeConfig } from './lib/daemon.js';
import { Testbed } from './lib/netns.js';
import { daemonMain, skipReason } from './lib/preflight.js';
import { run } from './lib/proc.js';
import { probe, startListener } from './lib/tcp-peer.js';

const skip = skipReason();
const PORT = 2526;
const LIST = 'NET6';
/** a /64 of the client's own, beside the link's: the attacker's addresses in the lines are others of it */
const NETWORK = '2001:db8:cc::';
const CLIENT_IN_NETWORK = '2001:db8:cc::2';
const fail = (ip: string) => `<38>Nov 22 06:25:01 srv sshd[4242]: Failed password for root from ${ip} port 40000 ssh2`;
const accepted = (ip: string) => `<38>Nov 22 06:25:09 srv sshd[4243]: Accepted password for bob from ${ip} port 40001 ssh2`;

describe('ipv6_prefix on the kernel lists', { skip, timeout: 120_000 }, () => {
  const cleanup = new Cleanup();
  let tb: Testbed;
  let daemon: Daemon;
  let config: string;

  before(async () => {
    tb = await Testbed.create({ tag: 'v6' });
    cleanup.defer('remove namespaces', () => tb.destroy());
    for (const [ns, args] of [
      [tb.client, ['addr', 'add', `${CLIENT_IN_NETWORK}/64`, 'dev', 'bbe2e-c', 'nodad']],
      [tb.server, ['route', 'add', `${NETWORK}/64`, 'dev', 'bbe2e-s']],
    ] as const) {
      const r = await run('ip', ['-n', ns, ...args]);
      assert.equal(r.code, 0, r.stderr);
    }
    // the rule the README gives for ipv6_prefix 64: the packet's source is masked to its /64 before the lookup
    const rule = await tb.exec(tb.server, 'ip6tables', ['-I', 'INPUT', '1', '-i', 'bbe2e-s', '-m', 'recent', '--name', LIST, '--rcheck', '--mask', 'ffff:ffff:ffff:ffff::', '-j', 'DROP']);
    assert.equal(rule.code, 0, rule.stderr);
    const paths = daemonPaths(cleanup.tempDir('v6'));
    config = paths.config;
    writeConfig(config, {
      socket: paths.socket,
      state_file: paths.stateFile,
      ignorenets: ['127.0.0.0/8', '::1'],
      ipv6_prefix: 64,
      goodpatterns: [String.raw`^sshd\[\d+\]: Accepted password for \S+ from (?<ip>[0-9a-f:.]+) port \d+ ssh2$`],
      blocktypes: { ssh: { target: LIST, minocc: 3, interval: 60, resetconns: false, patterns: [String.raw`^sshd\[\d+\]: Failed password for \S+ from (?<ip>[0-9a-f:.]+) port \d+ ssh2$`] } },
    });
    daemon = await Daemon.start(tb, config, paths.socket);
    cleanup.defer('stop the daemon', () => daemon.stop());
    const listener = await startListener(tb.server, PORT);
    cleanup.defer('stop the listener', () => listener.stop());
  });

  after(async () => {
    await cleanup.run();
  });

  it('banban check says the rule needs the mask', async () => {
    const r = await run(process.execPath, [daemonMain, 'check', '-c', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /ipv6_prefix.*--mask ffff:ffff:ffff:ffff::/);
    assert.match(r.stdout, /^ipv6_prefix \/64 \(an IPv6 address is counted and banned as its \/64 network\)$/m);
  });

  it('three addresses of one /64 make one ban of the /64, which drops a fourth address of it and nothing else', async () => {
    const fromNetwork = { localAddress: CLIENT_IN_NETWORK };
    assert.equal(await probe(tb.client, SERVER6, PORT, fromNetwork), 'connected', 'before: the client gets through');
    const mark = daemon.mark;
    await sendDatagrams(daemon.socket, [fail('2001:db8:cc::100'), fail('2001:db8:cc::101'), fail('2001:db8:cc::102')]);
    const blocked = await daemon.waitForLog((e) => e.msg === 'blocked', { from: mark, what: 'the ban' });
    assert.equal(blocked['ip'], NETWORK);
    assert.deepEqual(await tb.list(LIST), [normalizeIp(NETWORK)], 'one entry for the three addresses');
    assert.equal(await probe(tb.client, SERVER6, PORT, fromNetwork), 'timeout', 'the client, at another address of the /64, is dropped');
    assert.equal(await probe(tb.client, SERVER6, PORT), 'connected', 'its address in another /64 is not');
    assert.equal(await probe(tb.client, SERVER4, PORT), 'connected', 'nor its IPv4 address');
  });

  it("the /64 of the server's own address is never counted", async () => {
    const mark = daemon.mark;
    await sendDatagrams(daemon.socket, ['2001:db8:bb::100', '2001:db8:bb::101', '2001:db8:bb::102', '2001:db8:bb::103'].map(fail));
    await sendDatagrams(daemon.socket, [fail('2001:db8:dd::1'), fail('2001:db8:dd::2'), fail('2001:db8:dd::3')]); // a barrier: a ban of another /64
    await daemon.waitForLog((e) => e.msg === 'blocked' && e['ip'] === '2001:db8:dd::', { from: mark, what: 'the barrier ban' });
    assert.ok(!daemon.logs(mark).some((e) => e.msg === 'blocked' && e['ip'] === '2001:db8:bb::'), `SERVER6 (${SERVER6}) is in that /64`);
    assert.ok(!(await tb.list(LIST)).includes(normalizeIp('2001:db8:bb::')));
  });

  it('a good line from any address of the /64 lifts the ban', async () => {
    const mark = daemon.mark;
    await sendDatagrams(daemon.socket, [accepted('2001:db8:cc::7')]);
    const unblocked = await daemon.waitForLog((e) => e.msg === 'unblocked', { from: mark, what: 'the unblock' });
    assert.equal(unblocked['ip'], NETWORK);
    assert.ok(!(await tb.list(LIST)).includes(normalizeIp(NETWORK)));
    assert.equal(await probe(tb.client, SERVER6, PORT, { localAddress: CLIENT_IN_NETWORK }), 'connected');
  });
});
