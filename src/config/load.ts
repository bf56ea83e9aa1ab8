/**
 * YAML file to validated Config.
 *
 * The file format is the Perl banban's. We walk yaml's node tree (not the
 * plain JS value) so that every problem can name its key path and line:col,
 * and we collect every problem before throwing: a daemon that refuses to
 * start should list everything to fix at once.
 *
 * Strictness is deliberate. A typo in a key (`minoc: 10`) would otherwise be
 * ignored and the default used silently, which for an intrusion-prevention
 * tool means blocking far more or far less than the admin asked for.
 */
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  Parser,
  parseDocument,
  type Document,
  type Node as YamlNode,
  type Pair,
  type Scalar,
  type YAMLMap,
} from 'yaml';
import { parseCidr, NetSet, parseIp, v6Mask, type Cidr } from '../lib/ip.js';
import { resolveGroup, resolveUser, validId, MAX_ID, GROUP_FILE, PASSWD_FILE } from '../lib/passwd.js';
import { compileRule } from '../match/rules.js';
import { DEFAULTS, FIELDS, TARGET_NAME_RE, type Blocktype, type Config, type Rule } from './schema.js';
import { cacheEntry, cacheText, PresetCache } from './preset-cache.js';
import { ConfigError, type ConfigProblem } from './problems.js';
import { fileKind } from '../state/state-file.js';

export interface LoadResult {
  config: Config;
  warnings: ConfigProblem[];
}

export interface LoadOverrides {
  /** --proc-dir: wins over the file's proc_dir */
  procDir?: string | undefined;
  /** --state-file: wins over the file's state_file */
  stateFile?: string | undefined;
  /** text of /etc/passwd, for tests; read from the system when absent */
  passwdText?: string;
  /** text of /etc/group, for tests; read from the system when absent */
  groupText?: string;
}

/** sun_path is 108 bytes including the terminating NUL */
const MAX_SOCKET_PATH_BYTES = 107;
const MAX_MINOCC = 1000;
const MAX_INTERVAL = 31 * 24 * 3600;
const MAX_BANTIME = 366 * 24 * 3600;
const MAX_MAX_TRACKED = 50_000_000;
/** times one blocktype's windows may hold in all, max_tracked * (minocc - 1): 4 GB of them */
const MAX_WINDOW_TIMES = 2 ** 30;
const BLOCKTYPE_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The shipped presets, `presets/<name>.yml` at the top of the package: the
 * nearest directory above this file that holds package.json and presets/.
 * Found, not fixed, because this code runs from two places: the compiled
 * file dist/src/config/load.js, and the bundle dist/bin/main.js that the
 * `banban` command is.
 */
export const PRESET_DIR = presetDir(path.dirname(fileURLToPath(import.meta.url)));

function presetDir(from: string): string {
  for (let dir = from; ; ) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'presets'))) return path.join(dir, 'presets') + path.sep;
    const up = path.dirname(dir);
    // None found (a broken install): name where they were looked for; `include:` says they are missing.
    if (up === dir) return path.join(from, '..', '..', '..', 'presets') + path.sep;
    dir = up;
  }
}
/** The shipped presets as read at build time (preset-cache.ts): beside the bundle, in the package's dist/bin. */
export const PRESET_CACHE_FILE = path.join(PRESET_DIR, '..', 'dist', 'bin', 'presets.cache.json');
const presetCache = new PresetCache(PRESET_CACHE_FILE);

/** how many included presets this process took from the cache (tests) */
export function presetsFromCache(): number {
  return presetCache.hits;
}

/**
 * Writes the cache of the shipped presets (`npm run build` does, after
 * compiling): each as the loader reads it from its YAML, now.
 */
export function writePresetCache(to = PRESET_CACHE_FILE): void {
  const entries = Object.fromEntries(
    shippedPresets().map((name) => {
      const file = path.join(PRESET_DIR, `${name}.yml`);
      // decoded as `include:` decodes it, so that the texts compare equal
      const text = decodeUtf8(readFileSync(file));
      if (text === undefined) throw new Error(`the shipped preset ${file} is not valid UTF-8`);
      return [name, cacheEntry(text, file, readIncluded(name, text, file))];
    }),
  );
  const tmp = `${to}.${process.pid}.tmp`;
  writeFileSync(tmp, cacheText(entries));
  renameSync(tmp, to);
}

/** What the loader makes of the included file `file` (`name`: its include entry), read from its YAML `text`. */
export function readIncluded(name: string, text: string, file: string): IncludedPart {
  return new Loader(text, file, {}, name).runIncluded();
}

/** An `include:` entry of this shape names a shipped preset; anything else is a path. */
const PRESET_NAME_RE = /^[a-z0-9-]+$/;
/** The only keys an included file may hold. */
const INCLUDED_KEYS = ['goodpatterns', 'sessionpatterns', 'blocktypes', 'caveat'];

/** Names of the shipped presets, sorted. */
export function shippedPresets(): string[] {
  try {
    return readdirSync(PRESET_DIR)
      .filter((f) => f.endsWith('.yml') && PRESET_NAME_RE.test(f.slice(0, -4)))
      .map((f) => f.slice(0, -4))
      .sort();
  } catch {
    return [];
  }
}

const BT_PREFIX = 'blocktypes.<name>.';
/** Known keys come from FIELDS, so the schema, the docs and the loader cannot drift apart. */
const TOP_KEYS = FIELDS.map((f) => f.key).filter((k) => !k.includes('.'));
const BT_KEYS = FIELDS.map((f) => f.key).filter((k) => k.startsWith(BT_PREFIX)).map((k) => k.slice(BT_PREFIX.length));

/** Reads `file` and validates it. A file that cannot be read is a ConfigError too. */
export function loadConfig(file: string, overrides: LoadOverrides = {}): LoadResult {
  const abs = path.resolve(file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(abs);
  } catch (e) {
    throw new ConfigError(abs, [fileProblem(abs, readFailure(e as NodeJS.ErrnoException))]);
  }
  const text = decodeUtf8(bytes);
  if (text === undefined) throw new ConfigError(abs, [fileProblem(abs, 'is not valid UTF-8 text; save it as UTF-8')]);
  return parseConfig(text, abs, overrides);
}

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function readFailure(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'cannot read the config file: it does not exist; create it from examples/banban.yml or pass -c FILE';
    case 'EACCES':
    case 'EPERM':
      return 'cannot read the config file: permission denied; run banban as root or make the file readable by its user';
    case 'EISDIR':
      return 'cannot read the config file: it is a directory; pass -c FILE with the path of the YAML file';
    default:
      return `cannot read the config file: ${e.message}`;
  }
}

