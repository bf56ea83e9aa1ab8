/**
 * The configs the bench runs the daemon and `banban test` with. Written as
 * JSON, which YAML 1.2 reads as it is, so no backslash needs quoting.
 *
 *   ten:      the "10-pattern config": 10 patterns in 3 blocktypes (ssh,
 *             sshscan, mail) and one good pattern, written like the presets'
 *             (anchored at the tag and at the end of the line);
 *   presets:  every shipped preset included (presets/*.yml), nothing else;
 * and for the kernel-list sections, each plus one bench-only blocktype of a
 * single pattern with minocc 1 and a list of its own (the sentinel, the
 * latency probe, the ban flood). Lines of the corpus never match those.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const IP = '(?<ip>[0-9A-Fa-f:.]+)';

export interface BlocktypeConfig {
  target: string;
  minocc: number;
  interval: number;
  bantime?: number;
  resetconns: boolean;
  patterns: string[];
}

export interface BenchConfig {
  socket: string;
  state_file: string;
  include?: string[];
  max_tracked?: number;
  goodpatterns?: string[];
  ignorenets?: string[];
  blocktypes: Record<string, BlocktypeConfig | Partial<BlocktypeConfig>>;
}

/** The 10 patterns, in 3 blocktypes. */
export const TEN_BLOCKTYPES: Record<string, BlocktypeConfig> = {
  ssh: {
    target: 'BLOCKER',
    minocc: 5,
    interval: 600,
    resetconns: false,
    patterns: [
      String.raw`^sshd\[\d+\]: Failed (?:password|publickey|none|keyboard-interactive/pam) for (?:invalid user )?(?:[^:]|:+[^: ])* from ${IP} port \d+ ssh2(?:: .*)?$`,
      String.raw`^sshd\[\d+\]: Invalid user .* from ${IP} port \d+$`,
      String.raw`^sshd\[\d+\]: (?:Connection (?:closed|reset) by|Disconnected from) (?:authenticating|invalid) user .* ${IP} port \d+ \[preauth\]$`,
      String.raw`^sshd\[\d+\]: error: maximum authentication attempts exceeded for .* from ${IP} port \d+ ssh2 \[preauth\]$`,
    ],
  },
  sshscan: {
    target: 'BLOCKER',
    minocc: 3,
    interval: 3600,
    resetconns: false,
    patterns: [
      String.raw`^sshd\[\d+\]: Connection closed by ${IP} port \d+(?: \[preauth\])?$`,
      String.raw`^sshd\[\d+\]: banner exchange: Connection from ${IP} port \d+: .*$`,
      String.raw`^sshd\[\d+\]: Unable to negotiate with ${IP} port \d+: no matching .*$`,
      String.raw`^sshd\[\d+\]: ssh_dispatch_run_fatal: Connection from ${IP} port \d+: .* \[preauth\]$`,
    ],
  },
  mail: {
    target: 'BLOCKER',
    minocc: 5,
    interval: 600,
    resetconns: false,
    patterns: [
      String.raw`^postfix/smtpd\[\d+\]: warning: [-._0-9A-Za-z]+\[${IP}\]: SASL [-A-Z0-9]+ authentication failed: .*$`,
      String.raw`^postfix/smtpd\[\d+\]: NOQUEUE: reject: RCPT from [-._0-9A-Za-z]+\[${IP}\]: [45]\d\d .*$`,
    ],
  },
};

export const TEN_GOOD = [String.raw`^sshd\[\d+\]: Accepted (?:password|publickey|keyboard-interactive/pam) for \S+ from ${IP} port \d+ ssh2(?:: .*)?$`];

/** The shipped presets, by name. */
export function presetNames(repo: string): string[] {
  return readdirSync(join(repo, 'presets'))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => f.slice(0, -4))
    .sort();
}

/** A bench-only blocktype: one pattern, minocc 1, its own list. */
export function probeBlocktype(target: string, prog: string, word: string, resetconns = false): BlocktypeConfig {
  return { target, minocc: 1, interval: 60, bantime: 3600, resetconns, patterns: [String.raw`^${prog}\[\d+\]: ${word} from ${IP}$`] };
}

export const SENTINEL_LIST = 'SENTINEL';
export const SENTINEL_BLOCKTYPE = probeBlocktype(SENTINEL_LIST, 'banban-bench', 'sentinel');

/**
 *   ten         the 10-pattern config
 *   ten-nobans  the same with minocc 1000: the line work without the ban work (a diagnostic)
 *   presets     every shipped preset, sshd's resetconns off like the others
 *   unused      the 10-pattern config plus the presets of services the corpus
 *               never mentions (what an admin pays for services not run)
 *   used        the presets of the services the corpus has lines of, and no
 *               other: every preset against this is what the presets of
 *               services not run cost, when the ones run are presets too
 */
export type ConfigKind = 'ten' | 'ten-nobans' | 'presets' | 'unused' | 'used';

/** Programs the corpus has lines of: presets for anything else concern no line of it. */
export const CORPUS_SERVICES = ['sshd', 'postfix', 'dovecot', 'pam-generic'];

export function makeConfig(
  kind: ConfigKind,
  paths: { socket: string; stateFile: string },
  repo: string,
  extra: Record<string, BlocktypeConfig> = {},
  /** resetconns: for every blocktype of the config (default false, the presets' sshd included) */
  opts: { maxTracked?: number; resetconns?: boolean } = {},
): BenchConfig {
  const own = kind !== 'presets' && kind !== 'used';
  const c: BenchConfig = own
    ? {
        socket: paths.socket,
        state_file: paths.stateFile,
        goodpatterns: TEN_GOOD,
        ignorenets: ['127.0.0.0/8', '::1/128'],
        blocktypes: Object.fromEntries(Object.entries(TEN_BLOCKTYPES).map(([k, v]) => [k, { ...v, patterns: [...v.patterns] }])),
      }
    : { socket: paths.socket, state_file: paths.stateFile, include: presetNames(repo), ignorenets: ['127.0.0.0/8', '::1/128'], blocktypes: {} };
  if (kind === 'unused') c.include = presetNames(repo).filter((p) => !CORPUS_SERVICES.includes(p));
  if (kind === 'used') c.include = presetNames(repo).filter((p) => CORPUS_SERVICES.includes(p));
  if (kind === 'ten-nobans') for (const bt of Object.values(c.blocktypes)) bt.minocc = 1000;
  if (opts.maxTracked !== undefined) c.max_tracked = opts.maxTracked;
  const resetconns = opts.resetconns ?? false;
  if (own) for (const bt of Object.values(c.blocktypes)) bt.resetconns = resetconns;
  else c.blocktypes.sshd = { resetconns };
  Object.assign(c.blocktypes, extra);
  return c;
}

export function writeConfig(file: string, c: BenchConfig): string {
  writeFileSync(file, JSON.stringify(c, null, 2) + '\n');
  return file;
}

/** Patterns of a config after includes (counted by `banban check`'s summary in the bench). */
export function countPatterns(c: BenchConfig): number {
  return Object.values(c.blocktypes).reduce((n, b) => n + (b.patterns?.length ?? 0), 0) + (c.goodpatterns?.length ?? 0);
}
