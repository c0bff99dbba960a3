/**
 * Clerk's active-organization claims, read the same way from both session
 * token versions:
 *
 *   v1: `{ org_id: "org_1", org_role: "org:admin", org_slug: "acme" }`
 *   v2: `{ v: 2, o: { id: "org_1", rol: "admin", slg: "acme" } }`
 *
 * Both give `{ orgId: "org_1", orgRole: "org:admin", orgSlug: "acme" }`. A role
 * gets the `org:` prefix unless it already has one (v2 tokens drop it; v1
 * tokens from older instances may carry bare `admin` / `basic_member`).
 */

import { isRecord } from '../shared/is-record.js';

export interface ClerkOrgClaims {
  orgId: string;
  /** Always `org:`-prefixed. Absent when the token has none. */
  orgRole?: string;
  orgSlug?: string;
}

const MAX_ORG_FIELD_LENGTH = 256;

function str(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed.length > 0 && trimmed.length <= MAX_ORG_FIELD_LENGTH ? trimmed : undefined;
}

/** Prefix a Clerk organization role with `org:` unless it already has it. */
export function prefixOrgRole(role: string): string {
  return role.startsWith('org:') ? role : `org:${role}`;
}

/**
 * The active organization in a Clerk session token, or `null` when the
 * session has none. A v2 token (`v: 2`, or an `o` object) is read from `o`;
 * otherwise the v1 `org_*` claims are read.
 */
export function normalizeClerkOrgClaims(claims: Readonly<Record<string, unknown>>): ClerkOrgClaims | null {
  const o = claims.o;
  if (claims.v === 2 || isRecord(o)) {
    if (!isRecord(o)) return null;
    const orgId = str(o.id);
    if (orgId === undefined) return null;
    const result: ClerkOrgClaims = { orgId };
    const rol = str(o.rol);
    if (rol !== undefined) result.orgRole = prefixOrgRole(rol);
    const slg = str(o.slg);
    if (slg !== undefined) result.orgSlug = slg;
    return result;
  }
  const orgId = str(claims.org_id);
  if (orgId === undefined) return null;
  const result: ClerkOrgClaims = { orgId };
  const role = str(claims.org_role);
  if (role !== undefined) result.orgRole = prefixOrgRole(role);
  const slug = str(claims.org_slug);
  if (slug !== undefined) result.orgSlug = slug;
  return result;
}