function fileProblem(file: string, message: string): ConfigProblem {
  return { file, line: 0, col: 0, key: '', message, severity: 'error' };
}

/**
 * Validates config text. `file` is used in messages and as Config.file (it
 * is not read). Throws ConfigError listing every problem found.
 */
export function parseConfig(text: string, file: string, overrides: LoadOverrides = {}): LoadResult {
  return new Loader(text, file, overrides).run();
}

/**
 * A blocktype as one file gives it: only the keys written there. The
 * including config's keys are laid over a preset's, key by key, and the
 * defaults fill what neither gives.
 */
export interface BlocktypePart {
  readonly name: string;
  /** the include entry it came from (`sshd`, `./local.yml`); undefined for the config's own */
  readonly origin: string | undefined;
  /** `FILE:LINE` of its name, for messages */
  readonly at: string;
  target?: string;
  minocc?: number;
  interval?: number;
  resetconns?: boolean;
  deferTo?: string[];
  bantime?: number;
  patterns?: Rule[];
  /** each Rule.perProcess */
  endpatterns?: Rule[];
}

/** What the loader makes of an included file: its rules and blocktypes, and its problems. */
export interface IncludedPart {
  goodpatterns: Rule[];
  sessionpatterns: Rule[];
  blocktypes: BlocktypePart[];
  problems: ConfigProblem[];
}

/** What one entry of `include:` brought in. */
interface Included {
  readonly label: string;
  readonly goodpatterns: Rule[];
  readonly sessionpatterns: Rule[];
  readonly blocktypes: BlocktypePart[];
  /** the list item naming it, for messages */
  readonly item: YamlNode;
  readonly key: string;
  /** read without errors */
  readonly loaded: boolean;
}

/**
 * One pass over one document, accumulating problems. The same class reads
 * an included file (`label` set): then only goodpatterns and blocktypes are
 * allowed, and the rules it compiles say where they came from.
 */
class Loader {
  readonly #text: string;
  readonly #file: string;
  readonly #overrides: LoadOverrides;
  /** the include entry this file was loaded for; undefined for the config itself */
  readonly #label: string | undefined;
  readonly #lc = new LineCounter();
  readonly #problems: ConfigProblem[] = [];
  /** the defer_to lists this file wrote, by blocktype name (for messages about them once every blocktype is merged) */
  readonly #deferNodes = new Map<string, YamlNode | null>();
  /** files whose problems are in #problems, in the order they are shown: this file first, then its includes */
  readonly #files: string[];
  /** offsets of duplicate keys already reported with their key path, so yaml's own report is dropped */
  readonly #duplicatesSeen = new Set<number>();
  #doc!: Document.Parsed;

  constructor(text: string, file: string, overrides: LoadOverrides, label?: string) {
    this.#text = text;
    this.#file = file;
    this.#overrides = overrides;
    this.#label = label;
    this.#files = [file];
  }

