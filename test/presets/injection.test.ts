/**
 * Log injection against the shipped presets: lines where the client chose
 * text that looks like "from ADDR" (in a user name, a version string, a
 * recipient, a Referer ...). Every preset is loaded at once, as an admin
 * who includes them all would, and each line is matched by the daemon's
 * own matcher: no preset may capture an address other than the real peer.
 * For most lines the real peer must also be caught; for a few, where the
 * line is ambiguous, not matching at all is the safe answer and is allowed.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { Matcher } from '../../src/match/matcher.js';
import { BanEngine } from '../../src/track/ban-engine.js';
import { rng } from '../bench/corpus.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const { config } = loadConfig(path.join(ROOT, 'test/presets/fixtures/all-presets.yml'), { passwdText: '', groupText: '' });
const matcher = new Matcher(config);

/** [line after the host, the real peer ('' when the line reads two ways: nothing may be taken), whether it must be caught (else: caught or not matched)] */
type Case = [line: string, real: string, mustMatch: boolean];

/** Every address any preset captures from the line (bad offences and good matches). */
function captured(line: string): string[] {
  const v = matcher.match(line);
  if (v.kind === 'good') return [v.ip.text];
  if (v.kind === 'bad') return v.offences.map((o) => o.ip.text);
  return [];
}

function check(cases: Case[]): void {
  for (const [line, real, mustMatch] of cases) {
    const got = captured(line);
    const wrong = got.filter((ip) => ip !== real);
    assert.deepEqual(wrong, [], `captured a wrong address from: ${line}`);
    if (mustMatch) assert.ok(got.includes(real), `did not catch ${real} in: ${line}`);
  }
}

