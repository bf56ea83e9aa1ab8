/**
 * The example files an admin copies (examples/iptables.rules, rsyslog.conf,
 * syslog-ng.conf) are the ones the other e2e tests load, so a mistake in
 * them shows up there as a failed ban. These checks name the mistake
 * instead: rule order in the firewall example, the commands its header
 * gives for a host that has a firewall (run in a namespace of the test's
 * own, as root), and the syslog daemons' own config checkers on the
 * configs the tests build.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXAMPLE_RULES, EXAMPLE_TARGET, exampleRuleBlocks } from './lib/firewall.js';
import { skipReason, which } from './lib/preflight.js';
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

  it("iptables.rules' header inserts the one rule into a running DROP firewall ahead of its service accepts, and leaves its policy alone", { skip: skipReason() }, async () => {
    // the commands the header tells an admin with a firewall to run, as written there
    const header = readFileSync(EXAMPLE_RULES, 'utf8').split('\n').filter((l) => l.startsWith('#'));
    const commands = header.map((l) => /^#\s+(ip6?tables\s+-I INPUT 1 .*)$/.exec(l)?.[1]).filter((c): c is string => c !== undefined);
    assert.equal(commands.length, 2, `two insert commands (IPv4, IPv6) in the header:\n${header.join('\n')}`);
    const ns = `bbe2e-${process.pid}-fw`;
    await run('ip', ['netns', 'del', ns]);
    assert.equal((await run('ip', ['netns', 'add', ns])).code, 0);
    try {
      const inNs = (cmd: string, args: string[]) => run('ip', ['netns', 'exec', ns, cmd, ...args]);
      for (const tool of ['iptables', 'ip6tables']) {
        // an admin's firewall: established flows, ssh, and DROP for the rest
        for (const rule of [['-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'], ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT'], ['-P', 'INPUT', 'DROP']]) {
          assert.equal((await inNs(tool, rule)).code, 0, `${tool} ${rule.join(' ')}`);
        }
      }
      for (const c of commands) {
        const [tool, ...args] = c.trim().split(/\s+/);
        const r = await inNs(tool!, args);
        assert.equal(r.code, 0, `${c}: ${r.stderr}`);
      }
      for (const tool of ['iptables', 'ip6tables']) {
        const rules = (await inNs(tool, ['-S', 'INPUT'])).stdout.trim().split('\n');
        assert.equal(rules[0], '-P INPUT DROP', `${tool}: the policy stays DROP:\n${rules.join('\n')}`);
        const check = rules.findIndex((r) => r.includes(`--name ${EXAMPLE_TARGET}`) && r.includes('--rcheck') && r.endsWith('-j DROP'));
        const ssh = rules.findIndex((r) => r.includes('--dport 22') && r.endsWith('-j ACCEPT'));
        assert.ok(check > 0 && check < ssh, `${tool}: the list check comes before the ssh accept:\n${rules.join('\n')}`);
      }
      assert.equal((await inNs('test', ['-e', `/proc/net/xt_recent/${EXAMPLE_TARGET}`])).code, 0, 'the list exists for banban to fill');
    } finally {
      await run('ip', ['netns', 'del', ns]);
    }
  });

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
