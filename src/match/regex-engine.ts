/**
 * V8's two regex engines, and how banban uses them.
 *
 * Patterns come from admins, the text they run on from attackers. V8's
 * default engine backtracks, so a pattern with nested quantifiers can take
 * exponential time on a crafted line. V8 also has a linear-time engine (no
 * lookaround, no backreferences, counted repeats up to about 16). With
 * `--enable-experimental-regexp-engine-on-excessive-backtracks`, a match that
 * backtracks too much is re-run on the linear engine, for any pattern the
 * linear engine can run. `--enable-experimental-regexp-engine` lets us ask,
 * with the `l` flag, whether a pattern is one of those (and rule-list.ts
 * counts a joined expression's groups with it: it compiles faster).
 *
 * V8 reads these flags when a regex is compiled, so they are set when this
 * module is first imported, before any pattern is compiled.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
setFlagsFromString('--enable-experimental-regexp-engine');

/** true: the linear engine can run it (so a crafted line cannot stall us); false: it cannot; undefined: cannot tell */
export function runsInLinearTime(body: string, flags: string): boolean | undefined {
  try {
    new RegExp(body, `${flags}l`);
    return true;
  } catch (e) {
    return /linear time/i.test((e as Error).message) ? false : undefined;
  }
}
