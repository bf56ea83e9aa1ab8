/**
 * The configuration: what an admin writes (YAML, banban-compatible keys) and
 * what the rest of banban receives after `load.ts` has validated it.
 *
 * The file format is the Perl banban's, unchanged, plus a few optional keys of
 * our own. `FIELDS` is the single description of every key: the loader uses it
 * to refuse unknown keys and the README's config reference is written from it.
 */
import type { NetSet } from '../lib/ip.js';

/** A compiled pattern. The regex has a named group `ip`. */
export interface Rule {
  /** the pattern as the admin wrote it */
  readonly source: string;
  readonly regex: RegExp;
  /** where it came from, for messages: `goodpatterns[2]`, `blocktypes.ssh.patterns[0]` */
  readonly where: string;
  /**
   * The pattern captures `(?<pid>...)`, not the address: the address is the
   * one the same process (`prog[pid]`) logged last (see `sessionpatterns`).
   */
  readonly byPid?: true;
  /**
   * One of a blocktype's `endpatterns`: a line a connection ends with. Such
   * lines count once per connection of a process (`prog[pid]`) and
   * blocktype, however many of them it writes (sshd: `Received disconnect
   * ...`, then `Disconnected from ...`); a sessionpatterns line of the
   * process starts its next connection.
   */
  readonly perProcess?: true;
  /** V8's linear-time engine can run it (match/regex-engine.ts), so the backtracking fallback covers it */
  readonly linear?: true;
  /**
   * What the matcher reads from `regex`'s text (match/prefilter.ts, ruleLiterals), worked out
   * ahead: the shipped presets' cache (preset-cache.ts) carries it, so that a start does not read
   * their patterns again. Always what prefilter.ts would work out from `regex`; absent, it is.
   */
  readonly literals?: RuleLiterals;
}

/** A pattern's literals (match/prefilter.ts): each absent when the pattern has none. */
export interface RuleLiterals {
  /** literalPrefix */
  readonly prefix?: string;
  /** literalPrefixes */
  readonly prefixes?: readonly string[];
  /** messageWords */
  readonly words?: readonly string[];
  /** requiredLiteral */
  readonly required?: string;
}

export interface Blocktype {
  readonly name: string;
  /** xt_recent list name: /proc/net/xt_recent/<target> */
  readonly target: string;
  /** offences needed within `interval` to block */
  readonly minocc: number;
  /** window length in seconds */
  readonly interval: number;
  /** delete the address's conntrack flows when it is blocked */
  readonly resetconns: boolean;
  /** seconds a ban lasts for re-priming after a restart; match it to the rule's --seconds */
  readonly bantime: number;
  /** `patterns`, then `endpatterns` (those with Rule.perProcess), in the order written */
  readonly patterns: readonly Rule[];
  /** blocktypes (of this config, not this one) whose programs' lines this one is not asked (match/matcher.ts, deferredPrefixes) */
  readonly deferTo: readonly string[];
}

export interface Config {
  /** absolute path of the file this came from, for messages */
  readonly file: string;
  readonly socket: string;
  /** uid / gid the socket file is given; undefined leaves it to the process */
  readonly socketOwner: number | undefined;
  readonly socketGroup: number | undefined;
  readonly goodpatterns: readonly Rule[];
  /** lines that tell which address a process (`prog[pid]`) is talking to; never an offence */
  readonly sessionpatterns: readonly Rule[];
  /** the networks as written, canonicalised, for summaries */
  readonly ignorenetsText: readonly string[];
  readonly ignorenets: NetSet;
  readonly blocktypes: readonly Blocktype[];
  /** folder holding the kernel lists, normally /proc/net/xt_recent */
  readonly procDir: string;
  /** most addresses each blocktype tracks at once; the least recently seen is evicted */
  readonly maxTracked: number;
  /** where windows and bans are saved across restarts */
  readonly stateFile: string;
  /** longest line (bytes) that is matched; longer datagrams are skipped, never matched */
  readonly maxLine: number;
  /** IPv6 addresses are counted, banned and unblocked as their network of this many bits (128: each address) */
  readonly ipv6Prefix: number;
}

export const DEFAULT_CONFIG_FILE = '/etc/banban.yml';

export const DEFAULTS = {
  socket: '/run/banban/banban.sock',
  procDir: '/proc/net/xt_recent',
  maxTracked: 100_000,
  target: 'BLOCKER',
  minocc: 3,
  interval: 600,
  resetconns: false,
  bantime: 3600,
  stateFile: '/var/lib/banban/state.json',
  maxLine: 8192,
  ipv6Prefix: 128,
} as const;

export interface FieldDoc {
  readonly key: string;
  readonly type: string;
  readonly default: string;
  readonly doc: string;
}

