/**
 * The test network: two network namespaces, "server" and "client", joined by
 * a veth pair, each with an IPv4 and an IPv6 address (see addresses.ts).
 *
 * The server gets the firewall of examples/iptables.rules; the daemon, sshd
 * and a TCP echo listener run inside it, so /proc/net/xt_recent there is the
 * server's own, invisible to the host and to other test runs.
 *
 * Names carry the test process's pid, so runs never collide, and a run that
 * was killed before it could clean up is swept by the next one.
 */
import { execFileSync } from 'node:child_process';
import { CLIENT4, CLIENT4_IGNORED, CLIENT6, PREFIX4, PREFIX6, SERVER4, SERVER6, normalizeIp } from './addresses.js';
import { loadExampleRules, type Flavour } from './firewall.js';
import { onEmergency, pidAlive, run, runOk, type RunOptions, type RunResult } from './proc.js';

const PREFIX = 'bbe2e-';

/** Removes namespaces left behind by test runs that died without cleaning up. */
async function sweepStale(): Promise<void> {
  const r = await run('ip', ['netns', 'list']);
  for (const line of r.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^bbe2e-(\d+)-/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    await killNamespaceProcesses(name);
    await run('ip', ['netns', 'del', name]);
  }
}

/** Kills what still runs inside one of our namespaces (only ours: names starting with `prefix`). */
export async function killNamespaceProcesses(name: string, prefix = PREFIX): Promise<void> {
  if (!name.startsWith(prefix)) return;
  const r = await run('ip', ['netns', 'pids', name]);
  for (const p of r.stdout.split('\n').map(Number).filter((n) => n > 0)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

export class Testbed {
  readonly server: string;
  readonly client: string;
  private flavour: Flavour | undefined;
  private forgetEmergency: () => void = () => {};

  private constructor(tag: string) {
    this.server = `${PREFIX}${process.pid}-${tag}s`;
    this.client = `${PREFIX}${process.pid}-${tag}c`;
  }

  /**
   * Builds the namespaces, the link and the server's firewall. `lists` are
   * extra xt_recent list names the tests need besides the example's BLOCKER.
   */
  static async create({ tag = '', lists = [] as readonly string[], seconds }: { tag?: string; lists?: readonly string[]; seconds?: number } = {}): Promise<Testbed> {
    await sweepStale();
    const tb = new Testbed(tag);
    // if the run is interrupted, at least the namespaces go (with whatever
    // still runs inside them: deleting the name alone would not stop it)
    tb.forgetEmergency = onEmergency(() => {
      for (const ns of [tb.server, tb.client]) {
        try {
          const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
          for (const p of pids.split('\n').map(Number).filter((n) => n > 0)) process.kill(p, 'SIGKILL');
        } catch {
          // not there
        }
        try {
          execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
        } catch {
          // not there
        }
      }
    });
    try {
      await tb.build(lists, seconds);
    } catch (e) {
      await tb.destroy();
      throw e;
    }
    return tb;
  }

  private async build(lists: readonly string[], seconds: number | undefined): Promise<void> {
    await runOk('ip', ['netns', 'add', this.server]);
    await runOk('ip', ['netns', 'add', this.client]);
    // both ends are created directly inside the namespaces: no interface
    // ever appears in the host's namespace, so names cannot collide there
    await runOk('ip', ['link', 'add', 'name', 'bbe2e-s', 'netns', this.server, 'type', 'veth', 'peer', 'name', 'bbe2e-c', 'netns', this.client]);
    for (const ns of [this.server, this.client]) await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // nodad: skip IPv6 duplicate address detection, which would leave the
    // address "tentative" (unusable) for a second or two
    await runOk('ip', ['-n', this.server, 'addr', 'add', `${SERVER4}/${PREFIX4}`, 'dev', 'bbe2e-s']);
    await runOk('ip', ['-n', this.server, 'addr', 'add', `${SERVER6}/${PREFIX6}`, 'dev', 'bbe2e-s', 'nodad']);
    // CLIENT4 first: it is the primary address, the one outgoing
    // connections use unless they bind another
    await runOk('ip', ['-n', this.client, 'addr', 'add', `${CLIENT4}/${PREFIX4}`, 'dev', 'bbe2e-c']);
    await runOk('ip', ['-n', this.client, 'addr', 'add', `${CLIENT4_IGNORED}/${PREFIX4}`, 'dev', 'bbe2e-c']);
    await runOk('ip', ['-n', this.client, 'addr', 'add', `${CLIENT6}/${PREFIX6}`, 'dev', 'bbe2e-c', 'nodad']);
    await runOk('ip', ['-n', this.server, 'link', 'set', 'bbe2e-s', 'up']);
    await runOk('ip', ['-n', this.client, 'link', 'set', 'bbe2e-c', 'up']);
    this.flavour = await loadExampleRules(this.server, { extraLists: lists, ...(seconds === undefined ? {} : { seconds }) });
  }

  /** nf_tables or legacy: which iptables accepted the example rules. */
  get iptablesFlavour(): Flavour | undefined {
    return this.flavour;
  }

  /** argv that runs `cmd` inside namespace `ns` */
  static wrap(ns: string, cmd: string, args: readonly string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', ns, cmd, ...args]];
  }

  exec(ns: string, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const [c, a] = Testbed.wrap(ns, cmd, args);
    return run(c, a, opts);
  }

  /**
   * The addresses in the server's xt_recent list `name`, normalised.
   * Read from inside the namespace: /proc/net is per network namespace.
   */
  async list(name: string): Promise<string[]> {
    const r = await this.exec(this.server, 'cat', [`/proc/net/xt_recent/${name}`]);
    if (r.code !== 0) throw new Error(`cannot read xt_recent list ${name} in ${this.server}: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .map((l) => /^src=(\S+)/.exec(l)?.[1])
      .filter((a): a is string => a !== undefined)
      .map(normalizeIp);
  }

  async listed(name: string, ip: string): Promise<boolean> {
    return (await this.list(name)).includes(normalizeIp(ip));
  }

  /** conntrack entries in the server namespace, as `conntrack -L` prints them */
  async conntrack(args: readonly string[]): Promise<string[]> {
    const r = await this.exec(this.server, 'conntrack', ['-L', ...args]);
    // conntrack prints its summary ("N flow entries...") on stderr
    return r.stdout.split('\n').filter((l) => l.trim() !== '');
  }

  async destroy(): Promise<void> {
    this.forgetEmergency();
    for (const ns of [this.server, this.client]) {
      await killNamespaceProcesses(ns);
      await run('ip', ['netns', 'del', ns]);
    }
  }
}