  run(): LoadResult {
    const config = this.#parse() ? this.#top() : undefined;
    this.#finish();
    if (config === undefined || this.#problems.some((p) => p.severity === 'error')) {
      throw new ConfigError(this.#file, this.#problems);
    }
    return { config, warnings: this.#problems };
  }

  /** Reads this document as an included file; its problems are returned, not thrown. */
  runIncluded(): IncludedPart {
    const part = this.#parse() ? this.#includedTop() : undefined;
    this.#finish();
    return { goodpatterns: part?.goodpatterns ?? [], sessionpatterns: part?.sessionpatterns ?? [], blocktypes: part?.blocktypes ?? [], problems: this.#problems };
  }

  /** Parses the YAML; false after a syntax error. */
  #parse(): boolean {
    this.#doc = parseDocument(this.#text, { lineCounter: this.#lc, prettyErrors: false, uniqueKeys: true });
    const syntaxErrors = this.#doc.errors.filter((e) => e.code !== 'DUPLICATE_KEY');
    for (const w of this.#doc.warnings) this.#add(w.pos[0], '', w.message, 'warning');
    // After a syntax error the tree is yaml's best guess; validating it
    // would bury the real mistake under follow-on errors ("blocktypes is
    // required" because an indentation slip hid it).
    let quoteSaid = false;
    for (const e of syntaxErrors) {
      // yaml says a quote is missing where the file ends; the mistake is where it opened.
      const open = e.code === 'MISSING_CHAR' && /quote/i.test(e.message) ? unclosedQuote(this.#text) : undefined;
      if (open === undefined) this.#add(e.pos[0], '', yamlMessage(e.code, e.message));
      else if (!quoteSaid) {
        quoteSaid = true;
        this.#add(open, '', `YAML syntax error: this ${this.#text[open] === '"' ? 'double' : 'single'} quote is never closed; end the value with the same quote on its line`);
      }
    }
    return syntaxErrors.length === 0;
  }

  /** yaml's own duplicate-key reports not yet given with a key path; then sorts: file by file, by line. */
  #finish(): void {
    for (const e of this.#doc.errors) {
      if (e.code === 'DUPLICATE_KEY' && !this.#duplicatesSeen.has(e.pos[0])) {
        this.#add(e.pos[0], '', `duplicate key '${keyTextAt(this.#text, e.pos[0])}'; each key may appear once`);
      }
    }
    const rank = (p: ConfigProblem): number => this.#files.indexOf(p.file);
    this.#problems.sort((a, b) => rank(a) - rank(b) || sortLine(a) - sortLine(b) || a.col - b.col);
  }

  // ---- reporting -------------------------------------------------------

  #add(offset: number | undefined, key: string, message: string, severity: 'error' | 'warning' = 'error'): void {
    let line = 0;
    let col = 0;
    if (offset !== undefined) {
      ({ line, col } = this.#lc.linePos(offset));
    }
    this.#problems.push({ file: this.#file, line, col, key, message, severity, source: this.#text });
  }

  #error(node: YamlNode | null | undefined, key: string, message: string): void {
    this.#add(node?.range?.[0], key, message);
  }

  #warn(node: YamlNode | null | undefined, key: string, message: string): void {
    this.#add(node?.range?.[0], key, message, 'warning');
  }

  // ---- the document ----------------------------------------------------

  #top(): Config | undefined {
    const top = this.#deref(this.#doc.contents);
    if (isBlank(top)) {
      this.#add(0, '', 'the file is empty; it needs at least a blocktypes: map (see examples/banban.yml)');
      return undefined;
    }
    if (!isMap(top)) {
      this.#error(top, '', `the top level must be a map of keys (socket:, blocktypes:, ...), not ${describe(top)}`);
      return undefined;
    }
    const entries = this.#entries(top, '');
    for (const [name, e] of entries) {
      if (!TOP_KEYS.includes(name)) this.#unknownKey(e, name, '', TOP_KEYS, BT_KEYS);
    }

    const socket = this.#socket(entries.get('socket'));
    const socketOwner = this.#owner(entries.get('socket_owner'), 'socket_owner');
    const socketGroup = this.#owner(entries.get('socket_group'), 'socket_group');
    const errorsBefore = this.#errorCount();
    const included = this.#includes(entries.get('include'));
    // A malformed include (a string, not a list) is said there; "blocktypes is required" would only follow from it.
    const includeFailed = this.#errorCount() > errorsBefore;
    // The presets' good patterns first, then the file's own.
    const goodpatterns = [...included.flatMap((inc) => inc.goodpatterns), ...this.#patterns(entries.get('goodpatterns'), 'goodpatterns')];
    const sessionpatterns = [...included.flatMap((inc) => inc.sessionpatterns), ...this.#patterns(entries.get('sessionpatterns'), 'sessionpatterns')];
    const nets = this.#ignorenets(entries.get('ignorenets'));
    const blocktypes = this.#blocktypes(entries.get('blocktypes'), top, included, includeFailed);
    let procDir = this.#absPath(entries.get('proc_dir'), DEFAULTS.procDir);
    if (this.#overrides.procDir !== undefined) procDir = path.resolve(this.#overrides.procDir);
    const maxTracked = this.#integer(entries.get('max_tracked'), 1, MAX_MAX_TRACKED, DEFAULTS.maxTracked);
    let stateFile = this.#absPath(entries.get('state_file'), DEFAULTS.stateFile);
    if (this.#overrides.stateFile !== undefined) stateFile = path.resolve(this.#overrides.stateFile);
    this.#checkStateFile(stateFile, socket, entries.get('state_file')?.value ?? top);
    const maxLine = this.#integer(entries.get('max_line'), 256, 65535, DEFAULTS.maxLine);
    const ipv6Prefix = this.#integer(entries.get('ipv6_prefix'), 48, 128, DEFAULTS.ipv6Prefix);
    if (ipv6Prefix < 128 && entries.get('ipv6_prefix') !== undefined) {
      this.#warn(
        entries.get('ipv6_prefix')!.value,
        'ipv6_prefix',
        `IPv6 bans are written as /${ipv6Prefix} networks: every ip6tables rule that checks these lists needs '--mask ${v6Mask(ipv6Prefix)}' after '-m recent', or IPv6 bans do nothing (see examples/iptables.rules)`,
      );
    }
    // A blocktype's windows keep minocc-1 times of 4 bytes for up to max_tracked addresses.
    for (const bt of blocktypes) {
      const times = maxTracked * (bt.minocc - 1);
      if (times > MAX_WINDOW_TIMES) {
        this.#error(
          entries.get('max_tracked')?.value ?? top,
          `blocktypes.${bt.name}.minocc`,
          `minocc ${bt.minocc} with max_tracked ${maxTracked} lets the windows of blocktype ${bt.name} grow to ${Math.round((times * 4) / 2 ** 30)} GB; lower max_tracked or minocc: max_tracked × (minocc - 1) may be ${MAX_WINDOW_TIMES} at most`,
        );
      }
    }

    if (this.#errorCount() > 0) return undefined;
    return {
      file: this.#file,
      socket,
      socketOwner,
      socketGroup,
      goodpatterns,
      sessionpatterns,
      ignorenetsText: nets.map((n) => n.text),
      ignorenets: new NetSet(nets),
      blocktypes,
      procDir,
      maxTracked,
      stateFile,
      maxLine,
      ipv6Prefix,
    };
  }

  #errorCount(): number {
    return this.#problems.filter((p) => p.severity === 'error').length;
  }

  /**
   * A map's pairs by key name, in file order. Duplicates are reported here
   * (with the key path, which yaml's own message lacks) and the later copy
   * dropped; keys that are not scalars are reported and skipped.
   */
  #entries(map: YAMLMap, prefix: string): Map<string, Entry> {
    const out = new Map<string, Entry>();
    for (const pair of map.items as Pair<unknown, unknown>[]) {
      const keyNode = pair.key as YamlNode | null;
      const name = isScalar(keyNode) ? this.#scalarText(keyNode) : undefined;
      const valueNode = this.#deref(pair.value as YamlNode | null);
      if (name === undefined) {
        this.#error(keyNode, prefix, 'keys must be plain names, not lists or maps');
        continue;
      }
      const keyPath = join(prefix, name);
      const first = out.get(name);
      if (first !== undefined) {
        const at = keyNode?.range?.[0];
        if (at !== undefined) this.#duplicatesSeen.add(at);
        this.#error(keyNode, keyPath, `duplicate key; '${name}' was already given on line ${this.#lineOf(first.key)}`);
        continue;
      }
      out.set(name, { key: keyNode, value: valueNode, path: keyPath });
    }
    return out;
  }

  #unknownKey(e: Entry, name: string, prefix: string, known: readonly string[], otherLevel: readonly string[]): void {
    const where = prefix === '' ? 'at the top level' : `in ${prefix}`;
    let hint = '';
    if (name === '<<') {
      hint = '; YAML merge keys are not supported, write the keys out';
    } else if (otherLevel.includes(name)) {
      hint = prefix === '' ? `; it belongs inside a blocktype (blocktypes.NAME.${name})` : '; it belongs at the top level, not inside a blocktype';
    } else {
      const near = suggest(name, known);
      if (near !== undefined) hint = `; did you mean '${near}'?`;
      else if (prefix === '' && isMap(e.value) && e.value.items.some((p) => isScalar(p.key) && p.key.value === 'patterns')) {
        hint = '; it looks like a blocktype: put it under blocktypes:';
      }
    }
    this.#error(e.key, e.path, `unknown key '${name}' ${where}${hint}`);
  }

