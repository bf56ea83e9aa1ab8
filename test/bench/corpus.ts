/**
 * The bench corpus: a day of a busy public server's syslog, in the
 * traditional file format (`Mmm dd hh:mm:ss host prog[pid]: msg`), made
 * deterministically from a seed.
 *
 * What is in it:
 *   - sshd under attack, in OpenSSH 8/9's own message shapes (the formats of
 *     auth.c, auth2.c, sshd.c, kex.c and packet.c, as fail2ban's sshd test
 *     log and any auth.log show them): password guessing with invalid and
 *     valid user names (with the pam_unix lines that go with it, MaxAuthTries
 *     cut-offs, "Disconnected from ... [preauth]"), and scanners (banner and
 *     key exchange failures, "Connection closed by ADDR port N",
 *     "Unable to negotiate", "ssh_dispatch_run_fatal");
 *   - legitimate ssh sessions with their pam_unix, systemd and logind lines;
 *   - postfix delivering mail, and postfix under SASL guessing and relay
 *     probing; dovecot logins;
 *   - noise that concerns no pattern: CRON, systemd units, kernel firewall
 *     log lines (with addresses), chronyd, dhclient, rsyslogd.
 * Attackers come and go: most try once or twice, a few keep at it for
 * hundreds of attempts, so there are many distinct addresses. About one in
 * ten is IPv6.
 *
 * Addresses are text only, from ranges that route nowhere: attackers from
 * 198.18.0.0/15 (benchmarking), 100.64.0.0/10 (shared address space) and
 * 2001:db8::/32 (documentation); legitimate clients and the server from
 * 192.0.2.0/24 and 203.0.113.0/24. The bench's own generated floods use
 * 10.0.0.0/8, so they never collide with the corpus.
 *
 * Two files are written: `.log` (the file format, for `banban test`,
 * fail2ban-regex and sshguard) and `.wire` (each line with the `<PRI>` that
 * rsyslog's RSYSLOG_TraditionalForwardFormat puts in front, as the datagrams
 * reach banban's socket).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Bump when the generator's output changes: cached corpora of older versions are not reused. */
export const GENERATOR_VERSION = 5;

export interface CorpusInfo {
  /** the file-format log */
  file: string;
  /** the same lines, each prefixed with its `<PRI>` */
  wire: string;
  lines: number;
  bytes: number;
  seed: number;
  generator: number;
  /** distinct attacker addresses (lines of attacks and scans) */
  attackers: number;
  attackersV6: number;
  /** lines written by sshd */
  sshdLines: number;
}