test('sshd: user names, versions and auth info that carry a fake address', () => {
  check([
    // the user name "root from 123.123.123.123"
    ['sshd[1]: Invalid user root from 123.123.123.123 from 192.0.2.1 port 22', '192.0.2.1', true],
    ['sshd[1]: Failed password for invalid user root from 123.123.123.123 from 192.0.2.1 port 22 ssh2', '192.0.2.1', true],
    ['sshd[1]: Connection closed by invalid user root from 123.123.123.123 192.0.2.1 port 22 [preauth]', '192.0.2.1', true],
    // the user name "Invalid user root from 123.123.123.123"
    ['sshd[1]: Invalid user Invalid user root from 123.123.123.123 from 192.0.2.1 port 22', '192.0.2.1', true],
    ['sshd[1]: error: PAM: Authentication failure for illegal user Invalid user root from 123.123.123.123 from 192.0.2.1', '192.0.2.1', true],
    // the user name "from 10.10.1.1", and "test from 10.10.1.2 port 55555 ssh2"
    ['sshd[2737]: Failed password for invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2', '127.0.0.1', true],
    ['sshd[2737]: Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2', '127.0.0.1', true],
    ['sshd[2737]: message repeated 2 times: [ Failed password for invalid user x from 10.10.1.2 port 1 ssh2 from 192.0.2.2 port 58946 ssh2]', '192.0.2.2', true],
    // Text after "ssh2: " that the client chose (hostbased's client user and host, ssh1's
    // ruser), or that a user name ending in ":" imitates. A line that reads two ways is
    // not counted: '' says no address may be taken from it.
    ['sshd[12946]: Failed password for user from 127.0.0.1 port 20000 ssh1: ruser XXXX from 1.2.3.4', '127.0.0.1', true],
    ['sshd[12946]: Failed password for user from 127.0.0.1 port 20000 ssh1: ruser ', '127.0.0.1', true],
    ['sshd[12946]: Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2', '', false],
    [
      'sshd[12946]: Failed hostbased for dan from 192.0.2.20 port 22 ssh2: RSA SHA256:x, client user "a from 6.6.6.6 port 2 ssh2: RSA SHA256:y, client user "b", client host "c"',
      '',
      false,
    ],
    ['sshd[12946]: Failed hostbased for dan from 192.0.2.20 port 22 ssh2: RSA SHA256:x, client user "dan", client host "h.example"', '192.0.2.20', true],
    ['sshd[12946]: Failed hostbased for dan from 192.0.2.20 port 22 ssh2: client user "dan", client host "h.example"', '192.0.2.20', true],
    // the user name "x from 198.51.100.66 port 22 ssh2:" (and longer ones imitating each kind of info)
    ['sshd[100]: Failed password for invalid user x from 198.51.100.66 port 22 ssh2: from 203.0.113.9 port 58946 ssh2', '', false],
    ['sshd[100]: message repeated 2 times: [ Failed password for invalid user x from 198.51.100.69 port 22 ssh2: from 203.0.113.9 port 58946 ssh2]', '', false],
    ['sshd[100]: Failed publickey for invalid user x from 198.51.100.68 port 22 ssh2: from 203.0.113.9 port 58946 ssh2: RSA SHA256:abc', '', false],
    ['sshd[100]: Failed publickey for invalid user x from 198.51.100.68 port 22 ssh2: RSA z from 203.0.113.9 port 58946 ssh2: RSA SHA256:abc', '', false],
    [
      'sshd[100]: Failed publickey for invalid user x from 198.51.100.68 port 22 ssh2: RSA-CERT ID z from 203.0.113.9 port 58946 ssh2: RSA-CERT ID c (serial 1) CA ED25519 SHA256:abc',
      '',
      false,
    ],
    ['sshd[100]: Failed password for invalid user x from 198.51.100.67 port 22 ssh1: ruser z from 203.0.113.9 port 58946 ssh2', '', false],
    ['sshd[100]: message repeated 3 times: [ Failed password for invalid user x from 198.51.100.67 port 22 ssh1: ruser z from 203.0.113.9 port 58946 ssh2]', '', false],
    [
      'sshd[100]: Failed hostbased for x from 198.51.100.66 port 22 ssh2: client user "a", client host "b from 203.0.113.9 port 58946 ssh2: client user "u", client host "h"',
      '',
      false,
    ],
    ['sshd[100]: Failed publickey for invalid user x from 203.0.113.9 port 58946 ssh2: ED25519 SHA256:AbCdEf0123', '203.0.113.9', true],
    ['sshd[1]: Failed publickey for invalid user x from 6.6.6.6 port 1 ssh2 from 192.0.2.21 port 5 ssh2: RSA SHA256:abc', '192.0.2.21', true],
    // a version string carrying its own "from ADDR"
    ["sshd[8783]: Bad protocol version identification 'dummy string' from 192.0.2.1' from 69.61.56.115 port 31778", '69.61.56.115', true],
    ["sshd[8783]: Bad protocol version identification 'SSH-2.0 from 6.6.6.6 port 1' from 192.0.2.22 port 31778", '192.0.2.22', true],
    // the user name "test 127.0.0.1 port 12345"
    ['sshd[1300]: Connection closed by authenticating user test 127.0.0.1 port 12345 192.0.2.11 port 46039 [preauth]', '192.0.2.11', true],
    ['sshd[1300]: Disconnected from authenticating user x 6.6.6.6 port 1 192.0.2.12 port 46039 [preauth]', '192.0.2.12', true],
    ['sshd[1]: error: maximum authentication attempts exceeded for x from 6.6.6.6 port 1 ssh2 from 192.0.2.13 port 22 ssh2 [preauth]', '192.0.2.13', true],
    ['sshd[1]: User x from 6.6.6.6 not allowed because listed in DenyUsers from 192.0.2.14 not allowed because listed in DenyUsers', '192.0.2.14', true],
    // a client's offer (after the address) cannot move it
    ['sshd[45]: Unable to negotiate with 192.0.2.15 port 55419: no matching cipher found. Their offer: x,Unable to negotiate with 6.6.6.6 port 1: no matching y [preauth]', '192.0.2.15', true],
    // a good line: the account is one word
    ['sshd[1]: Accepted password for alice from 192.0.2.16 port 22 ssh2', '192.0.2.16', true],
    ['sshd[1]: Accepted password for x from 6.6.6.6 port 1 ssh2 from 192.0.2.17 port 22 ssh2', '192.0.2.17', false],
  ]);
});

test("PAM: a fake rhost in the client's ruser or user", () => {
  check([
    ['daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test rhost=192.0.2.151 rhost=192.0.2.1', '192.0.2.1', true],
    ['daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.2 user=test rhost=192.0.2.152', '192.0.2.2', true],
    // an FTP login name (ruser) with spaces and a fake rhost and user=, for an account that does not exist
    ['vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x rhost=6.6.6.6 user=y rhost=192.0.2.130', '192.0.2.130', true],
    // pam_unix's audit option writes the user name after "  user=": a fake rhost there is never the last one taken
    ['vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x rhost=6.6.6.6 rhost=192.0.2.204  user=x rhost=6.6.6.14', '192.0.2.204', false],
    ['proftpd: pam_unix(proftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x rhost=192.0.2.205  user=x rhost=6.6.6.15', '192.0.2.205', false],
    ['auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=x rhost=192.0.2.206  user=x rhost=6.6.6.16', '192.0.2.206', false],
    ['proftpd: pam_unix(proftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x rhost=6.6.6.6 user=y rhost=192.0.2.131', '192.0.2.131', true],
    ['auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=rhost=6.6.6.6 rhost=192.0.2.132  user=bob', '192.0.2.132', true],
    ['auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=a rhost=6.6.6.6  user=b rhost=192.0.2.133  user=bob', '192.0.2.133', false],
    // vsftpd passes the typed user name '  rhost=6.6.6.6  user=x' as ruser: pam-generic alone would read the
    // first rhost (the known gap, README); beside the vsftpd preset it is not asked vsftpd's lines (defer_to)
    ['vsftpd[9]: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser= rhost=6.6.6.6  user=x rhost=192.0.2.134', '192.0.2.134', false],
  ]);
});