  // ---- top-level keys --------------------------------------------------

  #socket(e: Entry | undefined): string {
    if (e === undefined) return DEFAULTS.socket;
    const s = this.#string(e, 'an absolute path such as /run/banban/banban.sock');
    if (s === undefined) return DEFAULTS.socket;
    if (!s.startsWith('/')) this.#error(e.value, e.path, `must be an absolute path (starting with /), not '${s}'`);
    else if (s.endsWith('/')) this.#error(e.value, e.path, `must name the socket file, not a directory ending in '/': '${s}'`);
    else if (s.includes('\0')) this.#error(e.value, e.path, 'must not contain a NUL character');
    else if (Buffer.byteLength(s) > MAX_SOCKET_PATH_BYTES) {
      this.#error(e.value, e.path, `is ${Buffer.byteLength(s)} bytes long; a UNIX socket path can have at most ${MAX_SOCKET_PATH_BYTES} bytes`);
    }
    return s;
  }

  /**
   * A state file the daemon can write: it renames whatever it finds there and cannot read
   * (state/state-file.ts), so a folder, this config or the socket must never be named.
   */
  #checkStateFile(file: string, socket: string, node: YamlNode | null | undefined): void {
    const key = this.#overrides.stateFile !== undefined ? '--state-file' : 'state_file';
    const fix = `give the path of a file of its own, such as ${DEFAULTS.stateFile}`;
    if (!file.startsWith('/')) return; // said already
    if (file.endsWith('/')) return this.#error(node, key, `${file} names a folder; ${fix}`);
    const abs = path.resolve(file);
    if (abs === path.resolve(this.#file)) return this.#error(node, key, `${file} is this config file, which banban would write its state over; ${fix}`);
    if (abs === path.resolve(socket)) return this.#error(node, key, `${file} is the socket's path too; ${fix}`);
    let st: Stats;
    try {
      st = statSync(abs);
    } catch (err) {
      // a file where a folder of its path should be: no save could ever be made there
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return this.#error(node, key, `a part of the path ${file} is a file, not a folder; ${fix}`);
      return; // not there yet (made at the first save), or its folder cannot be read: said when saving
    }
    if (!st.isFile()) this.#error(node, key, `${file} is ${fileKind(st)}, not a file; ${fix}`);
  }

  #absPath(e: Entry | undefined, dflt: string): string {
    if (e === undefined) return dflt;
    const s = this.#string(e, 'an absolute path');
    if (s === undefined) return dflt;
    if (!s.startsWith('/')) this.#error(e.value, e.path, `must be an absolute path (starting with /), not '${s}'`);
    return s;
  }

  #owner(e: Entry | undefined, key: 'socket_owner' | 'socket_group'): number | undefined {
    if (e === undefined) return undefined;
    const isUser = key === 'socket_owner';
    const what = isUser ? 'user' : 'group';
    const v = e.value;
    if (!isScalar(v) || v.value === null || (typeof v.value !== 'string' && typeof v.value !== 'number')) {
      this.#error(v ?? e.key, e.path, `must be a ${what} name or numeric id, not ${describe(v)}`);
      return undefined;
    }
    if (typeof v.value === 'number') {
      const id = validId(v.value);
      if (id === undefined) this.#error(v, e.path, `${v.value} is not a valid ${isUser ? 'uid' : 'gid'} (a whole number from 0 to ${MAX_ID})`);
      return id;
    }
    const id = isUser ? resolveUser(v.value, this.#overrides.passwdText) : resolveGroup(v.value, this.#overrides.groupText);
    if (id === undefined) {
      const db = isUser ? PASSWD_FILE : GROUP_FILE;
      this.#error(v, e.path, `no ${what} named '${v.value}' in ${db}; create it or give the numeric ${isUser ? 'uid' : 'gid'} (${what}s from LDAP/NSS are not looked up)`);
    }
    return id;
  }

  #ignorenets(e: Entry | undefined): Cidr[] {
    const nets: Cidr[] = [];
    const items = e === undefined ? [] : this.#list(e, 'a list of networks such as 127.0.0.0/8');
    if (items === undefined) return nets;
    if (items.length === 0) {
      // Without it, an admin who mistypes their password three times locks
      // themselves out, and local services' own failures count as attacks.
      this.#warn(e?.key, 'ignorenets', 'is empty, so every address can be blocked, including your own; add 127.0.0.0/8 and ::1, and your admin networks');
      return nets;
    }
    items.forEach((item, i) => {
      const key = `${e!.path}[${i}]`;
      const text = isScalar(item) && (typeof item.value === 'string' || typeof item.value === 'number') ? String(item.value) : undefined;
      if (text === undefined) {
        this.#error(item ?? e!.value, key, `must be an address or network such as 192.0.2.0/24, not ${describe(item)}`);
        return;
      }
      const net = parseCidr(text.trim());
      if (!net.ok) {
        this.#error(item, key, `'${text}' is not a network: ${net.reason}`);
        return;
      }
      const slash = text.indexOf('/');
      const addr = parseIp(slash < 0 ? text.trim() : text.trim().slice(0, slash));
      if (addr.ok && addr.value.family === net.value.family && !sameBytes(addr.value.bytes, net.value.bytes)) {
        this.#warn(item, key, `'${text}' has host bits set; it means ${net.value.text}`);
      }
      nets.push(net.value);
    });
    return nets;
  }

  /**
   * The blocktypes: the included ones in include order, then the file's own.
   * A blocktype the file names that an include also defines is laid over it
   * key by key (a `patterns:` list replaces the included one whole).
   * `includeFailed`: the file's `include` had errors of its own (said
   * there), so a missing `blocktypes` is not one more.
   */
  #blocktypes(e: Entry | undefined, top: YAMLMap, included: Included[], includeFailed: boolean): Blocktype[] {
    const parts = new Map<string, BlocktypePart>();
    for (const inc of included) {
      for (const part of inc.blocktypes) {
        const other = parts.get(part.name);
        if (other !== undefined) {
          this.#error(
            inc.item,
            inc.key,
            `blocktype '${part.name}' is defined both by '${other.origin}' (${other.at}) and by '${inc.label}' (${part.at}); a blocktype may come from one include only, so drop one of them or copy one blocktype into this file under another name`,
          );
          continue;
        }
        parts.set(part.name, part);
      }
    }
    if (e === undefined) {
      // With includes, the file need not add blocktypes of its own.
      if (included.length === 0) {
        if (!includeFailed) this.#error(top, 'blocktypes', 'is required: a map from blocktype name to { target, minocc, interval, resetconns, patterns }, or include: a preset');
      } else if (parts.size === 0 && included.every((inc) => inc.loaded)) {
        this.#error(top, 'blocktypes', 'is required: the included files define no blocktypes, so nothing would ever be blocked');
      }
    } else {
      for (const own of this.#blocktypeParts(e, (name) => !parts.has(name))) {
        const base = parts.get(own.name);
        parts.set(own.name, base === undefined ? own : overlay(base, own));
      }
    }
    this.#checkDeferrals([...parts.values()]);
    return [...parts.values()].map(withDefaults);
  }

  /**
   * defer_to across the merged blocktypes: a name this file wrote that no
   * blocktype has is likely a typo (a preset's list names presets that may
   * not be included, and is passed over); blocktypes that defer to each
   * other, directly or round a circle, would leave each other's lines to
   * each other and count none of them.
   */
  #checkDeferrals(parts: readonly BlocktypePart[]): void {
    const byName = new Map(parts.map((p) => [p.name, p]));
    for (const p of parts) {
      const node = this.#deferNodes.get(p.name);
      if (node === undefined || p.deferTo === undefined) continue;
      const missing = p.deferTo.filter((n) => !byName.has(n));
      if (missing.length > 0) {
        this.#warn(node, `blocktypes.${p.name}.defer_to`, `names no blocktype of this config: ${missing.map((n) => `'${n}'`).join(', ')} (the blocktypes are ${[...byName.keys()].join(', ')}); it is passed over`);
      }
    }
    const reported = new Set<string>();
    for (const p of parts) {
      // follow defer_to from p; a way back to p is a circle
      const path = [p.name];
      const seen = new Set<string>();
      const walk = (name: string): string[] | undefined => {
        for (const next of byName.get(name)?.deferTo ?? []) {
          if (!byName.has(next)) continue;
          if (next === p.name) return [...path, next];
          if (seen.has(next)) continue;
          seen.add(next);
          path.push(next);
          const circle = walk(next);
          if (circle) return circle;
          path.pop();
        }
        return undefined;
      };
      const circle = walk(p.name);
      if (circle === undefined || circle.some((n) => reported.has(n))) continue;
      for (const n of circle) reported.add(n);
      const own = circle.find((n) => this.#deferNodes.has(n));
      const where = circle.slice(0, -1).map((n) => `${n} at ${byName.get(n)!.at}`).join(', ');
      this.#error(
        own === undefined ? this.#doc.contents : this.#deferNodes.get(own),
        `blocktypes.${own ?? p.name}.defer_to`,
        `blocktypes defer to each other (${circle.join(' -> ')}; ${where}): each would leave the lines of the others' programs to them, and none would count them; remove one of these defer_to entries`,
      );
    }
  }

  /** A defer_to list: blocktype names, not the blocktype's own. */
  #deferTo(e: Entry, self: string): string[] {
    if (isBlank(e.value)) {
      // an empty value is more likely a list left unfinished than "none": say so rather than drop a preset's list
      this.#error(e.key, e.path, 'has no value; give a list of blocktype names such as [sshd], or [] to defer to none');
      return [];
    }
    const items = this.#list(e, 'a list of blocktype names such as [sshd, dovecot]') ?? [];
    const out: string[] = [];
    items.forEach((item, i) => {
      const name = isScalar(item) && typeof item.value === 'string' ? item.value : undefined;
      if (name === undefined || !BLOCKTYPE_NAME_RE.test(name)) {
        this.#error(item ?? e.value, `${e.path}[${i}]`, `must be a blocktype name (1 to 64 letters, digits, '_', '.' or '-'), not ${describe(item)}`);
      } else if (name === self) {
        this.#error(item, `${e.path}[${i}]`, `is this blocktype itself; a blocktype cannot leave its lines to itself`);
      } else if (!out.includes(name)) {
        out.push(name);
      }
    });
    return out;
  }

  /** The blocktypes map of one file, each with only the keys written. `needsPatterns(name)`: whether it must list patterns. */
  #blocktypeParts(e: Entry, needsPatterns: (name: string) => boolean): BlocktypePart[] {
    const out: BlocktypePart[] = [];
    const v = e.value;
    if (!isMap(v)) {
      const empty = isBlank(v);
      this.#error(empty ? e.key : v, e.path, empty ? 'is empty; define at least one blocktype' : `must be a map from blocktype name to its settings, not ${describe(v)}`);
      return out;
    }
    const entries = this.#entries(v, 'blocktypes');
    if (entries.size === 0 && v.items.length === 0) {
      this.#error(v, e.path, 'is empty; define at least one blocktype');
      return out;
    }
    for (const [name, bt] of entries) {
      const b = this.#blocktypePart(name, bt, needsPatterns(name));
      if (b !== undefined) out.push(b);
    }
    return out;
  }

  #blocktypePart(name: string, e: Entry, needsPatterns: boolean): BlocktypePart | undefined {
    if (!BLOCKTYPE_NAME_RE.test(name)) {
      this.#error(e.key, e.path, `blocktype name '${name}' must be 1 to 64 letters, digits, '_', '.' or '-'`);
    }
    const v = e.value;
    if (!isMap(v)) {
      const empty = isBlank(v);
      this.#error(empty ? e.key : v, e.path, empty ? 'blocktype is empty; it needs at least patterns:' : `blocktype must be a map of settings (target, minocc, interval, resetconns, patterns), not ${describe(v)}`);
      return undefined;
    }
    const entries = this.#entries(v, e.path);
    for (const [key, kv] of entries) {
      if (!BT_KEYS.includes(key)) this.#unknownKey(kv, key, e.path, BT_KEYS, this.#label === undefined ? TOP_KEYS : INCLUDED_KEYS);
    }
    const part: BlocktypePart = { name, origin: this.#label, at: `${this.#file}:${this.#lineOf(e.key)}` };
    const given = (key: string): Entry | undefined => entries.get(key);
    if (given('target')) part.target = this.#target(given('target'));
    if (given('minocc')) part.minocc = this.#integer(given('minocc'), 1, MAX_MINOCC, DEFAULTS.minocc);
    if (given('interval')) part.interval = this.#interval(given('interval'));
    if (given('resetconns')) part.resetconns = this.#boolean(given('resetconns'), DEFAULTS.resetconns);
    if (given('defer_to')) {
      part.deferTo = this.#deferTo(given('defer_to')!, name);
      if (this.#label === undefined) this.#deferNodes.set(name, given('defer_to')!.value);
    }
    if (given('bantime')) part.bantime = this.#seconds(given('bantime'), DEFAULTS.bantime, MAX_BANTIME);
    const patternsEntry = given('patterns');
    const endsEntry = given('endpatterns');
    if (patternsEntry !== undefined) {
      part.patterns = this.#patterns(patternsEntry, `${e.path}.patterns`, { required: endsEntry === undefined, allowPid: true });
    } else if (needsPatterns && endsEntry === undefined) {
      this.#error(e.key, `${e.path}.patterns`, 'is required: the list of log line patterns that count as an offence (or endpatterns:, lines a connection ends with)');
    }
    if (endsEntry !== undefined) part.endpatterns = this.#patterns(endsEntry, `${e.path}.endpatterns`, { required: false, allowPid: true, perProcess: true });
    return part;
  }

  // ---- include ---------------------------------------------------------

  /**
   * Loads each entry of `include:`: a bare name is a shipped preset, anything
   * else a path relative to this file's folder. An included file's problems
   * are reported with its own file name and lines.
   */
  #includes(e: Entry | undefined): Included[] {
    const out: Included[] = [];
    if (e === undefined) return out;
    if (isScalar(e.value) && typeof e.value.value === 'string') {
      this.#error(e.value, e.path, `must be a list, not the string '${e.value.value}'; write include: [${e.value.value}]`);
      return out;
    }
    const items = this.#list(e, 'a list of preset names such as [sshd, postfix], or paths of YAML files');
    if (items === undefined) return out;
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const key = `${e.path}[${i}]`;
      if (!isScalar(item) || typeof item.value !== 'string') {
        this.#error(item ?? e.value, key, `must be a preset name or the path of a YAML file, as a string, not ${describe(item)}`);
        return;
      }
      const name = item.value;
      if (name.trim() === '') {
        this.#error(item, key, 'is empty; give a preset name such as sshd, or the path of a YAML file');
        return;
      }
      const first = seen.get(name);
      if (first !== undefined) {
        this.#error(item, key, `'${name}' is already included as ${e.path}[${first}]; list it once`);
        return;
      }
      seen.set(name, i);
      let file: string;
      const preset = PRESET_NAME_RE.test(name);
      if (preset) {
        file = path.join(PRESET_DIR, `${name}.yml`);
        if (!existsSync(file)) {
          const shipped = shippedPresets();
          const near = suggest(name, shipped);
          this.#error(
            item,
            key,
            `there is no shipped preset named '${name}'${near !== undefined ? `; did you mean '${near}'?` : ''}; the shipped presets are ${shipped.length ? shipped.join(', ') : `(none found in ${PRESET_DIR})`}. To include a file of your own, give its path, such as ./${name}.yml`,
          );
          return;
        }
      } else {
        file = path.resolve(path.dirname(this.#file), name);
      }
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why =
          code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
        let hint = '';
        if (code === 'ENOENT' && !path.isAbsolute(name)) hint = ` (a relative path is taken from the folder of ${this.#file})`;
        if (code === 'ENOENT' && shippedPresets().includes(name.toLowerCase())) hint = `; the shipped preset is spelled '${name.toLowerCase()}'`;
        this.#error(item, key, `cannot read the included file ${file}: ${why}${hint}`);
        return;
      }
      const text = decodeUtf8(bytes);
      if (text === undefined) {
        this.#error(item, key, `the included file ${file} is not valid UTF-8 text; save it as UTF-8`);
        return;
      }
      const res = (preset ? presetCache.get(name, text, file) : undefined) ?? new Loader(text, file, this.#overrides, name).runIncluded();
      if (!this.#files.includes(file)) this.#files.push(file);
      this.#problems.push(...res.problems);
      out.push({ label: name, goodpatterns: res.goodpatterns, sessionpatterns: res.sessionpatterns, blocktypes: res.blocktypes, item, key, loaded: !res.problems.some((p) => p.severity === 'error') });
    });
    return out;
  }

  /** The top level of an included file: goodpatterns and blocktypes only. */
  #includedTop(): { goodpatterns: Rule[]; sessionpatterns: Rule[]; blocktypes: BlocktypePart[] } | undefined {
    const top = this.#deref(this.#doc.contents);
    if (isBlank(top)) {
      this.#add(0, '', 'the included file is empty; it needs goodpatterns: or blocktypes:');
      return undefined;
    }
    if (!isMap(top)) {
      this.#error(top, '', `the top level must be a map (goodpatterns:, blocktypes:), not ${describe(top)}`);
      return undefined;
    }
    const entries = this.#entries(top, '');
    for (const [name, e] of entries) {
      if (INCLUDED_KEYS.includes(name)) continue;
      if (name === 'include') {
        this.#error(e.key, e.path, 'an included file cannot include others; list every preset in the include: of the config itself');
      } else if (TOP_KEYS.includes(name)) {
        this.#error(e.key, e.path, `cannot be set in an included file, which holds only goodpatterns, sessionpatterns and blocktypes; set it in the config that includes this file`);
      } else {
        this.#unknownKey(e, name, '', INCLUDED_KEYS, BT_KEYS);
      }
    }
    // What an admin must know before relying on this file: said as a warning wherever it is included
    // (banban check, and the daemon's start), with this file's name and line.
    const caveat = entries.get('caveat');
    if (caveat !== undefined) {
      const text = this.#string(caveat, 'a sentence on what the admin must know');
      if (text !== undefined) this.#warn(caveat.value, caveat.path, text);
    }
    const goodpatterns = this.#patterns(entries.get('goodpatterns'), 'goodpatterns');
    const sessionpatterns = this.#patterns(entries.get('sessionpatterns'), 'sessionpatterns');
    const bt = entries.get('blocktypes');
    const blocktypes = bt === undefined ? [] : this.#blocktypeParts(bt, () => true);
    return { goodpatterns, sessionpatterns, blocktypes };
  }

  #target(e: Entry | undefined): string {
    if (e === undefined) return DEFAULTS.target;
    const v = e.value;
    // A plain `target: 2024` is a YAML number but a fine list name: take it as written.
    const s = isScalar(v) && typeof v.value === 'number' && v.type === 'PLAIN' ? this.#scalarText(v) : this.#string(e, 'an xt_recent list name such as BLOCKER');
    if (s === undefined) return DEFAULTS.target;
    if (!TARGET_NAME_RE.test(s)) {
      this.#error(v, e.path, `'${s}' is not a usable xt_recent list name: use 1 to 199 letters, digits, '_', '.' or '-', not starting with '.' or '-'`);
    }
    return s;
  }

  #interval(e: Entry | undefined): number {
    return this.#seconds(e, DEFAULTS.interval, MAX_INTERVAL);
  }

  #seconds(e: Entry | undefined, fallback: number, max: number): number {
    if (e === undefined) return fallback;
    const want = `a number of seconds greater than 0 and at most ${max} (${Math.round(max / 86400)} days)`;
    const n = this.#number(e, want);
    if (n === undefined) return fallback;
    if (!(n > 0 && n <= max)) {
      this.#error(e.value, e.path, `must be ${want}, not ${n}`);
    }
    return n;
  }

  #boolean(e: Entry | undefined, otherwise: boolean): boolean {
    if (e === undefined) return otherwise;
    const v = e.value;
    if (isScalar(v)) {
      if (typeof v.value === 'boolean') return v.value;
      // Perl configs write 1 and 0.
      if (v.value === 1 || v.value === 0) return v.value === 1;
    }
    let why = '';
    if (isScalar(v) && typeof v.value === 'string') {
      if (/^(?:true|false|[01])$/i.test(v.value.trim())) why = '; remove the quotes';
      else if (/^(?:yes|no|on|off|y|n)$/i.test(v.value.trim())) why = `; '${v.value}' is a string in YAML 1.2 (and Perl banban took any non-empty string but '0' as true)`;
    }
    this.#error(v ?? e.key, e.path, `must be true or false (or 1 or 0), not ${describe(v)}${why}`);
    return otherwise;
  }

  /**
   * A list of patterns compiled into Rules. `required`: absent or empty is
   * an error (a blocktype's patterns), else fine (goodpatterns). `allowPid`:
   * a pattern may capture `pid` instead of `ip` (a blocktype's). `perProcess`:
   * the rules count once per connection of a process (endpatterns).
   */
  #patterns(e: Entry | undefined, key: string, { required = false, allowPid = false, perProcess = false }: { required?: boolean; allowPid?: boolean; perProcess?: boolean } = {}): Rule[] {
    const rules: Rule[] = [];
    if (e === undefined) return rules;
    const items = this.#list(e, 'a list of regular expressions, one per "- " line');
    if (items === undefined) return rules;
    if (items.length === 0 && required) {
      this.#error(e.value ?? e.key, key, 'is empty; a blocktype needs at least one pattern');
      return rules;
    }
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const where = `${key}[${i}]`;
      if (!isScalar(item) || typeof item.value !== 'string') {
        this.#error(item ?? e.value, where, `must be a regular expression as a string, not ${describe(item)}; quote it`);
        return;
      }
      // A rule from an included file says which: `sshd:blocktypes.sshd.patterns[3]`.
      const res = compileRule(item.value, this.#label === undefined ? where : `${this.#label}:${where}`, { allowPid, perProcess });
      if (!res.ok) {
        this.#add(this.#offsetIn(item, res.index), where, res.reason);
        return;
      }
      for (const w of res.warnings) this.#warn(item, where, w);
      const first = seen.get(item.value);
      if (first !== undefined) {
        this.#warn(item, where, `is the same pattern as ${key}[${first}]; remove one`);
      } else {
        seen.set(item.value, i);
      }
      rules.push(res.rule);
    });
    return rules;
  }

  // ---- value helpers ---------------------------------------------------

  /** The items of a list value; null/empty value gives []. Reports and returns undefined for non-lists. */
  #list(e: Entry, what: string): (YamlNode | null)[] | undefined {
    const v = e.value;
    if (isBlank(v)) return [];
    if (!isSeq(v)) {
      const hint = isScalar(v) ? "; write each entry on its own line starting with '- '" : '';
      this.#error(v, e.path, `must be ${what}, not ${describe(v)}${hint}`);
      return undefined;
    }
    return (v.items as (YamlNode | null)[]).map((item) => this.#deref(item));
  }

  #string(e: Entry, what: string): string | undefined {
    const v = e.value;
    if (isScalar(v) && typeof v.value === 'string') return v.value;
    if (isBlank(v)) {
      this.#error(e.key, e.path, `has no value; give ${what}, or remove the key to use the default`);
    } else {
      this.#error(v, e.path, `must be ${what}, not ${describe(v)}`);
    }
    return undefined;
  }

  /**
   * A YAML number. A quoted number (`minocc: "3"`) is refused rather than
   * converted: the rest of the file is typed, and accepting strings here would
   * hide a value that was meant to be something else.
   */
  #number(e: Entry, want = 'a number'): number | undefined {
    const v = e.value;
    if (isScalar(v) && typeof v.value === 'number') {
      if (Number.isNaN(v.value)) {
        this.#error(v, e.path, `must be ${want}, not .nan`);
        return undefined;
      }
      return v.value;
    }
    if (isScalar(v) && typeof v.value === 'string') {
      const t = v.value.trim();
      if (/^[0-9]+(?:_[0-9]+)+$/.test(t) && v.type === 'PLAIN') {
        this.#error(v, e.path, `YAML numbers cannot contain '_'; write ${t.replace(/_/g, '')}`);
        return undefined;
      }
      if (t !== '' && Number.isFinite(Number(t))) {
        this.#error(v, e.path, `must be ${want}, not the string '${v.value}'; write ${t} without quotes`);
        return undefined;
      }
    }
    if (isBlank(v)) {
      this.#error(e.key, e.path, `has no value; give ${want}, or remove the key to use the default`);
      return undefined;
    }
    this.#error(v, e.path, `must be ${want}, not ${describe(v)}`);
    return undefined;
  }

  #integer(e: Entry | undefined, min: number, max: number, dflt: number): number {
    if (e === undefined) return dflt;
    const want = `a whole number from ${min} to ${max}`;
    const n = this.#number(e, want);
    if (n === undefined) return dflt;
    if (!Number.isInteger(n) || n < min || n > max) {
      this.#error(e.value, e.path, `must be ${want}, not ${n}`);
      return dflt;
    }
    return n;
  }

  // ---- node helpers ----------------------------------------------------

  #deref(node: YamlNode | null | undefined): YamlNode | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return (node.resolve(this.#doc) as YamlNode | undefined) ?? null;
    return node;
  }

  /** A scalar key or value as written: the source text for plain non-strings (`2024`, `true`), else the string. */
  #scalarText(s: Scalar): string | undefined {
    if (typeof s.value === 'string') return s.value;
    if (s.value === null && s.type !== 'PLAIN') return undefined;
    if (s.range !== undefined && s.range !== null) {
      const raw = this.#text.slice(s.range[0], s.range[1]).trim();
      if (raw !== '') return raw;
    }
    return s.value === null ? undefined : String(s.value);
  }

  #lineOf(node: YamlNode | null): number {
    const at = node?.range?.[0];
    return at === undefined ? 0 : this.#lc.linePos(at).line;
  }

  /**
   * Where character `index` of a pattern sits in the file. Only possible when
   * the scalar's text equals its value (plain, or quoted without escapes, on
   * one line); otherwise the start of the scalar.
   */
  #offsetIn(item: Scalar, index: number | undefined): number | undefined {
    const range = item.range;
    if (range === undefined || range === null) return undefined;
    if (index === undefined) return range[0];
    const raw = this.#text.slice(range[0], range[1]);
    const value = item.value as string;
    if (raw.includes('\n')) return range[0];
    if (item.type === 'PLAIN' && raw === value) return range[0] + index;
    if ((item.type === 'QUOTE_SINGLE' || item.type === 'QUOTE_DOUBLE') && raw.slice(1, -1) === value) return range[0] + 1 + index;
    return range[0];
  }
}