/** mulberry32: small, fast, and the same on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const INVALID_USERS = [
  'admin', 'test', 'user', 'oracle', 'postgres', 'ubuntu', 'git', 'guest', 'ftpuser', 'pi', 'support', 'deploy', 'dev',
  'hadoop', 'mysql', 'nagios', 'jenkins', 'tomcat', 'minecraft', 'steam', 'teamspeak', 'debian', 'centos', 'ansible',
  'elastic', 'www', 'web', 'backup', 'operator', 'sysadmin', 'test1', 'user1', 'dspace', 'odoo', 'es', 'kafka', 'zabbix',
  'ts3', 'vagrant', 'docker', 'solana', 'sol', 'validator', 'node', 'ethereum', 'bitcoin', 'mother', 'usuario', '1234',
];
const VALID_USERS = ['root', 'root', 'root', 'root', 'bin', 'daemon', 'mail', 'www-data', 'nobody'];
const GOOD_USERS = ['alice', 'bob', 'carol', 'deploy'];
const KEX_OFFERS = [
  'diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1',
  'diffie-hellman-group1-sha1',
  'ssh-rsa,ssh-dss',
  'aes128-cbc,3des-cbc,blowfish-cbc',
];
const NEGOTIATE_WHAT = ['key exchange method', 'key exchange method', 'host key type', 'cipher', 'MAC'];
const BAD_IDS = ['"GET / HTTP/1.1"', '"\\026\\003\\001"', '"MGLNDD_203.0.113.10_22"', '"SSH-2.0-Go"', '"\\003"'];
const FATAL_REASONS = ['message authentication code incorrect', 'incorrect signature', 'invalid format', 'Connection corrupted'];
const CRON_CMDS = [
  '(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)',
  '(root) CMD (   cd / && run-parts --report /etc/cron.hourly)',
  '(www-data) CMD (php -f /var/www/nextcloud/cron.php)',
  '(root) CMD ([ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi)',
];
const UNITS = [
  ['apt-daily.service', 'Daily apt download activities'],
  ['sysstat-collect.service', 'system activity accounting tool'],
  ['logrotate.service', 'Rotate log files'],
  ['man-db.service', 'Daily man-db regeneration'],
  ['phpsessionclean.service', 'Clean php session files'],
  ['certbot.service', 'Certbot'],
] as const;
const DPORTS = [23, 3389, 5900, 8080, 445, 1433, 3306, 6379, 8443, 2222, 81, 5060];

interface Attacker {
  ip: string;
  left: number;
  invalid: boolean;
}

export function corpusPath(dir: string, lines: number, seed: number): string {
  return join(dir, `corpus-g${GENERATOR_VERSION}-s${seed}-n${lines}`);
}

/** Makes the corpus unless a finished one of the same generator, seed and size is cached in `dir`. */
export function ensureCorpus(dir: string, lines: number, seed: number): CorpusInfo {
  const base = corpusPath(dir, lines, seed);
  const metaFile = `${base}.json`;
  if (existsSync(metaFile) && existsSync(`${base}.log`) && existsSync(`${base}.wire`)) {
    return JSON.parse(readFileSync(metaFile, 'utf8')) as CorpusInfo;
  }
  mkdirSync(dir, { recursive: true });
  const { text, wire, info } = generate(lines, seed);
  writeFileSync(`${base}.log.tmp`, text);
  writeFileSync(`${base}.wire.tmp`, wire);
  renameSync(`${base}.log.tmp`, `${base}.log`);
  renameSync(`${base}.wire.tmp`, `${base}.wire`);
  const meta: CorpusInfo = { file: `${base}.log`, wire: `${base}.wire`, bytes: Buffer.byteLength(text), ...info };
  writeFileSync(metaFile, JSON.stringify(meta, null, 2) + '\n');
  return meta;
}