test('postfix: the client is taken before anything the client sent', () => {
  check([
    // fail2ban CVE-2013-7176: an address in brackets inside the recipient
    [
      'postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.50]: 554 5.7.1 <"x[198.51.100.7]: 554"@example.org>: Relay access denied; from=<a@example.com> to=<"x[198.51.100.7]: 554"@example.org> proto=ESMTP helo=<x>',
      '192.0.2.50',
      true,
    ],
    ['postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.51]: 450 4.7.1 <x[6.6.6.6]>: Helo command rejected: Host not found; from=<> to=<> proto=ESMTP helo=<x[6.6.6.6]>', '192.0.2.51', true],
    ['postfix/smtpd[1]: warning: unknown[192.0.2.52]: SASL LOGIN authentication failed: UGFzc3dvcmQ6', '192.0.2.52', true],
    ['postfix/smtpd[1]: improper command pipelining after EHLO from unknown[192.0.2.53]: MAIL FROM:<a> unknown[6.6.6.6]:', '192.0.2.53', true],
  ]);
});

test('dovecot: a fake rip in the user name, a fake passdb result in the user', () => {
  check([
    [
      'dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x, method=PLAIN, rip=6.6.6.6, lip=10.0.0.1>, method=PLAIN, rip=192.0.2.60, lip=10.0.0.1, TLS, session=<abc>',
      '192.0.2.60',
      true,
    ],
    [
      'dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x> (auth failed, 1 attempts): rip=6.6.6.6, lip=1.1.1.1, session=<>, method=PLAIN, rip=192.0.2.61, lip=10.0.0.1, TLS, session=<abc>',
      '192.0.2.61',
      false,
    ],
    // user names holding parentheses (dovecot's default auth_username_chars refuses them): not counted
    ['dovecot: auth: passwd-file(x,6.6.6.6): unknown user: y,192.0.2.62): unknown user', '192.0.2.62', false],
    ['dovecot: auth-worker(1): pam(x,6.6.6.6,<a>): Password mismatch,192.0.2.63,<b>): pam_authenticate() failed: Authentication failure (password mismatch?)', '192.0.2.63', false],
    // a refused user name, or (auth_debug_passwords) a typed password, at the end of another auth line
    [
      'dovecot: auth: plain(?,192.0.2.200,<AbCdEf>): Username character disallowed by auth_username_chars: 0x2c (username: x,6.6.6.10): pam_authenticate() failed: Authentication failure (password mismatch?)',
      '192.0.2.200',
      false,
    ],
    ['dovecot: auth: plain(?,192.0.2.200,<AbCdEf>): Username character disallowed by auth_username_chars: 0x2c (username: x,6.6.6.11): unknown user (for LDAP bind)', '192.0.2.200', false],
    ['dovecot: auth: passwd-file(bob,192.0.2.202,<s>): Password mismatch (given password: x,6.6.6.12): unknown user (for LDAP bind)', '192.0.2.202', false],
    // the prefixes dovecot writes before the passdb part still count
    ['dovecot: auth-worker(3270): conn unix:auth-worker (pid=27359,uid=97): auth-worker<128>: pam(webapps,192.0.2.64): unknown user', '192.0.2.64', true],
    ['dovecot: auth-worker(80180): Info: conn unix:auth-worker (uid=143): auth-worker<13247>: sql(support,192.0.2.65): unknown user', '192.0.2.65', true],
    ['dovecot: auth: Info: ldap(dog,192.0.2.66,): invalid credentials', '192.0.2.66', true],
  ]);
});