/** `own`'s keys laid over `base`'s; `patterns` and `endpatterns` each replace the list whole. */
function overlay(base: BlocktypePart, own: BlocktypePart): BlocktypePart {
  return {
    ...base,
    ...(own.target !== undefined && { target: own.target }),
    ...(own.minocc !== undefined && { minocc: own.minocc }),
    ...(own.interval !== undefined && { interval: own.interval }),
    ...(own.resetconns !== undefined && { resetconns: own.resetconns }),
    ...(own.deferTo !== undefined && { deferTo: own.deferTo }),
    ...(own.bantime !== undefined && { bantime: own.bantime }),
    ...(own.patterns !== undefined && { patterns: own.patterns }),
    ...(own.endpatterns !== undefined && { endpatterns: own.endpatterns }),
  };
}

function withDefaults(p: BlocktypePart): Blocktype {
  return {
    name: p.name,
    target: p.target ?? DEFAULTS.target,
    minocc: p.minocc ?? DEFAULTS.minocc,
    interval: p.interval ?? DEFAULTS.interval,
    resetconns: p.resetconns ?? DEFAULTS.resetconns,
    deferTo: p.deferTo ?? [],
    bantime: p.bantime ?? DEFAULTS.bantime,
    patterns: [...(p.patterns ?? []), ...(p.endpatterns ?? [])],
  };
}

