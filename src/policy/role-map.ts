/**
 * `STREAM_ROLE_MAP`: Clerk organization role → Stream user role.
 *
 *   STREAM_ROLE_MAP=org:admin=admin,org:moderator=moderator
 *
 * Entries are separated by commas, each `key=value`, whitespace around either
 * side ignored. Keys are Clerk organization roles; the `org:` prefix is added
 * when missing, so `admin=admin` means `org:admin=admin`. Values are Stream
 * role names (`^[a-z0-9_-]+$`). A role the map does not name becomes `user`.
 */

import { prefixOrgRole } from './clerk-org.js';

export type RoleMap = ReadonlyMap<string, string>;

export interface RoleMapParseResult {
  map: RoleMap;
  /** Human-readable problems; empty when the value is valid. The map holds only the valid entries. */
  problems: string[];
}

/** Stream's default role for every user. */
export const DEFAULT_STREAM_ROLE = 'user';

export const STREAM_ROLE_NAME = /^[a-z0-9_-]+$/;
export const MAX_ROLE_NAME_LENGTH = 64;

const ORG_ROLE_KEY = /^[A-Za-z0-9:_.-]+$/;

/** Channel-level roles in Stream: assigning one as a user's role grants nothing and hides a mistake. */
const CHANNEL_ROLES = new Set(['channel_member', 'channel_moderator']);

/** A problem with a Stream role name, or `null` when it is usable as a user role. */
export function streamRoleProblem(role: string): string | null {
  if (role.length === 0) return 'Stream role name is empty';
  if (role.length > MAX_ROLE_NAME_LENGTH) return `Stream role name is longer than ${MAX_ROLE_NAME_LENGTH} characters`;
  if (!STREAM_ROLE_NAME.test(role)) return `"${role}" is not a valid Stream role name (lowercase letters, digits, "_" and "-")`;
  if (CHANNEL_ROLES.has(role)) return `"${role}" is a channel role in Stream, not a user role`;
  return null;
}

/** Parse a `STREAM_ROLE_MAP` value. Never throws; problems are returned for the caller to report. */
export function parseRoleMap(input: string | undefined | null): RoleMapParseResult {
  const map = new Map<string, string>();
  const problems: string[] = [];
  if (input === undefined || input === null || input.trim() === '') return { map, problems };

  const entries = input.split(',');
  entries.forEach((raw, index) => {
    const position = `entry ${index + 1}`;
    const entry = raw.trim();
    if (entry === '') {
      problems.push(`${position} is empty (stray comma?)`);
      return;
    }
    const parts = entry.split('=');
    if (parts.length !== 2) {
      problems.push(`${position} "${entry}" must have the form key=value`);
      return;
    }
    const key = (parts[0] as string).trim();
    const value = (parts[1] as string).trim();
    if (key === '' || value === '') {
      problems.push(`${position} "${entry}" must have the form key=value (both sides non-empty)`);
      return;
    }
    if (key.length > MAX_ROLE_NAME_LENGTH + 4 || !ORG_ROLE_KEY.test(key)) {
      problems.push(`${position}: "${key}" is not a valid organization role (letters, digits, ":", "_", "-", ".")`);
      return;
    }
    const roleProblem = streamRoleProblem(value);
    if (roleProblem !== null) {
      problems.push(`${position}: ${roleProblem}`);
      return;
    }
    const orgRole = prefixOrgRole(key);
    if (map.has(orgRole)) {
      problems.push(`${position}: "${orgRole}" is mapped more than once`);
      return;
    }
    map.set(orgRole, value);
  });
  return { map, problems };
}

/** The Stream role for a Clerk organization role, or `undefined` when the map does not name it. */
export function mapOrgRole(map: RoleMap, orgRole: string | undefined): string | undefined {
  if (orgRole === undefined) return undefined;
  return map.get(orgRole);
}