test('exim: HELO names, set_id and commands that carry a fake address', () => {
  check([
    // a quoted sender local part carrying a fake "H=[ADDR] P=esmtpa A=..": no forged good login
    ['exim[1]: 2024-01-01 00:00:00 1abcde-000001-AB <= "x H=[6.6.6.9] P=esmtpa A=plain:x"@d H=(h) [192.0.2.21]:1 I=[10.0.0.1]:25 P=esmtp S=1', '', false],
    ['exim[1]: 2024-01-01 00:00:00 1abcde-000001-AB <= a."x H=[6.6.6.9] P=esmtpa A=plain:x"@d H=(h) [192.0.2.21]:1 I=[10.0.0.1]:25 P=esmtp S=1', '', false],
    ['exim[1]: 2024-01-01 00:00:00 1abcde-000001-AB <= bob@example.org H=(laptop) [192.0.2.22]:52311 I=[10.0.0.1]:587 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=plain:bob S=1', '192.0.2.22', true],
    ['exim[1]: 2024-01-01 00:00:00 login authenticator failed for (x) [192.0.2.70]: 535 Incorrect authentication data (set_id=a) [6.6.6.6]: 535 Incorrect authentication data (set_id=b)', '192.0.2.70', true],
    ['exim[1]: 2024-01-01 00:00:00 SMTP protocol error in "aUtH lOgIn" H=(test) [8.8.8.8]" H=(roxzgj) [192.0.2.6] AUTH command used when not advertised', '192.0.2.6', true],
    [
      'exim[1]: 2024-01-01 00:00:00 H=(x) [192.0.2.71] F=<a@b> rejected RCPT <"c> H=(d) [6.6.6.6] F=<e"@f>: relay not permitted',
      '192.0.2.71',
      false,
    ],
    // quoted local parts with spaces (relay probes) count; the address stays the one right after the head
    ['exim[1]: 2024-01-01 00:00:00 H=(x) [192.0.2.73] F=<"a b"@x> rejected RCPT <c@d>: relay not permitted', '192.0.2.73', true],
    ['exim[1]: 2024-01-01 00:00:00 H=(x) [192.0.2.74] F=<a@b> rejected RCPT <"c d"@e>: relay not permitted', '192.0.2.74', true],
    ['exim[1]: 2024-01-01 00:00:00 H=(x) [192.0.2.75] F=<"a> H=(y) [6.6.6.6] F=<b"@c> rejected RCPT <"d H=(e) [6.6.6.7] x"@f>: relay not permitted', '192.0.2.75', true],
    [
      'exim[1]: 2024-01-01 00:00:00 SMTP protocol synchronization error (next input sent too soon: pipelining was not advertised): rejected "x" H=(a) [6.6.6.6]:1 I=[1.1.1.1]:25 next input="" H=(b) [192.0.2.72]:2 I=[10.0.0.1]:25 next input="QUIT"',
      '192.0.2.72',
      false,
    ],
  ]);
});

test('nginx: a fake client in the user name or the Referer', () => {
  const head = 'nginx: 2024/01/01 00:00:00 [error] 1#1: *1';
  check([
    [
      `${head} user "test": password mismatch, client: 127.0.0.1, server: test, request: "GET / HTTP/1.1", host: "localhost:8443"": was not found in "/etc/nginx/.htpasswd", client: 192.0.2.2, server: , request: "GET / HTTP/1.1", host: "localhost:8443"`,
      '192.0.2.2',
      true,
    ],
    [
      `${head} user "u": password mismatch, client: 192.0.2.80, server: s, request: "GET / HTTP/1.1", host: "h", referrer: "x": password mismatch, client: 6.6.6.6, server: s, request: "GET / HTTP/1.1", host: "h"`,
      '192.0.2.80',
      true,
    ],
  ]);
  // A Referer that starts like the rest of a line: the user name may not end in "referrer: " (found by review;
  // nginx cuts a basic-auth user name at its first colon, so a real one holds none)
  check([
    [`${head} user "u": password mismatch, client: 192.0.2.87, server: s, request: "GET / HTTP/1.1", host: "h", referrer: ": password mismatch, client: 6.6.6.10, server: s, request: "x"`, '192.0.2.87', true],
    [`${head} user "u" was not found in "/etc/nginx/.htpasswd", client: 192.0.2.88, server: s, request: "GET / HTTP/1.1", referrer: " was not found in "f", client: 6.6.6.11, server: s, request: "x"`, '192.0.2.88', true],
  ]);
  // A quote in the request line (nginx takes `GET /?" HTTP/1.1`) or in Host does not make a failure go uncounted,
  // and a user name that imitates a quoted request line cannot lend its fake client a way to the end.
  check([
    [`${head} user "admin": password mismatch, client: 192.0.2.81, server: s, request: "GET /?" HTTP/1.1", host: "h"`, '192.0.2.81', true],
    [`${head} user "admin" was not found in "/etc/nginx/.htpasswd", client: 192.0.2.82, server: s, request: "GET /"a" HTTP/2.0"`, '192.0.2.82', true],
    [`${head} user "admin": password mismatch, client: 192.0.2.85, server: s, request: "GET / HTTP/1.1", host: "a"b"`, '192.0.2.85', true],
    [`${head} user "x": password mismatch, client: 6.6.6.9, server: s, request: "G / HTTP/1.1", host: "h" x": password mismatch, client: 192.0.2.86, server: s, request: "GET / HTTP/1.0"`, '192.0.2.86', false],
    [`${head} user "x": password mismatch, client: 6.6.6.7, server: s, request: "G /": password mismatch, client: 192.0.2.83, server: s, request: "GET / HTTP/1.0"`, '192.0.2.83', false],
    [`${head} user "x": password mismatch, client: 6.6.6.8, server: s, request: "G / HTTP/1.1", host: "h": password mismatch, client: 192.0.2.84, server: s, request: "GET / HTTP/1.0"`, '192.0.2.84', false],
  ]);
  // Not tested: a fake client inside the request line. It would need spaces
  // in the URI, which nginx refuses since 1.21.1 (Debian 12 ships 1.22); the
  // preset's comment says so.

});

