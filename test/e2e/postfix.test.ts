/**
 * The shipped postfix preset against a real Postfix: a password guesser in
 * the client namespace fails SMTP AUTH at a real smtpd (Debian's, unpacked
 * by test/e2e/setup-unpacked.sh postfix), postfix logs through real rsyslog
 * to the daemon, the ban lands in the kernel list.
 *
 * What it holds: a guess that hangs up is 2 offences (the failure, and one
 * end though smtpd writes two end lines), and that stays so for the next
 * connection of the same client to the same smtpd process, which postfix
 * reuses (the `connect from` line, a session pattern, starts it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLIENT4, SERVER4 } from './lib/addresses.js';
import { Cleanup } from './lib/cleanup.js';
import { BARRIER_BLOCKTYPE, BARRIER_LIST, Daemon, barrier, daemonPaths, writeConfig } from './lib/daemon.js';
import { EXAMPLE_TARGET } from './lib/firewall.js';
import { Testbed } from './lib/netns.js';
import { Postfix, SETUP_SCRIPT, SMTP_PORT, findPostfix, type PostfixInstall } from './lib/postfix.js';
import { skipReason } from './lib/preflight.js';
import { waitFor } from './lib/proc.js';
import { Rsyslog } from './lib/rsyslog.js';
import { guessSmtpPassword } from './lib/smtp-peer.js';
import { captured } from './lib/syslog-input.js';

/** two guesses that hang up are 4 offences; the third guess makes 5 */
const MINOCC = 5;

function postfixSkip(): string | undefined {
  const common = skipReason();
  if (common !== undefined) return common;
  if (findPostfix() === undefined) {
    const why = `postfix is not unpacked; run ${SETUP_SCRIPT} (as root) first`;
    process.stderr.write(`\n!!!!! banban postfix e2e test SKIPPED: ${why} !!!!!\n\n`);
    return why;
  }
  return undefined;
}

const skip = postfixSkip();

describe('the postfix preset against a real postfix, through rsyslog, into the kernel list', { skip }, () => {
  const cleanup = new Cleanup();
  let tb: Testbed;
  let rsyslog: Rsyslog;
  let daemon: Daemon;

  /** postfix's lines in rsyslog so far about the client */
  const clientLines = async () => (await captured(rsyslog)).filter((l) => l.includes(`[${CLIENT4}]`));
  const pidOf = (l: string) => /smtpd\[(\d+)\]: /.exec(l)?.[1];

  before(async () => {
    try {
      tb = await Testbed.create({ tag: 'pfx', lists: [BARRIER_LIST] });
      cleanup.defer('remove namespaces', () => tb.destroy());
      const dir = cleanup.tempDir('pfx');
      const paths = daemonPaths(dir);
      writeConfig(paths.config, {
        socket: paths.socket,
        state_file: paths.stateFile,
        include: ['postfix'],
        ignorenets: ['127.0.0.0/8', '::1/128'],
        blocktypes: { postfix: { target: EXAMPLE_TARGET, minocc: MINOCC, interval: 600, resetconns: false }, barrier: BARRIER_BLOCKTYPE },
      });
      daemon = await Daemon.start(tb, paths.config, paths.socket);
      rsyslog = await Rsyslog.start(dir, paths.socket);
      const postfix = await Postfix.start(tb, dir, rsyslog.inputSocket, findPostfix() as PostfixInstall);
      cleanup.defer('stop postfix', () => postfix.stop());
    } catch (e) {
      await cleanup.run().catch(() => {});
      throw e;
    }
  });

  after(async () => {
    await cleanup.run();
  });

  it(`bans a password guesser that hangs up on its third guess, not its second: each connection's end counts once`, async () => {
    for (let n = 1; n <= 2; n++) {
      const reply = await guessSmtpPassword(tb.client, SERVER4, SMTP_PORT, CLIENT4, 'hangup');
      assert.match(reply, /^535 /, `smtpd refuses the password (guess ${n})`);
      await waitFor(`postfix's "disconnect from" line of guess ${n} in rsyslog`, async () => (await clientLines()).filter((l) => / disconnect from /.test(l)).length === n);
    }
    const lines = await clientLines();
    assert.equal(lines.filter((l) => /: lost connection after AUTH from unknown\[/.test(l)).length, 2, `smtpd wrote two end lines for each hang-up:\n${lines.join('\n')}`);
    const connects = lines.filter((l) => /: connect from unknown\[/.test(l)).map(pidOf);
    assert.equal(connects.length, 2);
    assert.equal(connects[0], connects[1], `postfix served both connections with one smtpd process (what the connect-from session pattern is for):\n${lines.join('\n')}`);
    await barrier(tb, rsyslog);
    assert.deepEqual(await tb.list(EXAMPLE_TARGET), [], `2 guesses that hung up are 4 offences, below minocc ${MINOCC}`);

    const mark = daemon.mark;
    assert.match(await guessSmtpPassword(tb.client, SERVER4, SMTP_PORT, CLIENT4, 'quit'), /^535 /);
    await waitFor(`${CLIENT4} in /proc/net/xt_recent/${EXAMPLE_TARGET}`, () => tb.listed(EXAMPLE_TARGET, CLIENT4));
    const logged = await daemon.waitForLog((e) => e.msg === 'blocked' && e.ip === CLIENT4, { from: mark, what: `"blocked" for ${CLIENT4}` });
    assert.equal(logged.blocktype, 'postfix');
    assert.equal(logged.offences, MINOCC);
  });
});
