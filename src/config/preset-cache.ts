/**
 * The shipped presets as the loader reads them, made once at build time
 * (`npm run build` writes dist/bin/presets.cache.json; load.ts,
 * writePresetCache), so that a start does not parse their YAML and vet
 * their patterns again, nor read each pattern for what the matcher needs
 * of it (Rule.literals: with every preset, 10-17 ms of `banban test` on
 * the bench corpus, most of it in the first lines).
 *
 * Why: with every preset included, reading the ten files took about 25 ms
 * of each start's ~145 (YAML parsing, cold, most of it), against ~12 ms
 * for a config of its own; `banban test`, `banban check`, every start and
 * every reload (SIGHUP) paid it, for services the host may not even run.
 *
 * The cache is only ever a faster way to the same answer:
 *   - an entry is used only when the file's text is, character for
 *     character, the text it was made from: a preset edited in place is
 *     read from its YAML again;
 *   - the whole cache is ignored when it was made by another format of
 *     this file or by another V8 (which pattern runs on the linear-time
 *     engine is V8's answer: match/regex-engine.ts);
 *   - a cache that is missing, unreadable or malformed is ignored, never an
 *     error: the loader reads the YAML as it would without one.
 * Paths are not kept: the package may be built in one place and run from
 * another, so the file name of each problem and blocktype is the one the
 * loader reads now. test/unit/preset-cache.test.ts holds every shipped
 * preset's cached form against the loader's own.
 */
import { readFileSync } from 'node:fs';
import { patternLiterals } from '../match/prefilter.js';
import type { BlocktypePart, IncludedPart } from './load.js';
import type { ConfigProblem } from './problems.js';
import type { Rule, RuleLiterals } from './schema.js';

/** bumped whenever what is kept changes (the build writes the cache with the code that reads it, so a change in what prefilter.ts answers is rewritten anyway) */
const FORMAT = 3;

interface CachedRule {
  source: string;
  /** the compiled expression's source and flags (compileRule rewrites a leading (?i) into the flag) */
  re: string;
  flags: string;
  where: string;
  byPid?: true;
  perProcess?: true;
  linear?: true;
  /** Rule.literals: what the matcher reads from the pattern (match/prefilter.ts), worked out at build time */
  literals: RuleLiterals;
}

interface CachedPart extends Omit<BlocktypePart, 'at' | 'patterns' | 'endpatterns'> {
  /** line of the blocktype's name */
  line: string;
  patterns?: CachedRule[];
  endpatterns?: CachedRule[];
}

type CachedProblem = Omit<ConfigProblem, 'file' | 'source'>;

interface CachedPreset {
  text: string;
  goodpatterns: CachedRule[];
  sessionpatterns: CachedRule[];
  blocktypes: CachedPart[];
  problems: CachedProblem[];
}

interface CacheFile {
  format: number;
  v8: string;
  presets: Record<string, CachedPreset>;
}

/** The cache's form of what the loader made of one preset (`file`: the path it read it from). */
export function cacheEntry(text: string, file: string, part: IncludedPart): CachedPreset {
  return {
    text,
    goodpatterns: part.goodpatterns.map(cachedRule),
    sessionpatterns: part.sessionpatterns.map(cachedRule),
    blocktypes: part.blocktypes.map(({ at, patterns, endpatterns, ...rest }) => {
      if (!at.startsWith(`${file}:`)) throw new Error(`blocktype ${rest.name} is placed at ${at}, not in ${file}`);
      return {
        ...rest,
        line: at.slice(file.length + 1),
        ...(patterns !== undefined ? { patterns: patterns.map(cachedRule) } : {}),
        ...(endpatterns !== undefined ? { endpatterns: endpatterns.map(cachedRule) } : {}),
      };
    }),
    problems: part.problems.map(({ file: _file, source: _source, ...rest }) => rest),
  };
}

/** The whole cache file's text, for these presets' entries. */
export function cacheText(presets: Record<string, CachedPreset>): string {
  const c: CacheFile = { format: FORMAT, v8: process.versions.v8, presets };
  return `${JSON.stringify(c)}\n`;
}