test('nginx: client text made of pieces of nginx lines, in every field a client fills, never moves or hides the address', () => {
  // What a client may put where: the user name (no colon: nginx cuts it at the first), the URI (no space:
  // nginx 1.21.1+), the Host (no space), the Referer (anything). Pieces are glued at random, 20 000 lines.
  const pieces = ['", client: 6.6.6.6, server: s, request: "', ': password mismatch', ', client: 6.6.6.6', ', server: s', ', request: "',
    'GET / HTTP/1.1', 'HTTP/1.1"', '", host: "', ', host: "', ', referrer: "', ', referrer: ', 'r: ', 'r:', 'r', 't: "', '"', '" ', ' ',
    'x', ' was not found in "f"', ': password mismatch, client: 6.6.6.6, server: s, request: "', '/?"', ' HTTP/2.0"', ':', ','];
  const next = rng(6);
  const glue = (from: readonly string[], most: number) => {
    let out = '';
    for (let n = Math.floor(next() * (most + 1)); n > 0; n--) out += from[Math.floor(next() * from.length)];
    return out;
  };
  const noSpace = pieces.filter((p) => !p.includes(' '));
  const head = 'nginx: 2024/05/01 10:00:00 [error] 812#812: *31 user "';
  let wrong = 0;
  let missed = 0;
  for (let i = 0; i < 20_000; i++) {
    const user = glue(pieces, 6).replaceAll(':', '');
    const failure = next() < 0.5 ? '" was not found in "/etc/nginx/.htpasswd", ' : '": password mismatch, ';
    const host = next() < 0.8 ? `, host: "${glue(noSpace, 3)}"` : '';
    const referrer = next() < 0.5 ? `, referrer: "${glue(pieces, 5)}"` : '';
    const line = `${head}${user}${failure}client: 192.0.2.7, server: example.org, request: "GET /${glue(noSpace, 4)} HTTP/1.1"${host}${referrer}`;
    const got = captured(line);
    if (got.some((ip) => ip !== '192.0.2.7')) wrong++;
    if (!got.includes('192.0.2.7')) missed++;
    assert.ok(wrong === 0, `captured a wrong address from: ${line}`);
  }
  assert.equal(missed, 0, 'a failure went uncounted');
});

test('apache, vsftpd, proftpd, pure-ftpd: the address is read where the server writes it', () => {
  check([
    ['apache2[1]: [auth_basic:error] [pid 1] [client 192.0.2.90:1234] AH01618: user [client 6.6.6.6] not found: /', '192.0.2.90', true],
    ['httpd[1]: [error] [client 192.0.2.91] File does not exist: /srv/[client 6.6.6.6] user root not found', '192.0.2.91', false],
    ['vsftpd[1]: [pid 1] [ftp] FAIL LOGIN: Client "192.0.2.110", anon password "x] FAIL LOGIN: Client "6.6.6.6"', '192.0.2.110', false],
    ['vsftpd[1]: [pid 1] [ftp] FAIL LOGIN: Client "192.0.2.110", anon password "x] FAIL LOGIN: Client 6.6.6.6"', '192.0.2.110', true],
    ['vsftpd[1]: [pid 1] [bob] FAIL LOGIN: Client "192.0.2.110", "User is not in the allow user list."', '192.0.2.110', true],
    // the user name 'x] OK LOGIN: Client "198.51.100.66", ': a failure must not read as a good login of another address
    ['vsftpd[812]: [pid 813] [x] OK LOGIN: Client "198.51.100.66", ] FAIL LOGIN: Client "203.0.113.10"', '203.0.113.10', false],
    ['vsftpd[812]: [pid 813] [x] FAIL LOGIN: Client "198.51.100.67", ] FAIL LOGIN: Client "203.0.113.10"', '203.0.113.10', false],
    ['vsftpd[812]: [pid 813] [x] OK LOGIN: Client "198.51.100.66", anon password "] FAIL LOGIN: Client "203.0.113.10"', '203.0.113.10', false],
    ['vsftpd[812]: [pid 813] [x] FAIL LOGIN: Client "198.51.100.66", "] FAIL LOGIN: Client "203.0.113.10"', '203.0.113.10', false],
    // an anonymous login is no good line: anyone may make one (and it is no failure either)
    ['vsftpd[812]: [pid 813] [ftp] OK LOGIN: Client "192.0.2.112", anon password "guest@"', '192.0.2.112', false],
    ['vsftpd[1]: [pid 1] [x] FAIL LOGIN: Client "6.6.6.6"] FAIL LOGIN: Client "192.0.2.111"', '192.0.2.111', false],
    ['proftpd[1]: ftp.example.org (host[192.0.2.100]) - USER x (y[6.6.6.6]) - USER z (Login failed): Incorrect password.', '192.0.2.100', true],
    ['pure-ftpd: (?@192.0.2.120) [WARNING] Authentication failed for user [x] (?@6.6.6.6) [WARNING] Authentication failed for user [y]', '192.0.2.120', true],
  ]);
});

