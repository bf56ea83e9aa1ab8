/**
 * Faults at the kernel edge, on real xt_recent lists in a namespace of the
 * test's own: the lists destroyed by `iptables -F` while bans are active, a
 * list filled past ip_list_tot, `banban list` / `block` / `unblock`, and
 * banban running without root on a list owned through ip_list_uid.
 *
 * Lines go straight to the daemon's socket here: the syslog daemons are
 * covered by the other files; the kernel is what this one is about.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { XtRecentLists } from '../../src/enforce/xt-recent.js';
import { sendDatagrams } from '../helpers/daemon-process.js';
import { CLIENT4, SERVER4 } from './lib/addresses.js';
import { Cleanup } from './lib/cleanup.js';
import { Daemon, daemonPaths, writeConfig } from './lib/daemon.js';
import { EXAMPLE_TARGET, loadExampleRules } from './lib/firewall.js';
import { Testbed } from './lib/netns.js';
import { daemonMain, skipReason } from './lib/preflight.js';
import { run, waitFor } from './lib/proc.js';
import { probe, startListener } from './lib/tcp-peer.js';

const skip = skipReason();
const PORT = 2525;
const fail = (ip: string) => `<38>Nov 22 06:25:01 srv sshd[4242]: Failed password for root from ${ip} port 40000 ssh2`;
const FLOOD = 'FLOOD';
const IP_LIST_UID = '/sys/module/xt_recent/parameters/ip_list_uid';
const IP_LIST_GID = '/sys/module/xt_recent/parameters/ip_list_gid';

describe('the kernel lists under faults', { skip, timeout: 120_000 }, () => {
  const cleanup = new Cleanup();
  let tb: Testbed;
  let daemon: Daemon;
  let socket: string;

  const banban = (args: string[], prefix: string[] = []) => run('ip', ['netns', 'exec', tb.server, ...prefix, process.execPath, daemonMain, ...args]);

  before(async () => {
    tb = await Testbed.create({ tag: 'kf', lists: [FLOOD] });
    cleanup.defer('remove namespaces', () => tb.destroy());
    const dir = cleanup.tempDir('kf');
    const paths = daemonPaths(dir);
    socket = paths.socket;
    writeConfig(paths.config, {
      socket,
      state_file: paths.stateFile,
      ignorenets: ['127.0.0.0/8'],
      blocktypes: {
        ssh: { target: EXAMPLE_TARGET, minocc: 3, interval: 60, resetconns: false, patterns: [String.raw`^sshd\[\d+\]: Failed password for \S+ from (?<ip>[0-9a-f:.]+) port \d+ ssh2$`] },
        flood: { target: FLOOD, minocc: 1, interval: 60, resetconns: false, patterns: [String.raw`^flood\[\d+\]: from (?<ip>[0-9a-f:.]+)$`] },
      },
    });
    daemon = await Daemon.start(tb, paths.config, socket);
    cleanup.defer('stop the daemon', () => daemon.stop());
    const listener = await startListener(tb.server, PORT);
    cleanup.defer('stop the listener', () => listener.stop());
  });

  after(async () => {
    await cleanup.run();
  });

  it('a ban outlives iptables -F: when the rules are loaded again the new list is primed with it', async () => {
    assert.equal(await probe(tb.client, SERVER4, PORT), 'connected');
    await sendDatagrams(socket, [fail(CLIENT4), fail(CLIENT4), fail(CLIENT4)]);
    await waitFor('the client in the list', () => tb.listed(EXAMPLE_TARGET, CLIENT4));
    assert.equal(await probe(tb.client, SERVER4, PORT), 'timeout');

    for (const cmd of ['iptables', 'ip6tables']) await tb.exec(tb.server, cmd, ['-F', 'INPUT']);
    const gone = await tb.exec(tb.server, 'cat', [`/proc/net/xt_recent/${EXAMPLE_TARGET}`]);
    assert.notEqual(gone.code, 0, 'with no rule naming it, the kernel list is gone');
    assert.equal(await probe(tb.client, SERVER4, PORT), 'connected', 'no rule: the client gets through');

    const mark = daemon.mark;
    await loadExampleRules(tb.server, { extraLists: [FLOOD] });
    await daemon.waitForLog((e) => e['target'] === EXAMPLE_TARGET && e['primed'] === 1, { from: mark, what: 'the list primed again' });
    assert.ok(await tb.listed(EXAMPLE_TARGET, CLIENT4));
    assert.equal(await probe(tb.client, SERVER4, PORT), 'timeout', 'the ban bites again');
  });

  it('a list destroyed and made again between two checks is primed again, though the kernel gives back its inode number', async () => {
    assert.ok(await tb.listed(EXAMPLE_TARGET, CLIENT4), 'the ban of the test before is in the list');
    const path = `/proc/net/xt_recent/${EXAMPLE_TARGET}`;
    const inode = async () => (await tb.exec(tb.server, 'stat', ['-c', '%i', path])).stdout.trim();
    const before = await inode();
    // A firewall script run a few times in a row, each run flushing the rules and loading them again at
    // once, until the kernel has given the new list the old one's inode number (it usually does by the
    // second run): the case an inode comparison misses.
    const inodes: string[] = [];
    while (inodes.length < 6 && inodes.at(-1) !== before) {
      for (const cmd of ['iptables', 'ip6tables']) await tb.exec(tb.server, cmd, ['-F', 'INPUT']);
      await loadExampleRules(tb.server, { extraLists: [FLOOD] });
      inodes.push(await inode());
    }
    // The outcome itself, not a log line: one about a list an earlier run made may arrive after the runs.
    await waitFor(`the ban written into the list made last (inode ${before}, then ${inodes.join(', ')})`, () => tb.listed(EXAMPLE_TARGET, CLIENT4));
    assert.equal(await probe(tb.client, SERVER4, PORT), 'timeout', 'the ban bites again');
  });

  it('commands go through one descriptor kept per list; one of a list destroyed since is let go, and the command goes to the list made anew', async () => {
    // the server namespace's lists, seen from this process through /proc/<pid>/net of a process in it
    const sleeper = spawn('ip', ['netns', 'exec', tb.server, 'sleep', '60'], { stdio: 'ignore' });
    cleanup.defer('stop the sleeper', () => sleeper.kill());
    const dir = `/proc/${sleeper.pid}/net/xt_recent`;
    await waitFor('the sleeper in the server namespace', async () => existsSync(join(dir, FLOOD)));
    const lists = new XtRecentLists(dir);
    cleanup.defer('let go of the descriptors', () => lists.close());
    assert.equal(lists.keepsListsOpen, true, 'a kernel list, and the native edge built');
    assert.equal(daemon.logs().find((e) => e.msg === 'listening')?.['listsKeptOpen'], true, 'the daemon keeps its lists open too');
    const [a, b, c] = ['198.51.100.71', '198.51.100.72', '2001:db8:77::1'];
    lists.write(FLOOD, '+', a);
    lists.write(FLOOD, '+', c);
    assert.ok(await tb.listed(FLOOD, a));
    assert.ok(await tb.listed(FLOOD, c));
    lists.write(FLOOD, '-', c);
    assert.equal(await tb.listed(FLOOD, c), false, 'each command through the same descriptor, moved back to 0');

    for (const cmd of ['iptables', 'ip6tables']) await tb.exec(tb.server, cmd, ['-F']); // every chain: FLOOD is named in one of the test's own
    // the kernel may take a moment to let go of a list no rule names (nftables frees it after the commit)
    await waitFor('the list gone with its rules', async () => !existsSync(join(dir, FLOOD)));
    assert.throws(() => lists.write(FLOOD, '+', b), { code: 'ENOENT' }, 'no list now: said as an open would');
    await loadExampleRules(tb.server, { extraLists: [FLOOD] });
    lists.write(FLOOD, '+', b);
    assert.ok(await tb.listed(FLOOD, b), 'written to the list made anew');
    lists.write(FLOOD, '-', b);
    assert.equal(await tb.listed(FLOOD, b), false);
    await waitFor('the daemon priming its ban into the list made anew', () => tb.listed(EXAMPLE_TARGET, CLIENT4));
  });

  it('banban list shows the kernel entries with their age, and unblock removes one', async () => {
    const listed = await banban(['list', EXAMPLE_TARGET, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const entries = JSON.parse(listed.stdout)[EXAMPLE_TARGET] as { ip: string; age: number | null }[];
    const client = entries.find((e) => e.ip === CLIENT4);
    assert.ok(client, listed.stdout);
    assert.equal(typeof client.age, 'number');
    assert.ok(client.age! >= 0 && client.age! < 120, `age ${client.age}`);

    const un = await banban(['unblock', CLIENT4]);
    assert.equal(un.code, 0, un.stderr);
    assert.match(un.stdout, new RegExp(`^unblocked ${CLIENT4.replaceAll('.', '\\.')} in (?:.*, )?${EXAMPLE_TARGET}\\b`), 'read from the kernel list: it was there');
    assert.equal(await tb.listed(EXAMPLE_TARGET, CLIENT4), false);
    assert.equal(await probe(tb.client, SERVER4, PORT), 'connected');
    const bad = await banban(['block', '192.0.2.030', '-t', EXAMPLE_TARGET]);
    assert.equal(bad.code, 64, 'a malformed address is a usage error');
    const missing = await banban(['block', '192.0.2.77', '-t', 'NOSUCHLIST']);
    assert.equal(missing.code, 71);
    assert.match(missing.stderr, /no iptables rule uses that list/);
  });

  it('bans the kernel evicts from a full list (ip_list_tot) are reported with the fix', async () => {
    const tot = Number(readFileSync('/sys/module/xt_recent/parameters/ip_list_tot', 'utf8'));
    const n = tot + 20;
    const lines = Array.from({ length: n }, (_, i) => `<38>Nov 22 06:25:01 srv flood[1]: from 2001:db8:ff::${(i + 1).toString(16)}`);
    const mark = daemon.mark;
    await sendDatagrams(socket, lines);
    await waitFor('all bans written', async () => daemon.logs(mark).filter((e) => e.msg === 'blocked').length >= n);
    assert.equal((await tb.list(FLOOD)).length, tot, 'the kernel kept ip_list_tot entries');
    const warn = await daemon.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes('evicted'), { from: mark, timeoutMs: 20_000, what: 'the eviction report' });
    assert.equal(warn['missing'], 20);
    assert.match(String(warn.msg), /ip_list_tot=N/);
  });

  it('runs without root where ip_list_uid gives its user the list', async () => {
    const uid0 = readFileSync(IP_LIST_UID, 'utf8').trim();
    const gid0 = readFileSync(IP_LIST_GID, 'utf8').trim();
    try {
      // New lists get this owner: make one while it is set, then put the setting back at once.
      writeFileSync(IP_LIST_UID, '65534');
      writeFileSync(IP_LIST_GID, '65534');
      await tb.exec(tb.server, 'iptables', ['-A', 'INPUT', '-m', 'recent', '--name', 'OWNED', '--rcheck', '-j', 'DROP']);
    } finally {
      writeFileSync(IP_LIST_UID, uid0);
      writeFileSync(IP_LIST_GID, gid0);
    }
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
    const ok = await banban(['block', '192.0.2.50', '-t', 'OWNED'], nobody);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(await tb.listed('OWNED', '192.0.2.50'));
    const refused = await banban(['block', '192.0.2.50', '-t', EXAMPLE_TARGET], nobody);
    assert.equal(refused.code, 71, 'a root-owned list stays out of reach');
    assert.match(refused.stderr, /permission denied/);
  });
});
