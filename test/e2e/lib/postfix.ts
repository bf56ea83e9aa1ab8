/**
 * A real Postfix in the server namespace: Debian's master and smtpd,
 * unpacked by test/e2e/setup-unpacked.sh (no mail system is installed on
 * the machine), with a config of the test's own in its temp folder, and
 * SMTP AUTH through Cyrus SASL with an empty sasldb, so every login fails
 * as a password guesser's does.
 *
 * Postfix logs with syslog(3) and checks its users in /etc/passwd, so master
 * runs in a private root (private-root.ts): /dev/log is our syslog daemon's
 * input socket, and the private /etc/passwd holds a `postfix` mail owner and
 * a `postdrop` group. master passes only `import_environment` on to the
 * daemons it starts, so the unpacked libraries' path goes there.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testbed } from './netns.js';
import { repoRoot, unpackedEnv } from './preflight.js';
import { inPrivateRoot, waitForPort } from './private-root.js';
import { Service } from './proc.js';

export const SMTP_PORT = 25;
export const SETUP_SCRIPT = `${join(repoRoot, 'test', 'e2e', 'setup-unpacked.sh')} postfix`;

/** the mail owner, its group, and postfix's setgid group: only in the private /etc */
const POSTFIX_UID = 4243;
const POSTFIX_GID = 4244;
const POSTDROP_GID = 4245;

export interface PostfixInstall {
  readonly daemonDirectory: string;
  readonly shlibDirectory: string;
  readonly libraryPath: string;
}

/** Where setup-unpacked.sh unpacked postfix, or undefined if it has not run. */
export function findPostfix(): PostfixInstall | undefined {
  const vars = unpackedEnv('postfix', 'BANBAN_E2E_POSTFIX');
  if (vars === undefined) return undefined;
  const daemonDirectory = vars.get('DAEMON_DIRECTORY');
  const shlibDirectory = vars.get('SHLIB_DIRECTORY');
  const libraryPath = vars.get('LD_LIBRARY_PATH');
  if (!daemonDirectory || !shlibDirectory || !libraryPath || !existsSync(join(daemonDirectory, 'master'))) return undefined;
  return { daemonDirectory, shlibDirectory, libraryPath };
}

export class Postfix {
  private constructor(readonly service: Service) {}

  /** Starts master (and through it smtpd on port 25) in `tb.server`, logging to `logSocket`. Files go in `dir`. */
  static async start(tb: Testbed, dir: string, logSocket: string, install: PostfixInstall): Promise<Postfix> {
    const base = join(dir, 'postfix');
    const conf = join(base, 'conf');
    const queue = join(base, 'queue');
    const data = join(base, 'data');
    const sasl = join(base, 'sasl');
    for (const d of [conf, join(queue, 'pid'), join(queue, 'public'), join(queue, 'private'), data, sasl]) mkdirSync(d, { recursive: true });
    // the mail owner must reach its folders through the test's temp folder
    for (const d of [dir, base, queue]) chmodSync(d, 0o755);
    for (const d of [join(queue, 'public'), join(queue, 'private'), data]) chownSync(d, POSTFIX_UID, POSTFIX_GID);

    // Cyrus SASL loads its plugins from a folder compiled in; an unpacked libsasl2 has them in $DEST
    const unpackedPlugins = install.libraryPath.split(':').map((d) => join(d, 'sasl2')).find((d) => existsSync(d));
    const env = [`LD_LIBRARY_PATH=${install.libraryPath}`, ...(unpackedPlugins ? [`SASL_PATH=${unpackedPlugins}`] : [])];
    writeFileSync(
      join(conf, 'main.cf'),
      [
        '# written by test/e2e/lib/postfix.ts',
        'compatibility_level = 3.6',
        `queue_directory = ${queue}`,
        `data_directory = ${data}`,
        `daemon_directory = ${install.daemonDirectory}`,
        `shlib_directory = ${install.shlibDirectory}`,
        `meta_directory = ${conf}`,
        'mail_owner = postfix',
        'setgid_group = postdrop',
        'myhostname = mx.example.test',
        'mydestination =',
        'mynetworks = 127.0.0.0/8',
        'alias_maps =',
        'alias_database =',
        'inet_interfaces = all',
        'inet_protocols = ipv4',
        `import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG ${env.join(' ')}`,
        'smtpd_sasl_auth_enable = yes',
        'smtpd_sasl_type = cyrus',
        'smtpd_sasl_path = smtpd',
        `cyrus_sasl_config_path = ${sasl}`,
        // no anvil limits: the test's client connects again and again
        'smtpd_client_connection_count_limit = 0',
        'smtpd_client_connection_rate_limit = 0',
        'smtpd_tls_security_level = none',
        'smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(conf, 'master.cf'),
      [
        `smtp      inet  n       -       n       -       -       smtpd`,
        // smtpd asks proxymap for its tables and waits while it is missing
        'proxymap  unix  -       -       n       -       -       proxymap',
        'anvil     unix  -       -       n       -       1       anvil',
        '',
      ].join('\n'),
    );
    writeFileSync(join(sasl, 'smtpd.conf'), ['pwcheck_method: auxprop', 'auxprop_plugin: sasldb', 'mech_list: PLAIN LOGIN', `sasldb_path: ${join(sasl, 'sasldb2')}`, ''].join('\n'));

    const users = {
      passwd: ['root:x:0:0:root:/root:/bin/sh', `postfix:x:${POSTFIX_UID}:${POSTFIX_GID}:postfix:${queue}:/usr/sbin/nologin`, 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin'],
      group: ['root:x:0:', `postfix:x:${POSTFIX_GID}:`, `postdrop:x:${POSTDROP_GID}:`, 'nogroup:x:65534:'],
      shadow: ['root:*:19000:0:99999:7:::'],
    };
    const [cmd, args] = inPrivateRoot(tb.server, base, logSocket, users, ['env', ...env, join(install.daemonDirectory, 'master'), '-c', conf, '-d']);
    const service = new Service('postfix', cmd, args);
    await waitForPort(tb, service, SMTP_PORT);
    return new Postfix(service);
  }

  async stop(): Promise<void> {
    await this.service.stop('SIGTERM', 3000);
  }
}
