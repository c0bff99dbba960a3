/**
 * Claims as a session token would carry them, rebuilt from the Clerk objects
 * a webhook delivers, so the same policy decides role, teams and profile.
 *
 * What a webhook can show is less than a session token: no active
 * organization (a user object lists every membership, or none), and custom
 * session claims are unknown. The rebuilt claims are:
 *
 *   sub, first_name, last_name, username, image_url, external_id,
 *   email, email_verified            (primary email address)
 *   public_metadata, metadata        (both the user's public metadata; `metadata`
 *                                     is the name commonly given to it in a
 *                                     custom session token)
 *   org_id, org_role, org_slug       (one view per organization membership)
 */

import { claimsView, type ClaimsView } from './policy-compile.js';
import { isRecord } from '../shared/is-record.js';

/** The parts of Clerk's `UserJSON` this service reads. Everything optional: payloads are checked, not trusted. */
export interface ClerkUserPayload {
  id: string;
  first_name?: string | null;
  last_name?: string | null;
  username?: string | null;
  image_url?: string | null;
  external_id?: string | null;
  primary_email_address_id?: string | null;
  email_addresses?: Array<{ id?: string; email_address?: string; verification?: { status?: string } | null }> | null;
  public_metadata?: Record<string, unknown> | null;
  organization_memberships?: ClerkMembershipPayload[] | null;
}

/** The parts of Clerk's `OrganizationMembershipJSON` this service reads. */
export interface ClerkMembershipPayload {
  role?: string | null;
  organization?: { id?: string; slug?: string | null } | null;
  public_user_data?: { user_id?: string } | null;
}

function setString(out: Record<string, unknown>, key: string, value: unknown): void {
  if (typeof value === 'string' && value.length > 0) out[key] = value;
}

/** Session-token-like claims for a Clerk user object, without organization claims. */
export function claimsFromClerkUser(user: ClerkUserPayload): Record<string, unknown> {
  const claims: Record<string, unknown> = { sub: user.id };
  setString(claims, 'first_name', user.first_name);
  setString(claims, 'last_name', user.last_name);
  setString(claims, 'username', user.username);
  setString(claims, 'image_url', user.image_url);
  setString(claims, 'external_id', user.external_id);
  if (Array.isArray(user.email_addresses)) {
    const primary = user.email_addresses.find((e) => isRecord(e) && e.id === user.primary_email_address_id) ?? user.email_addresses[0];
    if (isRecord(primary) && typeof primary.email_address === 'string') {
      claims.email = primary.email_address;
      claims.email_verified = primary.verification?.status === 'verified';
    }
  }
  if (isRecord(user.public_metadata)) {
    claims.public_metadata = user.public_metadata;
    claims.metadata = user.public_metadata;
  }
  return claims;
}

/** Organization claims (v1 shape) for one membership, or `null` without an organization id. */
export function orgClaimsFromMembership(membership: ClerkMembershipPayload): Record<string, unknown> | null {
  const org = membership.organization;
  if (!isRecord(org) || typeof org.id !== 'string' || org.id.length === 0) return null;
  const claims: Record<string, unknown> = { org_id: org.id };
  setString(claims, 'org_role', membership.role);
  setString(claims, 'org_slug', org.slug);
  return claims;
}

/** One view per organization membership listed on the user, or a single view without an organization. */
export function viewsFromClerkUser(user: ClerkUserPayload): ClaimsView[] {
  const base = claimsFromClerkUser(user);
  const views: ClaimsView[] = [];
  if (Array.isArray(user.organization_memberships)) {
    for (const membership of user.organization_memberships) {
      if (!isRecord(membership)) continue;
      const org = orgClaimsFromMembership(membership);
      if (org !== null) views.push(claimsView({ ...base, ...org }));
    }
  }
  if (views.length === 0) views.push(claimsView(base));
  return views;
}
