/**
 * systemd's readiness protocol (sd_notify(3)), for `Type=notify` units:
 * the service manager passes a datagram socket in $NOTIFY_SOCKET, and the
 * service says `READY=1` there once it is serving. Until then systemd
 * counts the service as starting: units ordered after it (rsyslog, by
 * examples/banban.service's Before=) wait for banban's socket to exist,
 * and a `systemctl reload` waits too, instead of sending a SIGHUP that
 * would end a process whose handlers are not in place yet.
 *
 * The protocol, not the socket: the datagram is sent by the caller's
 * `send` (source/syslog-socket.ts, sendDatagram). Pure but for the
 * environment it is given.
 */

/** What was sent, or why not; `undefined`: there is no service manager to tell. */
export type NotifyOutcome = { sent: true } | { sent: false; reason: string } | undefined;

export class SystemdNotifier {
  readonly #path: string | undefined;
  readonly #send: (path: string, data: Buffer) => string | undefined;

  /**
   * Reads $NOTIFY_SOCKET from `env` and removes it there, so that the
   * programs banban starts (conntrack) cannot speak for it.
   */
  constructor(env: NodeJS.ProcessEnv, send: (path: string, data: Buffer) => string | undefined) {
    this.#path = env['NOTIFY_SOCKET'] || undefined;
    delete env['NOTIFY_SOCKET'];
    this.#send = send;
  }

  /** `READY=1` and a status line: banban is serving. */
  ready(status: string): NotifyOutcome {
    return this.#notify(`READY=1\nSTATUS=${oneLine(status)}\n`);
  }

  /** `STOPPING=1`: banban is saving and closing. */
  stopping(): NotifyOutcome {
    return this.#notify('STOPPING=1\n');
  }

  #notify(message: string): NotifyOutcome {
    const path = this.#path;
    if (path === undefined) return undefined;
    // An abstract socket (`@name`) has no path to connect to with the socket library banban uses.
    if (path.startsWith('@')) return { sent: false, reason: `NOTIFY_SOCKET is the abstract socket '${path}', which banban cannot write to; run it with Type=simple` };
    if (!path.startsWith('/')) return { sent: false, reason: `NOTIFY_SOCKET '${path}' is not an absolute path` };
    const failed = this.#send(path, Buffer.from(message));
    return failed === undefined ? { sent: true } : { sent: false, reason: `cannot send to NOTIFY_SOCKET ${path}: ${failed}` };
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}