function cachedRule(r: Rule): CachedRule {
  return {
    source: r.source,
    re: r.regex.source,
    flags: r.regex.flags,
    where: r.where,
    ...(r.byPid ? { byPid: true } : {}),
    ...(r.perProcess ? { perProcess: true } : {}),
    ...(r.linear ? { linear: true } : {}),
    literals: patternLiterals(r.regex.source, r.regex.flags),
  };
}

/** One cache file, read the first time a preset is asked of it. */
export class PresetCache {
  readonly #file: string;
  #presets: Record<string, CachedPreset> | null | undefined;
  #hits = 0;

  constructor(file: string) {
    this.#file = file;
  }

  /** presets given from the cache so far (tests: that an installed build finds and uses it) */
  get hits(): number {
    return this.#hits;
  }

  /** What the loader would make of preset `name` read from `file` with this `text`, or undefined: read it. */
  get(name: string, text: string, file: string): IncludedPart | undefined {
    try {
      const entry = this.#entries()?.[name];
      if (entry === undefined || entry.text !== text) return undefined;
      const part: IncludedPart = {
        goodpatterns: entry.goodpatterns.map(rule),
        sessionpatterns: entry.sessionpatterns.map(rule),
        blocktypes: entry.blocktypes.map(({ line, patterns, endpatterns, ...rest }) => ({
          ...rest,
          at: `${file}:${line}`,
          ...(patterns !== undefined ? { patterns: patterns.map(rule) } : {}),
          ...(endpatterns !== undefined ? { endpatterns: endpatterns.map(rule) } : {}),
        })),
        problems: entry.problems.map((p) => ({ file, ...p, source: text })),
      };
      this.#hits++;
      return part;
    } catch {
      return undefined; // a malformed entry, or a pattern V8 will not compile: read the YAML
    }
  }

  #entries(): Record<string, CachedPreset> | null {
    if (this.#presets === undefined) {
      this.#presets = null;
      try {
        const c = JSON.parse(readFileSync(this.#file, 'utf8')) as Partial<CacheFile> | null;
        if (c !== null && typeof c === 'object' && c.format === FORMAT && c.v8 === process.versions.v8 && typeof c.presets === 'object' && c.presets !== null) {
          this.#presets = c.presets;
        }
      } catch {
        // none, or not ours: the presets are read from their YAML
      }
    }
    return this.#presets;
  }
}

function rule(c: CachedRule): Rule {
  if (typeof c.source !== 'string' || typeof c.re !== 'string' || typeof c.flags !== 'string' || typeof c.where !== 'string') throw new Error('malformed cached rule');
  return {
    source: c.source,
    regex: new RegExp(c.re, c.flags),
    where: c.where,
    ...(c.byPid === true ? { byPid: true as const } : {}),
    ...(c.perProcess === true ? { perProcess: true as const } : {}),
    ...(c.linear === true ? { linear: true as const } : {}),
    literals: literals(c.literals),
  };
}

/**
 * A cached rule's literals, checked for the shapes patternLiterals gives: non-empty texts and
 * lists, and `prefixes` that are `[prefix]` when there is a prefix. A damaged value would change
 * which lines a rule is asked, and so could silently switch it off: then the YAML is read.
 */
function literals(l: RuleLiterals | undefined): RuleLiterals {
  const text = (v: unknown) => v === undefined || (typeof v === 'string' && v.length > 0);
  const texts = (v: unknown) => v === undefined || (Array.isArray(v) && v.length > 0 && v.every((w) => typeof w === 'string' && w.length > 0));
  const ok =
    l !== null &&
    typeof l === 'object' &&
    text(l.prefix) &&
    texts(l.prefixes) &&
    texts(l.words) &&
    text(l.required) &&
    (l.prefix === undefined || (l.prefixes?.length === 1 && l.prefixes[0] === l.prefix));
  if (!ok) throw new Error('malformed cached literals');
  return l!;
}