interface Entry {
  key: YamlNode | null;
  value: YamlNode | null;
  /** key path: `blocktypes.ssh.minocc` */
  path: string;
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

function sortLine(p: ConfigProblem): number {
  return p.line === 0 ? Number.MAX_SAFE_INTEGER : p.line;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A value left empty: no node at all (`key:`), or a YAML null (`~`, `null`). */
function isBlank(node: YamlNode | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

/** A short description of a value for messages: "a list", "the number 3", "nothing". */
function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'nothing';
    if (typeof v === 'string') return `the string '${v.length > 60 ? `${v.slice(0, 60)}…` : v}'`;
    if (typeof v === 'number') return `the number ${v}`;
    if (typeof v === 'boolean') return `${v}`;
  }
  return 'this value';
}

/**
 * Where the first quoted value that runs to the end of the file opens
 * (yaml's own error is at the end), found in yaml's concrete syntax tree;
 * undefined when there is none.
 */
function unclosedQuote(text: string): number | undefined {
  let found: number | undefined;
  const walk = (x: unknown, depth: number): void => {
    if (found !== undefined || depth > 64 || x === null || typeof x !== 'object') return;
    if (Array.isArray(x)) {
      for (const y of x) walk(y, depth + 1);
      return;
    }
    const t = x as { type?: unknown; offset?: unknown; source?: unknown };
    if ((t.type === 'double-quoted-scalar' || t.type === 'single-quoted-scalar') && typeof t.source === 'string' && typeof t.offset === 'number') {
      const q = t.source[0]!;
      const body = t.source.trimEnd();
      if (body.length < 2 || !body.endsWith(q) || (q === '"' && /(?:^|[^\\])(?:\\\\)*\\"$/.test(body))) found = t.offset;
      return;
    }
    for (const v of Object.values(x)) walk(v, depth + 1);
  };
  try {
    for (const token of new Parser().parse(text)) walk(token, 0);
  } catch {
    return undefined;
  }
  return found;
}

function yamlMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return "the file holds more than one YAML document (a second '---'); banban reads one";
  // The usual cause is a regex in double quotes: YAML takes its backslashes first.
  if (code === 'BAD_DQ_ESCAPE') return `YAML syntax error: ${message}; write patterns in single quotes ('...'), where a backslash is just a backslash`;
  return `YAML syntax error: ${message}`;
}

/** The key text at `offset`, for yaml's duplicate-key errors, which do not name it. */
function keyTextAt(text: string, offset: number): string {
  const m = /^(?:"[^"\n]*"|'[^'\n]*'|[^:\n]*)/.exec(text.slice(offset));
  return (m?.[0] ?? '').trim().replace(/^["']|["']$/g, '');
}

/** Closest known key within a small edit distance, comparing case- and '-'/'_'-insensitively. */
function suggest(name: string, known: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/-/g, '_');
  const n = norm(name);
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = editDistance(n, norm(k));
    if (d < bestDist) {
      bestDist = d;
      best = k;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(n.length / 3)));
  return bestDist <= limit ? best : undefined;
}

/** Optimal string alignment distance (Levenshtein plus adjacent swaps, the commonest typo). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
