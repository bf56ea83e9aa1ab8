/**
 * A mount namespace of its own for a real daemon that logs with syslog(3)
 * (to /dev/log, with no option to log elsewhere) and looks its users up in
 * /etc/passwd: sshd, postfix.
 *
 * In it, /dev is a private folder holding the few device nodes daemons
 * need (bind mounts of the real ones) and a `log` symlink to our syslog
 * daemon's input socket; /etc/passwd, /etc/group and /etc/shadow are files
 * of our own; /run is an empty tmpfs. The host's /dev/log, its syslog
 * daemon, its user database and its /run never see the daemon.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testbed } from './netns.js';
import { Service } from './proc.js';

/** Device nodes the daemons and their children open; bound from the real /dev. */
const DEVICES = ['null', 'zero', 'urandom', 'random', 'tty'];

/** Runs inside the new mount namespace, then becomes the daemon. */
const MOUNT_SCRIPT = `
set -eu
dir=$1; shift
for d in ${DEVICES.join(' ')}; do
  : > "$dir/dev/$d"
  mount --bind "/dev/$d" "$dir/dev/$d"
done
# --rbind: take the device bind mounts above along
mount --rbind "$dir/dev" /dev
for f in passwd group shadow; do mount --bind "$dir/etc/$f" "/etc/$f"; done
mount -t tmpfs -o mode=0755 bbe2e-run /run
exec "$@"
`;

/** Lines of the private /etc files. */
export interface UserDatabase {
  readonly passwd: readonly string[];
  readonly group: readonly string[];
  readonly shadow: readonly string[];
}

/**
 * Prepares `base` (dev/ with the `log` symlink to `logSocket`, etc/ with
 * `users`) and returns the command that runs `argv` in namespace `ns`,
 * inside the private mounts.
 */
export function inPrivateRoot(ns: string, base: string, logSocket: string, users: UserDatabase, argv: readonly string[]): [string, string[]] {
  mkdirSync(join(base, 'dev'), { recursive: true });
  mkdirSync(join(base, 'etc'), { recursive: true });
  symlinkSync(logSocket, join(base, 'dev', 'log'));
  writeFileSync(join(base, 'etc', 'passwd'), [...users.passwd, ''].join('\n'));
  writeFileSync(join(base, 'etc', 'group'), [...users.group, ''].join('\n'));
  writeFileSync(join(base, 'etc', 'shadow'), [...users.shadow, ''].join('\n'), { mode: 0o600 });
  return Testbed.wrap(ns, 'unshare', ['--mount', '--propagation', 'private', 'sh', '-c', MOUNT_SCRIPT, 'private-root', base, ...argv]);
}

/** Resolves once something in namespace `ns` accepts TCP connections on `port` (within 10 s), or throws with `service`'s last output. */
export async function waitForPort(tb: Testbed, service: Service, port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!service.running) throw new Error(`${service.name} exited\n${service.tail()}`);
    const r = await tb.exec(tb.server, 'bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { timeoutMs: 2000 });
    if (r.code === 0) return;
    if (Date.now() > deadline) {
      await service.stop();
      throw new Error(`${service.name} did not listen on port ${port}\n${service.tail()}`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}
