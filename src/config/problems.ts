/**
 * What is wrong with a config file, and where.
 *
 * The loader collects every problem before giving up, so an admin fixes a
 * file in one pass instead of one error per restart. Each problem carries the
 * key path and line:col so editors and humans can jump to it; the format is
 * the compiler-style `FILE:LINE:COL: error: ...` that editors already parse.
 */
export interface ConfigProblem {
  readonly file: string;
  /** 1-based; 0 when unknown (e.g. the file could not be read) */
  readonly line: number;
  /** 1-based; 0 when unknown */
  readonly col: number;
  /** key path such as `blocktypes.ssh.minocc` or `goodpatterns[1]`; '' for the file as a whole */
  readonly key: string;
  readonly message: string;
  readonly severity: 'error' | 'warning';
  /**
   * The whole text of the file, when it was read, so the problem can be
   * printed with its source line (`formatProblem(p, p.source)`) after the
   * file is gone. All problems of one file share the one string.
   */
  readonly source?: string;
}

/**
 * The config cannot be used. `problems` holds every error found (and any
 * warnings found alongside, marked as such), in file order. The message is
 * only a summary; print the problems for the details.
 *
 * Deliberately not an ExitError: callers catch ExitError generically and
 * print only its message, which would hide the problems.
 */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(file: string, problems: readonly ConfigProblem[]) {
    super(summarise(file, problems));
    this.name = 'ConfigError';
    this.problems = problems;
  }

  /** every problem with its source excerpt, one after another */
  format(): string {
    return this.problems.map((p) => formatProblem(p, p.source)).join('\n');
  }
}

function summarise(file: string, problems: readonly ConfigProblem[]): string {
  const errors = problems.filter((p) => p.severity === 'error').length;
  const warnings = problems.length - errors;
  let s = `${file}: ${errors} ${errors === 1 ? 'error' : 'errors'}`;
  if (warnings > 0) s += `, ${warnings} ${warnings === 1 ? 'warning' : 'warnings'}`;
  return s;
}

/** Longest excerpt shown; longer lines are cut around the column, as eemeli/yaml does. */
const MAX_EXCERPT = 80;

/**
 * `FILE:LINE:COL: error: KEY: message`, then (when the text is given and the
 * line known) the source line and a caret under the column. Parts that are
 * unknown (line 0, empty key) are left out rather than printed as zeros.
 */
export function formatProblem(p: ConfigProblem, sourceText?: string): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col > 0 ? `${p.col}:` : ''}` : `${p.file}:`;
  const key = p.key !== '' ? `${p.key}: ` : '';
  let out = `${where} ${p.severity}: ${key}${p.message}`;
  if (sourceText === undefined || p.line <= 0) return out;
  const lineText = sourceText.split(/\r?\n/)[p.line - 1];
  if (lineText === undefined || lineText.trim() === '') return out;

  let text = lineText;
  let col = Math.max(1, Math.min(p.col, text.length + 1));
  if (text.length > MAX_EXCERPT) {
    // Keep the column in view: cut the start when it is far right, then the end.
    if (col > 60) {
      const cut = Math.min(col - 40, text.length - MAX_EXCERPT + 1);
      text = `…${text.slice(cut)}`;
      col = col - cut + 1;
    }
    if (text.length > MAX_EXCERPT) text = `${text.slice(0, MAX_EXCERPT - 1)}…`;
  }
  // Tabs stay tabs under the caret so it lines up whatever the tab width.
  const pad = text.slice(0, col - 1).replace(/[^\t]/g, ' ');
  out += `\n${text}\n${pad}^`;
  return out;
}