export function generate(count: number, seed: number): { text: string; wire: string; info: Omit<CorpusInfo, 'file' | 'wire' | 'bytes'> } {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789ABCDEF'[Math.floor(r() * 16)]).join('');
  const b64 = (n: number) => Array.from({ length: n }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'[Math.floor(r() * 64)]).join('');

  const out: string[] = [];
  const pris: number[] = [];
  // a day: 22 November from midnight, time moving on by a random gap per event
  let t = Date.UTC(2025, 10, 22, 0, 0, 0) / 1000;
  const meanGap = 86_000 / (count / 3.2);
  let pidSeq = 2000;
  let session = 100;
  const host = 'web1';

  const stamp = () => {
    const d = new Date(Math.floor(t) * 1000);
    const p2 = (n: number) => String(n).padStart(2, '0');
    return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  };
  const emit = (pri: number, tagMsg: string) => {
    out.push(`${stamp()} ${host} ${tagMsg}`);
    pris.push(pri);
  };
  const later = (s: number) => {
    t += s;
  };
  const pid = () => (pidSeq = pidSeq >= 65000 ? 2000 : pidSeq + int(1, 40));
  const port = () => int(1024, 65535);

  const seen = new Set<string>();
  let attackers = 0;
  let v6 = 0;
  /** `attacker`: false for addresses that only show in the firewall's log */
  const newAttackerIp = (attacker = true): string => {
    for (;;) {
      let ip: string;
      const x = r();
      if (x < 0.1) {
        ip = `2001:db8:${int(1, 0xffff).toString(16)}:${int(0, 0xffff).toString(16)}::${int(1, 0xffff).toString(16)}`;
      } else if (x < 0.55) {
        const n = int(0, 0x1ffff);
        ip = `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
      } else {
        const n = int(0, 0x3fffff);
        ip = `100.${64 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
      }
      if (seen.has(ip)) continue;
      seen.add(ip);
      if (attacker) {
        attackers++;
        if (ip.includes(':')) v6++;
      }
      return ip;
    }
  };
  /** attempts of one attacker: most try once or twice, a few hundreds of times */
  const attempts = () => {
    const x = r();
    if (x < 0.55) return int(1, 2);
    if (x < 0.85) return int(3, 10);
    if (x < 0.97) return int(10, 40);
    return int(40, 300);
  };

  const AUTH = 38; // auth.info
  const AUTHPRIV = 86; // authpriv.info
  const MAIL = 22; // mail.info
  const CRON = 78; // cron.info
  const DAEMON = 30; // daemon.info
  const KERN = 4; // kern.warning
  const SYSLOG = 46; // syslog.info

  const brute: Attacker[] = [];
  const mailers: Attacker[] = [];
  const scanners: Attacker[] = [];
  const fromPool = (pool: Attacker[], target: number, make: () => Attacker): Attacker => {
    if (pool.length < target || r() < 0.25) pool.push(make());
    const i = Math.floor(r() * pool.length);
    const a = pool[i]!;
    if (--a.left <= 0) {
      pool[i] = pool[pool.length - 1]!;
      pool.pop();
    }
    return a;
  };

  let sshdLines = 0;
  const sshd = (p: number, msg: string, pri = AUTH) => {
    emit(pri, `sshd[${p}]: ${msg}`);
    sshdLines++;
  };

  const events: [number, () => void][] = [
    // password guessing, one connection
    [
      22,
      () => {
        const a = fromPool(brute, 150, () => ({ ip: newAttackerIp(), left: attempts(), invalid: r() < 0.6 }));
        const p = pid();
        const pt = port();
        if (a.invalid) {
          const u = pick(INVALID_USERS);
          sshd(p, `Invalid user ${u} from ${a.ip} port ${pt}`);
          sshd(p, `pam_unix(sshd:auth): check pass; user unknown`, AUTHPRIV);
          sshd(p, `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${a.ip}`, AUTHPRIV);
          later(r() * 3);
          sshd(p, `Failed password for invalid user ${u} from ${a.ip} port ${pt} ssh2`);
          sshd(p, `Received disconnect from ${a.ip} port ${pt}:11: Bye Bye [preauth]`);
          sshd(p, `Disconnected from invalid user ${u} ${a.ip} port ${pt} [preauth]`);
          return;
        }
        const u = pick(VALID_USERS);
        const tries = r() < 0.15 ? 6 : 1;
        sshd(p, `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${a.ip}  user=${u}`, AUTHPRIV);
        for (let i = 0; i < tries; i++) {
          later(r() * 3);
          sshd(p, `Failed password for ${u} from ${a.ip} port ${pt} ssh2`);
        }
        if (tries > 1) {
          sshd(p, `error: maximum authentication attempts exceeded for ${u} from ${a.ip} port ${pt} ssh2 [preauth]`);
          sshd(p, `Disconnecting authenticating user ${u} ${a.ip} port ${pt}: Too many authentication failures [preauth]`);
          sshd(p, `PAM ${tries - 1} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=${a.ip}  user=${u}`, AUTHPRIV);
          return;
        }
        if (r() < 0.7) {
          sshd(p, `Received disconnect from ${a.ip} port ${pt}:11: Bye Bye [preauth]`);
          sshd(p, `Disconnected from authenticating user ${u} ${a.ip} port ${pt} [preauth]`);
        } else {
          sshd(p, `Connection closed by authenticating user ${u} ${a.ip} port ${pt} [preauth]`);
        }
      },
    ],
    // scanners: banner and key exchange trouble
    [
      14,
      () => {
        const a = fromPool(scanners, 60, () => ({ ip: newAttackerIp(), left: int(1, 6), invalid: false }));
        const p = pid();
        const pt = port();
        const x = r();
        if (x < 0.2) sshd(p, `Connection closed by ${a.ip} port ${pt} [preauth]`);
        else if (x < 0.45) {
          sshd(p, `kex_exchange_identification: Connection closed by remote host`);
          sshd(p, `Connection closed by ${a.ip} port ${pt}`);
        } else if (x < 0.6) {
          sshd(p, `kex_exchange_identification: read: Connection reset by peer`);
          sshd(p, `Connection reset by ${a.ip} port ${pt}`);
        } else if (x < 0.75) {
          sshd(p, `error: kex_exchange_identification: client sent invalid protocol identifier ${pick(BAD_IDS)}`);
          sshd(p, `banner exchange: Connection from ${a.ip} port ${pt}: invalid format`);
        } else if (x < 0.9) {
          sshd(p, `Unable to negotiate with ${a.ip} port ${pt}: no matching ${pick(NEGOTIATE_WHAT)} found. Their offer: ${pick(KEX_OFFERS)} [preauth]`);
        } else {
          sshd(p, `ssh_dispatch_run_fatal: Connection from ${a.ip} port ${pt}: ${pick(FATAL_REASONS)} [preauth]`);
        }
      },
    ],
    // a legitimate ssh session
    [
      1.2,
      () => {
        const u = pick(GOOD_USERS);
        const ip = `192.0.2.${int(10, 60)}`;
        const p = pid();
        const pt = port();
        const s = session++;
        sshd(p, `Accepted publickey for ${u} from ${ip} port ${pt} ssh2: ED25519 SHA256:${b64(43)}`);
        sshd(p, `pam_unix(sshd:session): session opened for user ${u}(uid=${1000 + GOOD_USERS.indexOf(u)}) by (uid=0)`, AUTHPRIV);
        emit(AUTHPRIV, `systemd-logind[412]: New session ${s} of user ${u}.`);
        emit(DAEMON, `systemd[1]: Started session-${s}.scope - Session ${s} of User ${u}.`);
        later(r() * 30);
        sshd(p, `Received disconnect from ${ip} port ${pt}:11: disconnected by user`);
        sshd(p, `Disconnected from user ${u} ${ip} port ${pt}`);
        sshd(p, `pam_unix(sshd:session): session closed for user ${u}`, AUTHPRIV);
        emit(DAEMON, `systemd[1]: session-${s}.scope: Deactivated successfully.`);
        emit(AUTHPRIV, `systemd-logind[412]: Session ${s} logged out. Waiting for processes to exit.`);
        emit(AUTHPRIV, `systemd-logind[412]: Removed session ${s}.`);
      },
    ],
    // cron
    [
      9,
      () => {
        const p = pid();
        emit(AUTHPRIV, `CRON[${p}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`);
        emit(CRON, `CRON[${p}]: ${pick(CRON_CMDS)}`);
        emit(AUTHPRIV, `CRON[${p}]: pam_unix(cron:session): session closed for user root`);
      },
    ],
    // systemd units
    [
      3,
      () => {
        const [unit, what] = pick(UNITS);
        emit(DAEMON, `systemd[1]: Starting ${unit} - ${what}...`);
        emit(DAEMON, `systemd[1]: ${unit}: Deactivated successfully.`);
        emit(DAEMON, `systemd[1]: Finished ${unit} - ${what}.`);
      },
    ],
    // the firewall's log of dropped probes
    [
      10,
      () => {
        const src = r() < 0.5 && scanners.length ? pick(scanners).ip : newAttackerIp(false);
        if (src.includes(':')) return;
        emit(
          KERN,
          `kernel: [${int(100000, 999999)}.${String(int(0, 999999)).padStart(6, '0')}] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=${src} DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=${int(40, 250)} ID=${int(1, 65535)} PROTO=TCP SPT=${port()} DPT=${pick(DPORTS)} WINDOW=1024 RES=0x00 SYN URGP=0`,
        );
      },
    ],
    // postfix: a delivery
    [
      2,
      () => {
        const p = pid();
        const q = hex(10);
        const relay = `mail${int(1, 9)}.example.org[192.0.2.${int(100, 120)}]`;
        emit(MAIL, `postfix/smtpd[${p}]: connect from ${relay}`);
        emit(MAIL, `postfix/smtpd[${p}]: ${q}: client=${relay}`);
        emit(MAIL, `postfix/cleanup[${pid()}]: ${q}: message-id=<${hex(14)}.${hex(6)}@example.org>`);
        emit(MAIL, `postfix/qmgr[1190]: ${q}: from=<news@example.org>, size=${int(800, 90000)}, nrcpt=1 (queue active)`);
        emit(MAIL, `postfix/smtpd[${p}]: disconnect from ${relay} ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7`);
        emit(
          MAIL,
          `postfix/local[${pid()}]: ${q}: to=<${pick(GOOD_USERS)}@example.net>, relay=local, delay=0.${int(10, 99)}, delays=0.05/0.01/0/0.0${int(1, 9)}, dsn=2.0.0, status=sent (delivered to mailbox)`,
        );
        emit(MAIL, `postfix/qmgr[1190]: ${q}: removed`);
      },
    ],
    // postfix: SASL guessing and relay probes
    [
      4,
      () => {
        const a = fromPool(mailers, 40, () => ({ ip: newAttackerIp(), left: attempts(), invalid: false }));
        const p = pid();
        emit(MAIL, `postfix/smtpd[${p}]: connect from unknown[${a.ip}]`);
        if (r() < 0.75) {
          emit(MAIL, `postfix/smtpd[${p}]: warning: unknown[${a.ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`);
          emit(MAIL, `postfix/smtpd[${p}]: lost connection after AUTH from unknown[${a.ip}]`);
          emit(MAIL, `postfix/smtpd[${p}]: disconnect from unknown[${a.ip}] ehlo=1 auth=0/1 rset=1 quit=1 commands=3/4`);
        } else {
          emit(
            MAIL,
            `postfix/smtpd[${p}]: NOQUEUE: reject: RCPT from unknown[${a.ip}]: 454 4.7.1 <spameri@tiscali.it>: Relay access denied; from=<spameri@tiscali.it> to=<spameri@tiscali.it> proto=ESMTP helo=<WIN-${hex(11)}>`,
          );
          emit(MAIL, `postfix/smtpd[${p}]: disconnect from unknown[${a.ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4`);
        }
      },
    ],
    // dovecot
    [
      2,
      () => {
        const u = pick(GOOD_USERS);
        const s = b64(12);
        const m = pid();
        emit(MAIL, `dovecot: imap-login: Login: user=<${u}>, method=PLAIN, rip=192.0.2.${int(10, 60)}, lip=203.0.113.10, mpid=${m}, TLS, session=<${s}>`);
        emit(MAIL, `dovecot: imap(${u})<${m}><${s}>: Logged out in=${int(50, 900)} out=${int(500, 90000)} deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0`);
      },
    ],
    // everything else
    [
      2,
      () => {
        const x = r();
        if (x < 0.4) emit(DAEMON, `chronyd[567]: Selected source 192.0.2.123 (2.debian.pool.ntp.org)`);
        else if (x < 0.7) {
          emit(DAEMON, `dhclient[789]: DHCPREQUEST for 203.0.113.10 on eth0 to 203.0.113.1 port 67`);
          emit(DAEMON, `dhclient[789]: DHCPACK of 203.0.113.10 from 203.0.113.1`);
          emit(DAEMON, `dhclient[789]: bound to 203.0.113.10 -- renewal in ${int(1200, 1800)} seconds.`);
        } else if (x < 0.85) {
          emit(SYSLOG, `rsyslogd: [origin software="rsyslogd" swVersion="8.2302.0" x-pid="456" x-info="https://www.rsyslog.com"] rsyslogd was HUPed`);
        } else emit(DAEMON, `systemd-resolved[345]: Using degraded feature set UDP instead of UDP+EDNS0 for DNS server 192.0.2.53.`);
      },
    ],
  ];
  const total = events.reduce((s, [w]) => s + w, 0);

  while (out.length < count) {
    let x = r() * total;
    let fn = events[0]![1];
    for (const [w, f] of events) {
      if ((x -= w) < 0) {
        fn = f;
        break;
      }
    }
    fn();
    later(-Math.log(1 - r()) * meanGap);
  }
  out.length = count;
  pris.length = count;
  const text = out.join('\n') + '\n';
  const wire = out.map((l, i) => `<${pris[i]}>${l}`).join('\n') + '\n';
  return { text, wire, info: { lines: count, seed, generator: GENERATOR_VERSION, attackers, attackersV6: v6, sshdLines } };
}
