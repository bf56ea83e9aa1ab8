/**
 * The daemon stopped and started again while real rsyslog keeps sending.
 *
 * A background loop logs a steady stream of auth lines that no pattern
 * matches (so they ban nobody) through rsyslog the whole time. The daemon
 * is stopped with SIGTERM (exit 0, socket removed), rsyslog meanwhile keeps
 * taking lines, and a new daemon on the same socket must get bans going
 * again without anyone touching rsyslog.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { paperAddress } from './lib/addresses.js';
import { Cleanup } from './lib/cleanup.js';
import { BARRIER_BLOCKTYPE, BARRIER_LIST, Daemon, SSH_FAILED_PATTERN, barrier, daemonPaths, writeConfig } from './lib/daemon.js';
import { EXAMPLE_TARGET } from './lib/firewall.js';
import { Testbed } from './lib/netns.js';
import { skipReason } from './lib/preflight.js';
import { waitFor } from './lib/proc.js';
import { Rsyslog } from './lib/rsyslog.js';
import { captured, inject } from './lib/syslog-input.js';

const MINOCC = 3;
const NOISE = 'e2e-noise';

const skip = skipReason();

describe('banban restarted while rsyslog keeps sending', { skip }, () => {
  const cleanup = new Cleanup();
  let tb: Testbed;
  let rsyslog: Rsyslog;
  let configPath: string;
  let socket: string;
  let stateFile: string;
  let noise: { stop: () => Promise<number> } | undefined;

  async function failLines(ip: string): Promise<void> {
    for (let i = 0; i < MINOCC; i++) await inject(rsyslog, 'sshd[2222]', `Failed password for root from ${ip} port ${42000 + i} ssh2`);
  }

  /** Logs unmatched auth lines back to back until stopped; resolves with how many. */
  function startNoise(): { stop: () => Promise<number> } {
    let running = true;
    let sent = 0;
    const loop = (async () => {
      while (running) {
        await inject(rsyslog, 'sshd[2222]', `Connection closed by ${paperAddress(200)} port ${50000 + (sent % 10000)} [preauth] ${NOISE}`);
        sent++;
        await sleep(10);
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return sent;
      },
    };
  }

  const noiseCaptured = async () => (await captured(rsyslog)).filter((l) => l.includes(NOISE)).length;

  before(async () => {
    try {
      tb = await Testbed.create({ tag: 'rst', lists: [BARRIER_LIST] });
      cleanup.defer('remove namespaces', () => tb.destroy());
      const dir = cleanup.tempDir('rst');
      ({ config: configPath, socket, stateFile } = daemonPaths(dir));
      writeConfig(configPath, {
        socket,
        state_file: stateFile,
        ignorenets: ['127.0.0.0/8', '::1/128'],
        blocktypes: {
          ssh: { target: EXAMPLE_TARGET, minocc: MINOCC, interval: 60, resetconns: false, patterns: [SSH_FAILED_PATTERN] },
          barrier: BARRIER_BLOCKTYPE,
        },
      });
      rsyslog = await Rsyslog.start(dir, socket);
      cleanup.defer('stop noise', async () => {
        await noise?.stop();
      });
    } catch (e) {
      await cleanup.run().catch(() => {});
      throw e;
    }
  });

  after(async () => {
    await cleanup.run();
  });

  it('resumes banning after a restart: SIGTERM exits 0 and removes the socket, rsyslog carries on, the new daemon bans', async () => {
    const first = await Daemon.start(tb, configPath, socket, 'banban#1');
    noise = startNoise();

    const before = paperAddress(20);
    await failLines(before);
    await waitFor(`${before} banned by the first daemon`, () => tb.listed(EXAMPLE_TARGET, before));

    const status = await first.stop();
    assert.deepEqual(status, { code: 0, signal: null }, `SIGTERM must end the daemon with exit 0\n${first.service.tail()}`);
    assert.equal(first.socketExists(), false, 'the daemon removes its socket file on SIGTERM');

    // rsyslog keeps taking lines while nobody listens on the socket
    const seen = await noiseCaptured();
    await waitFor('rsyslog to keep receiving lines while the daemon is down', async () => (await noiseCaptured()) >= seen + 5);
    assert.ok(rsyslog.service.running, `rsyslogd survives the daemon going away\n${rsyslog.service.tail()}`);

    const second = await Daemon.start(tb, configPath, socket, 'banban#2');
    const afterRestart = paperAddress(21);
    await failLines(afterRestart);
    await waitFor(`${afterRestart} banned by the restarted daemon`, () => tb.listed(EXAMPLE_TARGET, afterRestart), { timeoutMs: 15_000 });
    // the noise stream reached the new daemon too, and broke nothing
    await barrier(tb, rsyslog);

    const sent = await noise.stop();
    noise = undefined;
    assert.ok(sent > 10, `the noise loop kept sending (${sent} lines)`);
    assert.ok(rsyslog.service.running, `rsyslogd is still running\n${rsyslog.service.tail()}`);
    assert.ok(second.service.running, `the restarted daemon is still running\n${second.service.tail()}`);
    assert.equal(await tb.listed(EXAMPLE_TARGET, paperAddress(200)), false, 'the unmatched noise banned nobody');
    const errors = second.logs().filter((e) => typeof e.level === 'number' && e.level >= 50);
    assert.deepEqual(errors, [], 'the restarted daemon logged no errors');

    const status2 = await second.stop();
    assert.deepEqual(status2, { code: 0, signal: null }, `second SIGTERM exit\n${second.service.tail()}`);
    assert.equal(second.socketExists(), false);
  });

  it('keeps banning when rsyslog itself is restarted: the new rsyslog reaches the same socket', async () => {
    const d = await Daemon.start(tb, configPath, socket, 'banban#3');
    try {
      const dir = rsyslog.captureFile.slice(0, rsyslog.captureFile.lastIndexOf('/'));
      await rsyslog.stop();
      rsyslog = await Rsyslog.start(dir, socket);
      const ip = paperAddress(22);
      await failLines(ip);
      await waitFor(`${ip} banned through the restarted rsyslog`, () => tb.listed(EXAMPLE_TARGET, ip), { timeoutMs: 15_000 });
      assert.ok(d.service.running, `the daemon did not notice the restart\n${d.service.tail()}`);
    } finally {
      await d.stop();
    }
  });
});
