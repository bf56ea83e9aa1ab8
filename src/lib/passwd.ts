/**
 * User and group names to numeric ids, for chown(2) of the socket file.
 *
 * Node has no getpwnam(3), so the names are looked up in /etc/passwd and
 * /etc/group directly. Users known only through NSS (LDAP, sssd, systemd
 * DynamicUser) are therefore not found by name; a numeric id always works.
 * The file text can be passed in, so tests do not depend on the host.
 */
import { readFileSync } from 'node:fs';

/** Highest id chown accepts: (uid_t)-1 means "leave unchanged", so it is not a usable id. */
export const MAX_ID = 2 ** 32 - 2;

export const PASSWD_FILE = '/etc/passwd';
export const GROUP_FILE = '/etc/group';

/** A valid uid/gid, or undefined. */
export function validId(n: number): number | undefined {
  return Number.isInteger(n) && n >= 0 && n <= MAX_ID ? n : undefined;
}

/**
 * A uid for a user name or id. Numbers are returned as is when in range. A
 * string is looked up as a name first (a name may be all digits) and, if no
 * such user exists, taken as a decimal id, as chown(1) does.
 */
export function resolveUser(nameOrId: string | number, passwdText?: string): number | undefined {
  return resolve(nameOrId, passwdText ?? readOrEmpty(PASSWD_FILE));
}

/** A gid for a group name or id; see resolveUser. */
export function resolveGroup(nameOrId: string | number, groupText?: string): number | undefined {
  return resolve(nameOrId, groupText ?? readOrEmpty(GROUP_FILE));
}

function resolve(nameOrId: string | number, text: string): number | undefined {
  if (typeof nameOrId === 'number') return validId(nameOrId);
  if (nameOrId === '') return undefined;
  const byName = lookup(nameOrId, text);
  if (byName !== undefined) return byName;
  // Leading zeros and signs are refused: "0100" is more likely a typo than uid 100.
  if (/^(?:0|[1-9][0-9]{0,9})$/.test(nameOrId)) return validId(Number(nameOrId));
  return undefined;
}

/**
 * The id (third field) of the entry named `name` in passwd(5)/group(5) text.
 * Both formats are `name:password:id:...`. NIS compat lines (`+name`,
 * `-name`) and comments are skipped: they are not local entries.
 */
function lookup(name: string, text: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const fields = line.split(':');
    if (fields.length < 3 || fields[0] !== name) continue;
    const id = fields[2]!.trim();
    if (!/^[0-9]{1,10}$/.test(id)) continue;
    return validId(Number(id));
  }
  return undefined;
}

/** A missing or unreadable database just means "no such name"; the caller's message says what to do. */
function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