test('a login anyone can make lifts nobody\'s counts: vsftpd\'s anonymous login is not a good line, an account\'s is', () => {
  assert.equal(matcher.match('vsftpd[812]: [pid 813] [ftp] OK LOGIN: Client "192.0.2.112", anon password "guest@"').kind, 'none');
  assert.equal(matcher.match('vsftpd[812]: [pid 813] [bob] OK LOGIN: Client "192.0.2.112"').kind, 'good');
});

test('sshd cuts a message at 500 characters: a user name of backslashes cannot push a forged address to the end', () => {
  // the attacker's user name: 107 backslashes (each written as four, escaped by the pre-auth child and by the monitor), then a forged tail
  const forged = `sshd-session[5001]: Connection closed by invalid user ${'\\'.repeat(428)}xxx 198.51.100.1 port 22 [preauth]`;
  assert.equal(matcher.match(forged).kind, 'none');
  // a user name without one still counts, the gh-2185 one included
  assert.deepEqual(captured('sshd[1300]: Connection closed by authenticating user test 127.0.0.1 192.0.2.11 port 46039 [preauth]'), ['192.0.2.11']);
});

test("nginx's access-log route: its line, nginx's own words alone, is caught; any other status or shape is not", () => {
  assert.deepEqual(captured('nginx_auth: 192.0.2.80 401'), ['192.0.2.80']);
  assert.deepEqual(captured('nginx_auth: 2001:db8::80 401'), ['2001:db8::80']);
  for (const line of ['nginx_auth: 192.0.2.80 200', 'nginx_auth: x 192.0.2.80 401', 'nginx_auth: 192.0.2.80 401 x', 'nginx: 192.0.2.80 401']) {
    assert.deepEqual(captured(line), [], line);
  }
});

