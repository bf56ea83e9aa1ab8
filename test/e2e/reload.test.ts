/**
 * Reloading the config with SIGHUP while real rsyslog keeps feeding the
 * daemon: a changed pattern takes effect, a broken config is refused and the
 * one in force keeps working.
 *
 * The log lines are injected with logger into rsyslog's input socket (the
 * addresses only ever appear in lines, see addresses.ts `paperAddress`);
 * the effect is read from the kernel's list in the server namespace.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { paperAddress } from './lib/addresses.js';
import { Cleanup } from './lib/cleanup.js';
import { BARRIER_BLOCKTYPE, BARRIER_LIST, Daemon, SSH_FAILED_PATTERN, barrier, daemonPaths, writeConfig, type DaemonConfig, type LogEntry } from './lib/daemon.js';
import { EXAMPLE_TARGET } from './lib/firewall.js';
import { Testbed } from './lib/netns.js';
import { skipReason } from './lib/preflight.js';
import { waitFor } from './lib/proc.js';
import { Rsyslog } from './lib/rsyslog.js';
import { inject } from './lib/syslog-input.js';

const MINOCC = 3;
/** what sshd logs for a user name that does not exist, before any password */
const INVALID_USER_PATTERN = String.raw`sshd\[\d+\]: Invalid user \S* from (?<ip>\S+) port \d+$`;

const skip = skipReason();

describe('banban reloading its config on SIGHUP', { skip }, () => {
  const cleanup = new Cleanup();
  let tb: Testbed;
  let rsyslog: Rsyslog;
  let daemon: Daemon;
  let configPath: string;
  let socket: string;
  let stateFile: string;

  const config = (patterns: string[]): DaemonConfig => ({
    socket,
    state_file: stateFile,
    ignorenets: ['127.0.0.0/8', '::1/128'],
    blocktypes: {
      ssh: { target: EXAMPLE_TARGET, minocc: MINOCC, interval: 60, resetconns: false, patterns },
      barrier: BARRIER_BLOCKTYPE,
    },
  });

  async function invalidUserLines(ip: string): Promise<void> {
    for (let i = 0; i < MINOCC; i++) await inject(rsyslog, 'sshd[4321]', `Invalid user admin${i} from ${ip} port ${40000 + i}`);
  }

  /**
   * SIGHUP, then the daemon's verdict on the new file: the first log line
   * after it whose msg starts with "reload" ("reloaded", "reload refused").
   */
  async function reload(): Promise<LogEntry> {
    const mark = daemon.mark;
    daemon.service.signal('SIGHUP');
    return daemon.waitForLog((e) => typeof e.msg === 'string' && e.msg.startsWith('reload'), { from: mark, what: 'its verdict on the reload' });
  }

  before(async () => {
    try {
      tb = await Testbed.create({ tag: 'hup', lists: [BARRIER_LIST] });
      cleanup.defer('remove namespaces', () => tb.destroy());
      const dir = cleanup.tempDir('hup');
      ({ config: configPath, socket, stateFile } = daemonPaths(dir));
      writeConfig(configPath, config([SSH_FAILED_PATTERN]));
      daemon = await Daemon.start(tb, configPath, socket);
      rsyslog = await Rsyslog.start(dir, socket);
    } catch (e) {
      await cleanup.run().catch(() => {});
      throw e;
    }
  });

  after(async () => {
    await cleanup.run();
  });

  it('ignores lines that no pattern matches yet', async () => {
    const ip = paperAddress(10);
    await invalidUserLines(ip);
    await barrier(tb, rsyslog);
    assert.equal(await tb.listed(EXAMPLE_TARGET, ip), false);
  });

  it('bans on a pattern that SIGHUP added to the config', async () => {
    writeConfig(configPath, config([SSH_FAILED_PATTERN, INVALID_USER_PATTERN]));
    assert.equal((await reload()).msg, 'reloaded');
    const ip = paperAddress(11);
    await invalidUserLines(ip);
    await waitFor(`${ip} in /proc/net/xt_recent/${EXAMPLE_TARGET}`, () => tb.listed(EXAMPLE_TARGET, ip));
  });

  it('stops banning on a pattern that SIGHUP removed', async () => {
    writeConfig(configPath, config([INVALID_USER_PATTERN]));
    assert.equal((await reload()).msg, 'reloaded');
    const ip = paperAddress(12);
    for (let i = 0; i < MINOCC; i++) await inject(rsyslog, 'sshd[4321]', `Failed password for root from ${ip} port ${41000 + i} ssh2`);
    await barrier(tb, rsyslog);
    assert.equal(await tb.listed(EXAMPLE_TARGET, ip), false);
  });

  const broken: [string, string][] = [
    ['a pattern without the (?<ip>...) group', JSON.stringify(config([String.raw`sshd\[\d+\]: Invalid user \S* from \S+`]))],
    ['text that is not YAML at all', 'socket: [unclosed\n  blocktypes: {{{\n'],
  ];
  for (const [what, text] of broken) {
    it(`refuses a config with ${what} and keeps the one in force working`, async () => {
      writeFileSync(configPath, text);
      const verdict = await reload();
      assert.ok(daemon.service.running, 'the daemon survives a broken config');
      const ip = paperAddress(what.startsWith('a pattern') ? 13 : 14);
      // the config in force bans Invalid user lines
      await invalidUserLines(ip);
      await waitFor(`${ip} in the list under the old config`, () => tb.listed(EXAMPLE_TARGET, ip));
      assert.ok(daemon.socketExists(), 'the socket is still there');
      // checked last, so that a wording slip does not hide whether the old config still works
      assert.ok(String(verdict.msg).startsWith('reload refused'), `the refusal is logged with a msg starting "reload refused": ${JSON.stringify(verdict)}`);
    });
  }

  it("bans on OpenSSH 9.8's sshd-session lines and the listener's penalty drops, through the shipped sshd preset reloaded in", async () => {
    writeConfig(configPath, {
      socket,
      state_file: stateFile,
      include: ['sshd'],
      ignorenets: ['127.0.0.0/8', '::1/128'],
      blocktypes: { sshd: { target: EXAMPLE_TARGET, minocc: MINOCC, interval: 60, resetconns: false }, barrier: BARRIER_BLOCKTYPE },
    });
    assert.equal((await reload()).msg, 'reloaded');
    const session = paperAddress(15);
    for (let i = 0; i < MINOCC; i++) await inject(rsyslog, `sshd-session[${5000 + i}]`, `Failed password for invalid user admin from ${session} port ${44000 + i} ssh2`);
    const dropped = paperAddress(16);
    for (let i = 0; i < MINOCC; i++) {
      await inject(rsyslog, 'sshd[700]', `drop connection #${i} from [${dropped}]:${45000 + i} on [${paperAddress(17)}]:22 penalty: failed authentication`);
    }
    await waitFor(`${session} (sshd-session lines) in /proc/net/xt_recent/${EXAMPLE_TARGET}`, () => tb.listed(EXAMPLE_TARGET, session));
    await waitFor(`${dropped} (penalty drops) in /proc/net/xt_recent/${EXAMPLE_TARGET}`, () => tb.listed(EXAMPLE_TARGET, dropped));
  });
});
