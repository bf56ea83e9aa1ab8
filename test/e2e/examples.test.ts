/**
 * The example files an admin copies (examples/iptables.rules, rsyslog.conf,
 * syslog-ng.conf) are the ones the other e2e tests load, so a mistake in
 * them shows up there as a failed ban. These checks name the mistake
 * instead, and need no root: rule order in the firewall example, and the
 * syslog daemons' own config checkers on the configs the tests build.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXAMPLE_TARGET, exampleRuleBlocks } from './lib/firewall.js';
import { which } from './lib/preflight.js';
import { run } from './lib/proc.js';
import { createRequire } from 'node:module';
import { Rsyslog, rsyslogConf } from './lib/rsyslog.js';
import { inject, type SyslogDaemon } from './lib/syslog-input.js';
import { findSyslogNg, privateFileOptions, SyslogNg, syslogNgConf } from './lib/syslog-ng.js';

const unix = createRequire(import.meta.url)('unix-dgram') as {
  createSocket(type: 'unix_dgram', listener: (buf: Buffer) => void): { bind(path: string): void; close(): void };
};

/**
 * Starts a syslog daemon configured by its example, forwarding to a socket of
 * ours; logs `message` as a program with `tag`; resolves with the datagram
 * banban would have received.
 */
async function forwarded(start: (dir: string, to: string) => Promise<SyslogDaemon>, tag: string, message: string): Promise<string> {
  return withTempDir(async (dir) => {
    const to = join(dir, 'banban.sock');
    const got: string[] = [];
    const sock = unix.createSocket('unix_dgram', (buf) => got.push(buf.toString('utf8')));
    sock.bind(to);
    const daemon = await start(dir, to);
    try {
      for (let t = 0; !got.some((g) => g.includes(message)); t += 50) {
        if (t % 1000 === 0) await inject(daemon, tag, message, 'mail.warning'); // again, in case it came up after the first
        if (t > 10_000) throw new Error(`${daemon.kind} forwarded nothing with '${message}'; it forwarded: ${got.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return got.find((g) => g.includes(message))!;
    } finally {
      await daemon.stop();
      sock.close();
    }
  });
}

function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `bbe2e-${process.pid}-examples-`));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe('the example files', () => {
  for (const family of ['v4', 'v6'] as const) {
    it(`iptables.rules (IP${family}) accepts ESTABLISHED first and checks the ${EXAMPLE_TARGET} list before any service is accepted`, () => {
      const rules = exampleRuleBlocks()
        [family].split('\n')
        .filter((l) => l.startsWith('-A INPUT'));
      const established = rules.findIndex((r) => /--ctstate ESTABLISHED,RELATED -j ACCEPT/.test(r));
      const check = rules.findIndex((r) => new RegExp(`-m recent --name ${EXAMPLE_TARGET} --rcheck --seconds \\d+ -j DROP`).test(r));
      assert.equal(established, 0, `the ESTABLISHED,RELATED accept is the first INPUT rule:\n${rules.join('\n')}`);
      assert.ok(check > established, 'the list check comes after it');
      // only loopback and ICMPv6 (neighbour discovery) may be accepted in between
      for (const r of rules.slice(established + 1, check)) assert.match(r, /-i lo -j ACCEPT|-p ipv6-icmp -j ACCEPT/, `rule before the list check: ${r}`);
      assert.ok(
        rules.slice(check + 1).some((r) => /--dport 22 -j ACCEPT/.test(r)),
        'a service accept follows the check',
      );
    });
  }

  it('iptables.rules lets the tests change --seconds and nothing else', () => {
    const plain = exampleRuleBlocks();
    const changed = exampleRuleBlocks({ seconds: 77 });
    assert.match(changed.v4, /--rcheck --seconds 77 -j DROP/);
    assert.match(changed.v6, /--rcheck --seconds 77 -j DROP/);
    assert.equal(changed.v4.replace('--seconds 77', ''), plain.v4.replace(/--seconds \d+/, ''));
  });

  it("rsyslog.conf, inside the tests' rsyslog config, passes rsyslogd's config check", { skip: which('rsyslogd') ? false : 'rsyslogd is not installed' }, () =>
    withTempDir(async (dir) => {
      const conf = join(dir, 'rsyslog.conf');
      writeFileSync(conf, rsyslogConf({ work: dir, inputSocket: join(dir, 'in.sock'), captureFile: join(dir, 'captured.log'), forwardTo: join(dir, 'banban.sock') }));
      const r = await run('rsyslogd', ['-N1', '-f', conf]);
      assert.equal(r.code, 0, `rsyslogd -N1 says:\n${r.stderr}${r.stdout}`);
      assert.doesNotMatch(r.stderr + r.stdout, /error/i);
    }),
  );

  // A process id goes up to 4194304: postfix's submission smtpd then has a tag of 33 characters and more.
  const LONG_TAG = 'postfix/submission/smtpd[4194300]';
  const SASL = 'warning: unknown[192.0.2.2]: SASL LOGIN authentication failed: UGFzc3dvcmQ6';
  it('rsyslog, as rsyslog.conf sets it up, hands banban a program tag longer than 32 characters whole', { skip: which('rsyslogd') ? false : 'rsyslogd is not installed' }, async () => {
    const line = await forwarded((dir, to) => Rsyslog.start(dir, to), LONG_TAG, SASL);
    assert.match(line, /^<\d+>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ postfix\/submission\/smtpd\[4194300\]: warning: unknown\[192\.0\.2\.2\]: SASL LOGIN/, line);
  });
  it('syslog-ng, as syslog-ng.conf sets it up, hands banban a program tag longer than 32 characters whole', { skip: findSyslogNg() ? false : 'syslog-ng is not unpacked (test/e2e/setup-unpacked.sh syslog-ng)' }, async () => {
    const line = await forwarded((dir, to) => SyslogNg.start(findSyslogNg()!, dir, to), LONG_TAG, SASL);
    assert.match(line, / postfix\/submission\/smtpd\[4194300\]: warning: unknown\[192\.0\.2\.2\]: SASL LOGIN/, line);
  });

  it("syslog-ng.conf, inside the tests' syslog-ng config, passes syslog-ng's syntax check", { skip: findSyslogNg() ? false : 'syslog-ng is not unpacked (test/e2e/setup-unpacked.sh syslog-ng)' }, () =>
    withTempDir(async (dir) => {
      const install = findSyslogNg()!;
      const conf = join(dir, 'syslog-ng.conf');
      writeFileSync(conf, syslogNgConf({ version: install.version, inputSocket: join(dir, 'in.sock'), captureFile: join(dir, 'captured.log'), forwardTo: join(dir, 'banban.sock') }));
      const r = await run(install.binary, ['--syntax-only', '-f', conf, `--module-path=${install.modulePath}`, ...privateFileOptions(dir)], {
        env: { ...process.env, LD_LIBRARY_PATH: install.libraryPath },
      });
      assert.equal(r.code, 0, `syslog-ng --syntax-only says:\n${r.stderr}${r.stdout}`);
    }),
  );
});