test("lines of current releases (beyond fail2ban's corpus) are caught, and routine lines are not", () => {
  const caught: [string, string][] = [
    ['sshd[812]: Failed password for root from 192.0.2.1 port 52311 ssh2', '192.0.2.1'],
    ['sshd[812]: Failed password for invalid user admin from 2001:db8::5 port 52311 ssh2', '2001:db8::5'],
    ['sshd[812]: Failed none for invalid user admin from 192.0.2.1 port 52311 ssh2', '192.0.2.1'],
    ['sshd[812]: Failed keyboard-interactive/pam for root from 192.0.2.1 port 52311 ssh2', '192.0.2.1'],
    ['sshd[812]: message repeated 4 times: [ Failed password for root from 192.0.2.1 port 52311 ssh2]', '192.0.2.1'],
    ['sshd[812]: Invalid user admin from 192.0.2.1 port 52311', '192.0.2.1'],
    ['sshd[812]: Connection closed by invalid user admin 192.0.2.1 port 52311 [preauth]', '192.0.2.1'],
    ['sshd[812]: Connection reset by authenticating user root 192.0.2.1 port 52311 [preauth]', '192.0.2.1'],
    ['sshd[812]: Disconnected from invalid user admin 192.0.2.1 port 52311 [preauth]', '192.0.2.1'],
    ['sshd[812]: Received disconnect from 192.0.2.1 port 52311:11: Bye Bye [preauth]', '192.0.2.1'],
    ['sshd[812]: error: maximum authentication attempts exceeded for root from 192.0.2.1 port 52311 ssh2 [preauth]', '192.0.2.1'],
    ['sshd[812]: Disconnecting authenticating user root 192.0.2.1 port 52311: Too many authentication failures [preauth]', '192.0.2.1'],
    ['sshd[812]: banner exchange: Connection from 192.0.2.1 port 52311: invalid format', '192.0.2.1'],
    ['sshd[812]: banner exchange: Connection from 192.0.2.1 port 52311: could not read protocol version', '192.0.2.1'],
    ['sshd[812]: Unable to negotiate with 192.0.2.1 port 52311: no matching host key type found. Their offer: ssh-rsa,ssh-dss [preauth]', '192.0.2.1'],
    ['sshd[812]: ssh_dispatch_run_fatal: Connection from 192.0.2.1 port 52311: message authentication code incorrect [preauth]', '192.0.2.1'],
    ['sshd[812]: fatal: Timeout before authentication for 192.0.2.1 port 52311', '192.0.2.1'],
    // OpenSSH 9.8 and later: a connection's lines come from sshd-session, the listener's from sshd
    ['sshd-session[812]: Failed password for invalid user admin from 192.0.2.1 port 52311 ssh2', '192.0.2.1'],
    ['sshd-session[812]: Invalid user admin from 192.0.2.1 port 52311', '192.0.2.1'],
    ['sshd-session[812]: Connection closed by authenticating user root 192.0.2.1 port 52311 [preauth]', '192.0.2.1'],
    ['sshd-session[812]: Accepted publickey for alice from 192.0.2.9 port 52311 ssh2: ED25519 SHA256:AbCdEf0123', '192.0.2.9'],
    // sshd's own pam_unix line is left to the sshd preset (pam-generic defers to it), which counts sshd's "Failed" line instead
    ['sshd-session[812]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=root', ''],
    ['sshd[700]: Timeout before authentication for connection from 192.0.2.1 to 198.51.100.87, pid = 812', '192.0.2.1'],
    ['sshd[700]: drop connection #0 from [192.0.2.1]:52311 on [198.51.100.87]:22 penalty: failed authentication', '192.0.2.1'],
    ['sshd[700]: drop connection #3 from [2001:db8::5]:52311 on [2001:db8::1]:22 penalty: connections without attempting authentication', '2001:db8::5'],
    ['sshd[812]: Accepted publickey for alice from 192.0.2.9 port 52311 ssh2: ED25519 SHA256:AbCdEf0123', '192.0.2.9'],
    ['postfix/submission/smtpd[812]: warning: unknown[192.0.2.2]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=info@example.org', '192.0.2.2'],
    ['postfix/smtpd[812]: warning: unknown[192.0.2.2]: SASL PLAIN authentication failed: , sasl_username=info@example.org', '192.0.2.2'],
    ['postfix/smtpd[812]: warning: non-SMTP command from unknown[192.0.2.2]: GET / HTTP/1.1', '192.0.2.2'],
    ['postfix/smtpd[812]: 4Tq1x2y3z: client=mail.example.net[192.0.2.10], sasl_method=PLAIN, sasl_username=bob@example.org', '192.0.2.10'],
    ['dovecot[812]: imap-login: Login aborted: Connection closed (auth failed, 3 attempts in 12 secs) (auth_failed): user=<bob>, method=PLAIN, rip=192.0.2.3, lip=10.0.0.1, TLS, session=<AbC/dEf>', '192.0.2.3'],
    ['dovecot[812]: auth: pam(bob,192.0.2.3,<AbC/dEf>): pam_authenticate() failed: Authentication failure (Password mismatch?)', '192.0.2.3'],
    ['dovecot[812]: auth: passwd-file(bob,192.0.2.3,<AbC/dEf>): unknown user', '192.0.2.3'],
    ['dovecot[812]: imap-login: Login: user=<bob>, method=PLAIN, rip=192.0.2.11, lip=10.0.0.1, mpid=4242, TLS, session=<AbC/dEf>', '192.0.2.11'],
    ['exim[812]: 2024-05-01 10:00:00 dovecot_login authenticator failed for H=(User) [192.0.2.4]:52311 I=[10.0.0.1]:587: 535 Incorrect authentication data (set_id=bob@example.org)', '192.0.2.4'],
    ['exim[812]: 2024-05-01 10:00:00 1s2T3u-0001Ab-Cd <= bob@example.org H=(laptop) [192.0.2.12]:52311 I=[10.0.0.1]:587 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_plain:bob@example.org S=1234', '192.0.2.12'],
    ['nginx: 2024/05/01 10:00:00 [error] 812#812: *31 user "admin": password mismatch, client: 192.0.2.5, server: example.org, request: "GET /admin HTTP/2.0", host: "example.org", referrer: "https://example.org/"', '192.0.2.5'],
    ['apache2[812]: [auth_basic:error] [pid 812:tid 140001] [client 192.0.2.6:52311] AH01618: user admin not found: /private', '192.0.2.6'],
    ['apache2[812]: [auth_basic:error] [pid 812] [client [2001:db8::6]:52311] AH01617: user bob: authentication failure for "/private": Password Mismatch', '2001:db8::6'],
    // Apache 2.4 writes an IPv6 client unbracketed, with its port after the last colon
    ['apache2[812]: [auth_basic:error] [pid 812:tid 140001] [client 2001:db8::6:4242] AH01618: user admin not found: /private', '2001:db8::6'],
    ['apache2[812]: [auth_basic:error] [pid 812:tid 140001] [client 2001:db8::6:52311] AH01618: user admin not found: /private', '2001:db8::6'],
    ['apache2[812]: [auth_basic:error] [pid 812] [client 2001:db8::a:1:5:52311] AH01618: user admin not found: /private', '2001:db8::a:1:5'],
    ['apache2[812]: [authz_core:error] [pid 812] [client ::ffff:192.0.2.6:52311] AH01630: client denied by server configuration: /srv', '192.0.2.6'],
    ['httpd[812]: [error] [client 192.0.2.6] user admin not found: /private', '192.0.2.6'],
    // Apache 2.2 wrote no port: the last group is the address's own
    ['httpd[812]: [error] [client 2001:db8::1:2] user admin not found: /private', '2001:db8::1:2'],
    ['httpd[812]: [error] [client 2606:2800:220:1:248:1893:25c8:1946] user test-ipv6 not found: /', '2606:2800:220:1:248:1893:25c8:1946'],
    ['vsftpd[812]: [pid 813] [bob] FAIL LOGIN: Client "::ffff:192.0.2.7"', '192.0.2.7'],
    ['proftpd[812]: ftp.example.org (::ffff:192.0.2.8[::ffff:192.0.2.8]) - USER bob (Login failed): Incorrect password', '192.0.2.8'],
    ['pure-ftpd[812]: (?@192.0.2.13) [WARNING] Authentication failed for user [bob]', '192.0.2.13'],
    ['su[812]: pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=root', ''],
  ];
  for (const [line, ip] of caught) {
    if (ip === '') assert.deepEqual(captured(line), [], line);
    else assert.deepEqual(captured(line), [ip], line);
  }
  // Routine lines that must count for nobody.
  for (const line of [
    'sshd[812]: Connection from 192.0.2.1 port 52311 on 10.0.0.1 port 22 rdomain ""',
    'sshd[812]: Received disconnect from 192.0.2.1 port 52311:11: disconnected by user',
    'sshd-session[812]: Disconnected from user alice 192.0.2.1 port 52311',
    'sshd[700]: drop connection #12 from [192.0.2.1]:52311 on [198.51.100.87]:22 past Maxstartups',
    'sshd-session[812]: Connection from 192.0.2.1 port 52311 on 10.0.0.1 port 22 rdomain ""',
    'sshd[812]: Disconnected from user alice 192.0.2.1 port 52311',
    'sshd[812]: Failed publickey for alice from 192.0.2.1 port 52311 ssh2: RSA SHA256:AbCdEf0123',
    'sshd[812]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)',
    'postfix/smtpd[812]: connect from mail.example.net[192.0.2.2]',
    'postfix/smtpd[812]: lost connection after DATA from mail.example.net[192.0.2.2]',
    'postfix/smtpd[812]: disconnect from mail.example.net[192.0.2.2] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6',
    'dovecot[812]: imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=192.0.2.3, lip=10.0.0.1, TLS handshaking: Connection closed, session=<x>',
    'exim[812]: 2024-05-01 10:00:00 no host name found for IP address 192.0.2.4',
  ]) {
    const v = matcher.match(line);
    assert.notEqual(v.kind, 'bad', line);
  }
});

test("sshd-session's lines without an address count against the one its process named (OpenSSH 9.8 and later)", () => {
  const engine = new BanEngine(config);
  engine.handle('sshd-session[812]: Invalid user admin from 192.0.2.1 port 52311', 1000);
  const v = engine.handle('sshd-session[812]: error: kex_exchange_identification: Connection closed by remote host', 2000).verdict;
  assert.equal(v.kind, 'bad');
  assert.deepEqual(v.kind === 'bad' && v.offences.map((o) => [o.blocktype, o.ip.text]), [['sshd', '192.0.2.1']]);
  // another program's process with the same number named nothing
  const other = engine.handle('sshd[812]: error: kex_exchange_identification: Connection closed by remote host', 3000).verdict;
  assert.notEqual(other.kind, 'bad');
});