/** Every key banban reads. Anything else in the file is an error. */
export const FIELDS: readonly FieldDoc[] = [
  { key: 'socket', type: 'path', default: DEFAULTS.socket, doc: 'UNIX datagram socket the syslog daemon writes to. A stale socket file is replaced; any other file there is refused. Mode 0660.' },
  { key: 'socket_owner', type: 'user name or uid', default: '(unchanged)', doc: 'Owner given to the socket file.' },
  { key: 'socket_group', type: 'group name or gid', default: '(unchanged)', doc: "Group given to the socket file, e.g. the syslog daemon's group so it may write." },
  { key: 'include', type: 'list of preset names or paths', default: '[]', doc: "Shipped presets (sshd, postfix, ...; see Presets) or YAML files of your own whose goodpatterns and blocktypes are added to this file's. A blocktype this file also names is overridden key by key." },
  { key: 'goodpatterns', type: 'list of regex', default: '[]', doc: 'A match unblocks the address in every target and forgets its offences. Each needs a named group (?<ip>...).' },
  { key: 'sessionpatterns', type: 'list of regex', default: '[]', doc: 'Lines that only note which address a process (prog[pid]) talks to, e.g. sshd\'s "Connection from". A blocktype pattern with (?<pid>...) instead of (?<ip>...) counts against that address. Such a line also marks where a connection of the process starts (endpatterns).' },
  { key: 'ignorenets', type: 'list of CIDR', default: '[]', doc: 'IPv4 and IPv6 networks (or single addresses) that are never counted or blocked.' },
  { key: 'blocktypes', type: 'map of name to blocktype', default: '(required)', doc: 'What to count and where to block; see below.' },
  { key: 'blocktypes.<name>.target', type: 'list name', default: DEFAULTS.target, doc: 'xt_recent list written to: /proc/net/xt_recent/<target>, the --name of your iptables rule.' },
  { key: 'blocktypes.<name>.minocc', type: 'integer >= 1', default: String(DEFAULTS.minocc), doc: 'Offences from one address needed within interval to block it.' },
  { key: 'blocktypes.<name>.interval', type: 'seconds > 0', default: String(DEFAULTS.interval), doc: 'Length of the counting window.' },
  { key: 'blocktypes.<name>.resetconns', type: 'boolean (or 0/1)', default: String(DEFAULTS.resetconns), doc: "Also delete the address's conntrack flows, so open connections die." },
  { key: 'blocktypes.<name>.bantime', type: 'seconds > 0', default: String(DEFAULTS.bantime), doc: "How long a ban lasts: after a restart or reboot, bans younger than this are written to the kernel list again. Set it to your rule's --seconds." },
  { key: 'blocktypes.<name>.defer_to', type: 'list of blocktype names', default: '[]', doc: "Blocktypes this one leaves their programs' lines to: it is not asked a line that starts the way a pattern of one of them does (sshd, vsftpd). For catch-all blocktypes such as pam-generic, whose preset lists sshd, dovecot and vsftpd, so that a refused ssh password is counted by the sshd blocktype only. Names not in the config are passed over." },
  { key: 'blocktypes.<name>.patterns', type: 'list of regex', default: '(required)', doc: 'Lines that count as an offence. Each needs a named group (?<ip>...), or (?<pid>...) to count against the address that process logged last.' },
  { key: 'blocktypes.<name>.endpatterns', type: 'list of regex', default: '[]', doc: 'Lines a connection ends with, which a program may write two of for one end (sshd: "Received disconnect ..." then "Disconnected from ..."; postfix: "lost connection ..." then "disconnect from ..."). Of one connection\'s such lines, the first counts one offence and the others none; a connection is a process (prog[pid]) from a sessionpatterns line of it, or while it names the same address. Groups as in patterns; asked after them; with endpatterns, patterns may be left out.' },
  { key: 'proc_dir', type: 'path', default: DEFAULTS.procDir, doc: 'Folder of the kernel lists. Only tests change it (also --proc-dir).' },
  { key: 'state_file', type: 'path', default: DEFAULTS.stateFile, doc: 'Offence windows and active bans are saved here (atomically) on stop and every minute, and restored at start.' },
  { key: 'max_line', type: 'integer 256 to 65535', default: String(DEFAULTS.maxLine), doc: 'Longest syslog line, in bytes, that is matched. A longer datagram is skipped: a cut line could show a cut address.' },
  { key: 'max_tracked', type: 'integer >= 1', default: String(DEFAULTS.maxTracked), doc: 'Most addresses each blocktype tracks at once; the least recently seen is dropped first.' },
  {
    key: 'ipv6_prefix',
    type: 'integer 48 to 128',
    default: String(DEFAULTS.ipv6Prefix),
    doc: 'IPv6 addresses are counted, blocked and unblocked as the network of this many bits they are in. At 64, a host (or subscriber) that hops between the addresses of its /64 is one attacker, and takes one entry of the kernel list. Below 128 the ip6tables rule must look addresses up the same way, with `--mask ffff:ffff:ffff:ffff::` (for 64) after `-m recent`, or IPv6 bans do nothing; `banban check` says so. A network holding an ignorenets address is ignored whole.',
  },
];

/**
 * What the kernel accepts as an xt_recent list name and can show as a file
 * under /proc/net/xt_recent: 1 to 199 characters, no '/', not '.' or '..'.
 * We are stricter and allow only letters, digits, '_', '.', '-'.
 */
export const TARGET_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,198}$/;
