/**
 * How many offences one connection to a real sshd is, with the shipped sshd
 * preset: real OpenSSH in the server namespace, clients in the client
 * namespace that end their connections the ways bots do (ssh with a wrong
 * password, SSH's DISCONNECT before logging in as the bots' libraries send
 * it, a bare TCP connect, a web request to port 22), sshd's lines through
 * real rsyslog to the daemon, and the bans in the kernel list.
 *
 * sshd writes two lines for some ends (`Received disconnect ...: 11: Bye
 * Bye [preauth]`, then `Disconnected from ... [preauth]`); the preset's
 * endpatterns count one offence per process for them.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIENT4, CLIENT4_IGNORED, SERVER4 } from './lib/addresses.js';
import { Cleanup } from './lib/cleanup.js';
import { BARRIER_BLOCKTYPE, BARRIER_LIST, Daemon, barrier, daemonPaths, writeConfig } from './lib/daemon.js';
import { EXAMPLE_TARGET } from './lib/firewall.js';
import { Testbed } from './lib/netns.js';
import { daemonMain, skipReason } from './lib/preflight.js';
import { run, waitFor } from './lib/proc.js';
import { Rsyslog } from './lib/rsyslog.js';
import { endConnection } from './lib/ssh-peer.js';
import { SSH_PORT, SSH_WRONG_PASSWORD, Sshd, sshLogin } from './lib/sshd.js';
import { captured } from './lib/syslog-input.js';

const MINOCC = 3;
/** a user name (no account) whose connections sshd cuts after one failure */
const ONE_TRY_USER = 'onetry';
const skip = skipReason(['sshd', 'ssh', 'sshpass', 'ssh-keygen']);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe("one connection's end is one offence, through the shipped sshd preset, real sshd and rsyslog", { skip }, () => {
  const cleanup = new Cleanup();
  let tb: Testbed;
  let rsyslog: Rsyslog;
  let daemon: Daemon;
  let dir: string;

  /** an ssh client from `bind` that offers only diffie-hellman-group1-sha1, which sshd 8.x and later refuse */
  const oldClient = (bind: string) =>
    tb.exec(tb.client, 'ssh', ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'KexAlgorithms=diffie-hellman-group1-sha1', '-b', bind, '-p', String(SSH_PORT), `nobody@${SERVER4}`, 'true'], { timeoutMs: 15_000 });

  /** sshd's lines in rsyslog so far that match `re` */
  const lines = async (re: RegExp) => (await captured(rsyslog)).filter((l) => re.test(l));

  before(async () => {
    try {
      tb = await Testbed.create({ tag: 'ends', lists: [BARRIER_LIST] });
      cleanup.defer('remove namespaces', () => tb.destroy());
      dir = cleanup.tempDir('ends');
      const paths = daemonPaths(dir);
      writeConfig(paths.config, {
        socket: paths.socket,
        state_file: paths.stateFile,
        include: ['sshd'],
        ignorenets: ['127.0.0.0/8', '::1/128', `${CLIENT4_IGNORED}/32`],
        blocktypes: { sshd: { target: EXAMPLE_TARGET, minocc: MINOCC, interval: 600, resetconns: false }, barrier: BARRIER_BLOCKTYPE },
      });
      daemon = await Daemon.start(tb, paths.config, paths.socket);
      rsyslog = await Rsyslog.start(dir, paths.socket);
      // One wrong password is too many for this user: sshd's MaxAuthTries cut-off, on a single prompt
      await Sshd.start(tb, dir, rsyslog.inputSocket, [`Match User ${ONE_TRY_USER}`, '  MaxAuthTries 1']);
    } catch (e) {
      await cleanup.run().catch(() => {});
      throw e;
    }
  });

  after(async () => {
    await cleanup.run();
  });

  it(`bans a client that said "Bye Bye" before logging in on its ${MINOCC}rd connection, not its 2nd, though sshd writes two lines for each`, async () => {
    const ended = new RegExp(`sshd\\[\\d+\\]: Disconnected from ${escape(CLIENT4)} port \\d+ \\[preauth\\]$`);
    for (let i = 1; i < MINOCC; i++) await endConnection(tb.client, SERVER4, SSH_PORT, CLIENT4, { kind: 'bye', code: 11, text: 'Bye Bye' });
    await waitFor(`${MINOCC - 1} "Disconnected from ${CLIENT4} ..." lines in rsyslog`, async () => (await lines(ended)).length === MINOCC - 1);
    const said = await lines(new RegExp(`Received disconnect from ${escape(CLIENT4)} port \\d+:11: Bye Bye \\[preauth\\]$`));
    assert.equal(said.length, MINOCC - 1, 'sshd wrote "Received disconnect" for each connection, too: two lines per end');
    await barrier(tb, rsyslog);
    assert.deepEqual(await tb.list(EXAMPLE_TARGET), [], `${2 * (MINOCC - 1)} lines, ${MINOCC - 1} connections: below minocc ${MINOCC}`);

    const mark = daemon.mark;
    await endConnection(tb.client, SERVER4, SSH_PORT, CLIENT4, { kind: 'bye', code: 11, text: 'Bye Bye' });
    await waitFor(`${CLIENT4} in /proc/net/xt_recent/${EXAMPLE_TARGET}`, () => tb.listed(EXAMPLE_TARGET, CLIENT4));
    const logged = await daemon.waitForLog((e) => e.msg === 'blocked' && e.ip === CLIENT4, { from: mark, what: `"blocked" for ${CLIENT4}` });
    assert.equal(logged.offences, MINOCC);
  });

  it("counts each kind of connection as the preset says, on sshd's own lines replayed by banban test", async () => {
    const from = CLIENT4_IGNORED; // in ignorenets: the daemon leaves it alone, so every connection reaches sshd
    const kinds: { name: string; counted: number; repeated: number; open: () => Promise<unknown> }[] = [
      { name: 'ssh, wrong password, existing user', counted: 2, repeated: 0, open: () => sshLogin(tb.client, SERVER4, SSH_WRONG_PASSWORD, { bind: from }) },
      { name: 'ssh, wrong password, unknown user', counted: 3, repeated: 0, open: () => sshLogin(tb.client, SERVER4, SSH_WRONG_PASSWORD, { bind: from, user: 'oracle' }) },
      { name: 'ssh, wrong password, MaxAuthTries reached', counted: 3, repeated: 1, open: () => sshLogin(tb.client, SERVER4, SSH_WRONG_PASSWORD, { bind: from, user: ONE_TRY_USER }) },
      { name: 'DISCONNECT 11 "Bye Bye"', counted: 1, repeated: 1, open: () => endConnection(tb.client, SERVER4, SSH_PORT, from, { kind: 'bye', code: 11, text: 'Bye Bye' }) },
      { name: 'DISCONNECT 14, no usable method', counted: 1, repeated: 1, open: () => endConnection(tb.client, SERVER4, SSH_PORT, from, { kind: 'bye', code: 14, text: 'No supported authentication methods available' }) },
      { name: 'DISCONNECT 3 "Auth fail" (JSch)', counted: 1, repeated: 1, open: () => endConnection(tb.client, SERVER4, SSH_PORT, from, { kind: 'bye', code: 3, text: 'com.jcraft.jsch.JSchException: Auth fail' }) },
      { name: 'TCP connect, closed before any banner', counted: 1, repeated: 0, open: () => endConnection(tb.client, SERVER4, SSH_PORT, from, { kind: 'close' }) },
      { name: 'a web request to port 22', counted: 1, repeated: 0, open: () => endConnection(tb.client, SERVER4, SSH_PORT, from, { kind: 'banner', text: 'GET / HTTP/1.1' }) },
      { name: 'ssh offering only a key exchange sshd refuses', counted: 1, repeated: 0, open: () => oldClient(from) },
    ];
    // one at a time, each until sshd has written its last line, so that their processes come in this order
    const last = new RegExp(`sshd\\[\\d+\\]: (?:Connection (?:closed|reset) by|Disconnected from|Disconnecting|banner exchange: Connection from|Unable to negotiate with) (?:(?:authenticating|invalid) user \\S+ )?${escape(from)} port \\d+`);
    for (const [i, k] of kinds.entries()) {
      await k.open();
      await waitFor(`sshd's last line for "${k.name}"`, async () => (await lines(last)).length === i + 1);
    }

    // The sshd lines, with those of each process that named the client
    const sshd = (await captured(rsyslog)).filter((l) => /sshd\[\d+\]: /.test(l));
    const pidOf = (l: string) => /sshd\[(\d+)\]: /.exec(l)![1]!;
    const pids = [...new Set(sshd.filter((l) => l.includes(` ${from} `)).map(pidOf))];
    assert.equal(pids.length, kinds.length, `one sshd process per connection:\n${sshd.join('\n')}`);
    const log = join(dir, 'ends.log');
    writeFileSync(log, `${sshd.join('\n')}\n`);
    const config = join(dir, 'ends-replay.yml');
    writeFileSync(config, 'include: [sshd]\nblocktypes: {sshd: {minocc: 1000}}\n');
    const r = await run(process.execPath, [daemonMain, 'test', '--json', '-c', config, log]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { matches: { line: number; ip: string }[]; repeated: { line: number; ip: string }[] };
    const per = (entries: { line: number; ip: string }[], pid: string) => entries.filter((m) => pidOf(sshd[m.line - 1]!) === pid && m.ip === from).length;
    const got = kinds.map((k, i) => ({ name: k.name, counted: per(report.matches, pids[i]!), repeated: per(report.repeated, pids[i]!) }));
    const want = kinds.map(({ name, counted, repeated }) => ({ name, counted, repeated }));
    assert.deepEqual(got, want, `sshd's lines:\n${sshd.join('\n')}`);
  });

  it('a user name of backslashes that fills the 500 characters sshd keeps of a message cannot end the line in a forged address that counts', async () => {
    // sshd escapes a backslash as two, and this line twice (the pre-auth child, then the monitor's
    // "%s [preauth]"): 108 of them and the forged tail make 500 characters, and sshd cuts the real
    // " ADDR port N [preauth]" off. Seen on this machine's OpenSSH through rsyslog.
    const forged = '198.51.100.1';
    const user = `${'\\'.repeat(108)}xxx ${forged} port 22 [preauth]`;
    await sshLogin(tb.client, SERVER4, SSH_WRONG_PASSWORD, { bind: CLIENT4_IGNORED, user });
    const cut = new RegExp(`sshd\\[\\d+\\]: Connection closed by invalid user \\\\{432}xxx ${escape(forged)} port 22 \\[preauth\\]$`);
    await waitFor('the cut end line in rsyslog', async () => (await lines(cut)).length === 1);
    const line = (await lines(cut))[0]!;
    assert.ok(!line.includes(CLIENT4_IGNORED), `sshd cut the real peer off: ${line}`);
    const log = join(dir, 'cut.log');
    writeFileSync(log, `${line}\n`);
    const config = join(dir, 'cut.yml');
    writeFileSync(config, 'include: [sshd]\nblocktypes: {sshd: {minocc: 1}}\n');
    const r = await run(process.execPath, [daemonMain, 'test', '--json', '-c', config, log]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { matches: { ip: string }[]; blocked: { ip: string }[] };
    assert.deepEqual(report.matches.map((m) => m.ip), [], 'the forged address is not counted');
    assert.deepEqual(report.blocked, []);
  });
});
