/**
 * Active bans as columns: what the periodic save takes from the enforcer
 * (Enforcer.live) and posts to its thread, and reads back there. Pure, and
 * small on purpose: the saving thread loads this, not the enforcer.
 */
import type { ActiveBan } from './enforcer.js';

/**
 * Active bans in columns (BansPacker): the i-th ban's address
 * is the i-th line of `ips`, its target and blocktype are `names` at
 * `target[i]` and `blocktype[i]`. Plain data whose arrays are its own: it
 * can be posted to a thread, the arrays' buffers transferred.
 */
export interface BansSnapshot {
  readonly count: number;
  readonly ips: string;
  readonly names: readonly string[];
  readonly target: Uint16Array;
  readonly blocktype: Uint16Array;
  readonly at: Float64Array;
  readonly until: Float64Array;
}

/**
 * Puts bans in columns (BansSnapshot), one at a time: the periodic save
 * takes them from Enforcer.live a slice at a time, so that tens of
 * thousands (0.5-1 µs each here, for code run once a minute: 5-10 ms for
 * 10 000 at once) never hold up a datagram, and posts the columns to its
 * thread, which sorts them: those bans as objects took 12-22 ms to post.
 */
export class BansPacker {
  readonly #target: Uint16Array;
  readonly #blocktype: Uint16Array;
  readonly #at: Float64Array;
  readonly #until: Float64Array;
  readonly #ips: string[] = [];
  readonly #names: string[] = [];
  readonly #nameIds = new Map<string, number>();

  /** `most`: the arrays' size; no more bans than that are taken */
  constructor(readonly most: number) {
    this.#target = new Uint16Array(most);
    this.#blocktype = new Uint16Array(most);
    this.#at = new Float64Array(most);
    this.#until = new Float64Array(most);
  }

  /** false once `most` bans are in: this one is not */
  add(b: ActiveBan): boolean {
    const i = this.#ips.length;
    if (i === this.most) return false;
    this.#ips.push(b.ip);
    this.#target[i] = this.#id(b.target);
    this.#blocktype[i] = this.#id(b.blocktype);
    this.#at[i] = b.at;
    this.#until[i] = b.until;
    return true;
  }

  finish(): BansSnapshot {
    return { count: this.#ips.length, ips: this.#ips.join('\n'), names: this.#names, target: this.#target, blocktype: this.#blocktype, at: this.#at, until: this.#until };
  }

  #id(name: string): number {
    let i = this.#nameIds.get(name);
    if (i === undefined) this.#nameIds.set(name, (i = this.#names.push(name) - 1));
    return i;
  }
}

/** Bans in columns at once (BansPacker). */
export function packBans(bans: Iterable<ActiveBan>, most: number): BansSnapshot {
  const p = new BansPacker(most);
  for (const b of bans) if (!p.add(b)) break;
  return p.finish();
}

/** A BansSnapshot's bans, oldest first, as the state file has them. */
export function snapshotBans(s: BansSnapshot): ActiveBan[] {
  const ips = s.count === 0 ? [] : s.ips.split('\n');
  const out: ActiveBan[] = [];
  for (let i = 0; i < s.count; i++) out.push({ ip: ips[i]!, target: s.names[s.target[i]!]!, blocktype: s.names[s.blocktype[i]!]!, at: s.at[i]!, until: s.until[i]! });
  return out.sort((a, b) => a.at - b.at);
}

/** The buffers of a BansSnapshot's arrays, to transfer it to a thread. */
export function bansSnapshotBuffers(s: BansSnapshot): ArrayBuffer[] {
  return [s.target, s.blocktype, s.at, s.until].map((a) => a.buffer as ArrayBuffer);
}
