/**
 * The contract between banban and a kernel list backend.
 *
 * A `ListWriter` may assume:
 *   - every address it is given has passed lib/ip.ts `parseIp` (canonical
 *     text, IPv4-mapped already turned into IPv4), and every target passed
 *     config validation;
 *   - an unblock may come for an address it never blocked.
 * It must:
 *   - apply one command per call, synchronously, and throw (an errno error,
 *     `code` set) when the kernel refused or the list is missing, never
 *     swallow a failure: the enforcer keeps the ban and retries;
 *   - have no other side effect.
 */
export interface ListEntry {
  readonly ip: string;
  /** seconds since the kernel last saw it (a write counts), when known */
  readonly ageSeconds: number | undefined;
}

export interface ListWriter {
  /** `+`: add or refresh; `-`: remove (no error when absent) */
  write(target: string, op: '+' | '-', ip: string): void;
  /** the list's entries (with ages only when asked: it may be slow); throws ENOENT when the list does not exist */
  read(target: string, opts?: { ages?: boolean }): ListEntry[];
  /** names of the lists that exist */
  targets(): string[];
  /**
   * Something that changes when the list is destroyed and made again (not
   * its inode number, which the kernel gives back: xt-recent.ts), or
   * undefined when it does not exist. A new
   * identity means an empty list: every ban must be written again.
   */
  identity(target: string): number | undefined;
  /** lets go of what `identity` keeps open for lists other than `targets` (a reload dropped them) */
  keepOnly?(targets: readonly string[]): void;
  /** lets go of what `identity` keeps open (the daemon's stop) */
  close?(): void;
}
