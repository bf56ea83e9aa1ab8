/**
 * A real OpenSSH server in the server namespace, and a real ssh client in the
 * client namespace, so the main scenario's log lines are the ones sshd
 * itself writes ("Failed password for ... from ADDR port N ssh2").
 *
 * sshd logs with syslog(3), i.e. to /dev/log, and has no option to log to
 * another socket. So it runs in a mount namespace of its own
 * (private-root.ts) whose /dev/log is our syslog daemon's input socket, and
 * whose /etc/passwd, /etc/group and /etc/shadow hold the test user with a
 * known password (UsePAM no: sshd checks the shadow hash itself). On its
 * private /run it makes /run/sshd, the empty folder sshd's unprivileged
 * pre-auth child chroots into. Host keys are generated into the test's temp
 * folder.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runOk, Service } from './proc.js';
import { Testbed } from './netns.js';
import { which } from './preflight.js';
import { inPrivateRoot, waitForPort } from './private-root.js';

export const SSH_USER = 'bbe2e';
export const SSH_PASSWORD = 'correct-horse-e2e';
export const SSH_WRONG_PASSWORD = 'wrong-horse';
export const SSH_PORT = 22;

/**
 * crypt(3) SHA-512 hash of SSH_PASSWORD, made once with
 *   perl -e 'print crypt("correct-horse-e2e", "\$6\$bbe2e\$")'
 * A constant, so the tests need no password hashing tool.
 */
const SSH_PASSWORD_HASH = '$6$bbe2e$mt6c8ax2u2V4fwbx/9KaghziY/8Ue8db2YvM/f/MxcE0nnYM5yLujzedOR2v0TD29Za0wcSlp8IPT2fcc3Due.';

const TEST_UID = 4242;

export class Sshd {
  private constructor(readonly service: Service) {}

  /**
   * Starts sshd in `tb.server`, logging to the syslog input socket `logSocket`.
   * Files go in `dir`. `extra`: lines appended to its sshd_config (`Match`
   * blocks). Resolves once sshd has bound its port.
   */
  static async start(tb: Testbed, dir: string, logSocket: string, extra: readonly string[] = []): Promise<Sshd> {
    const sshdBin = which('sshd');
    if (!sshdBin) throw new Error('sshd not found (package openssh-server)');
    const base = join(dir, 'sshd');
    const home = join(base, 'home');
    mkdirSync(home, { recursive: true });
    chmodSync(home, 0o755);
    // sshd's privilege separation user must exist; take the host's entry
    const privsep = (await run('getent', ['passwd', 'sshd'])).stdout.trim();
    if (!privsep) throw new Error('no "sshd" user on this host (package openssh-server creates it)');
    const users = {
      passwd: ['root:x:0:0:root:/root:/bin/sh', privsep, 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin', `${SSH_USER}:x:${TEST_UID}:${TEST_UID}:banban e2e:${home}:/bin/sh`],
      group: ['root:x:0:', 'nogroup:x:65534:', `${SSH_USER}:x:${TEST_UID}:`],
      shadow: ['root:*:19000:0:99999:7:::', `${SSH_USER}:${SSH_PASSWORD_HASH}:19000:0:99999:7:::`],
    };

    const hostKey = join(base, 'ssh_host_ed25519_key');
    await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'banban-e2e', '-f', hostKey]);

    const config = join(base, 'sshd_config');
    writeFileSync(
      config,
      [
        '# written by test/e2e/lib/sshd.ts',
        `Port ${SSH_PORT}`,
        'AddressFamily any',
        `HostKey ${hostKey}`,
        `PidFile ${join(base, 'sshd.pid')}`,
        'UsePAM no',
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication no',
        'AuthorizedKeysFile none',
        'PermitRootLogin no',
        'UseDNS no',
        // the lines banban reads: facility auth, "Failed password ..." at INFO
        'SyslogFacility AUTH',
        'LogLevel INFO',
        // our home folder lives in a temp dir that StrictModes would reject
        'StrictModes no',
        'PrintMotd no',
        'PrintLastLog no',
        'MaxStartups 50',
        ...extra,
        '',
      ].join('\n'),
    );

    const [cmd, args] = inPrivateRoot(tb.server, base, logSocket, users, ['sh', '-c', 'mkdir -m 0755 /run/sshd && exec "$0" "$@"', sshdBin, '-D', '-f', config]);
    const service = new Service('sshd', cmd, args);
    const sshd = new Sshd(service);
    // -D keeps sshd in the foreground; it writes nothing on stdout, so wait until its port answers
    await waitForPort(tb, service, SSH_PORT);
    return sshd;
  }

  async stop(): Promise<void> {
    await this.service.stop('SIGTERM', 3000);
  }
}

export type SshOutcome = 'accepted' | 'denied' | 'timeout' | 'error';

/**
 * One real ssh login from namespace `ns` with `password` (sshpass types it
 * at ssh's prompt). One password prompt only, so each call is exactly one
 * "Failed password" or "Accepted password" line in sshd's log. `user`: the
 * account asked for (default SSH_USER, who exists on the server).
 */
export async function sshLogin(ns: string, host: string, password: string, { bind, user = SSH_USER }: { bind?: string; user?: string } = {}): Promise<{ outcome: SshOutcome; detail: string }> {
  const [cmd, args] = Testbed.wrap(ns, 'sshpass', [
    '-p',
    password,
    'ssh',
    '-F',
    '/dev/null',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'PubkeyAuthentication=no',
    '-o',
    'PreferredAuthentications=password',
    '-o',
    'NumberOfPasswordPrompts=1',
    '-o',
    'ConnectTimeout=2',
    '-o',
    'LogLevel=ERROR',
    ...(bind ? ['-b', bind] : []),
    '-p',
    String(SSH_PORT),
    `${user}@${host}`,
    'true',
  ]);
  const r = await run(cmd, args, { timeoutMs: 15_000 });
  const detail = `exit ${r.code ?? r.signal}: ${r.stderr.trim()}`;
  if (r.code === 0) return { outcome: 'accepted', detail };
  if (/Permission denied/.test(r.stderr)) return { outcome: 'denied', detail };
  if (/timed out/i.test(r.stderr)) return { outcome: 'timeout', detail };
  return { outcome: 'error', detail };
}
