/** A validated policy document turned into what the token route evaluates on every request. */

import { compileClaimPath } from './claim-path.js';
import { normalizeClerkOrgClaims, type ClerkOrgClaims } from './clerk-org.js';
import type { ClaimScalar, PolicyDocument } from './policy-schema.js';
import { DEFAULT_STREAM_ROLE, type RoleMap } from './role-map.js';

/** What a rule sees: a token's claims, with Clerk's organization claims read once. */
export interface ClaimsView {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly org: ClerkOrgClaims | null;
}

export function claimsView(claims: Readonly<Record<string, unknown>>): ClaimsView {
  return { claims, org: normalizeClerkOrgClaims(claims) };
}

export type ClaimResolver = (view: ClaimsView) => unknown;

/**
 * `org_id`, `org_role` and `org_slug` read Clerk's normalized active
 * organization, so they work the same for session tokens v1 and v2. Any
 * other path reads the claims as they are.
 */
export function compileResolver(path: string): ClaimResolver {
  switch (path) {
    case 'org_id':
      return (view) => view.org?.orgId ?? view.claims.org_id;
    case 'org_role':
      return (view) => view.org?.orgRole ?? view.claims.org_role;
    case 'org_slug':
      return (view) => view.org?.orgSlug ?? view.claims.org_slug;
    default: {
      const compiled = compileClaimPath(path);
      return (view) => compiled.resolve(view.claims);
    }
  }
}

export type CompiledRoleRule =
  | {
      readonly kind: 'map';
      readonly claim: string;
      readonly resolve: ClaimResolver;
      readonly entries: readonly (readonly [string, string])[];
      readonly lookup: ReadonlyMap<string, string>;
    }
  | { readonly kind: 'equals'; readonly claim: string; readonly resolve: ClaimResolver; readonly equals: ClaimScalar; readonly role: string };

export interface CompiledClaimRequirement {
  readonly claim: string;
  readonly resolve: ClaimResolver;
  /** Accepted values; the claim must equal one of them. */
  readonly accepted: readonly ClaimScalar[];
}

export interface CompiledTeams {
  readonly from: string;
  readonly resolve: ClaimResolver;
  readonly prefix: string;
}

/** A policy ready for {@link evaluateAccess}: paths parsed, lists turned into sets. Immutable. */
export interface CompiledPolicy {
  readonly roleRules: readonly CompiledRoleRule[];
  readonly roleMap: RoleMap;
  readonly defaultRole: string;
  /** `null` when the policy assigns no teams (Stream multi-tenancy unused). */
  readonly teams: CompiledTeams | null;
  readonly requireClaims: readonly CompiledClaimRequirement[];
  /** `null` when any organization (or none) is allowed. Holds ids and slugs. */
  readonly requireOrganizations: ReadonlySet<string> | null;
  readonly denyUsers: ReadonlySet<string>;
}

export interface CompilePolicyOptions {
  /** The validated `POLICY_FILE` document; absent when there is no policy file. */
  document?: PolicyDocument;
  /** The parsed `STREAM_ROLE_MAP`. */
  roleMap?: RoleMap;
}

/** Build the immutable policy the token route evaluates on every request. */
export function compilePolicy(options: CompilePolicyOptions = {}): CompiledPolicy {
  const document = options.document ?? {};
  const roleRules: CompiledRoleRule[] = (document.role ?? []).map((rule) => {
    const resolve = compileResolver(rule.claim);
    if (rule.map !== undefined) {
      const entries = Object.entries(rule.map).map(([k, v]) => [k, v] as const);
      return { kind: 'map', claim: rule.claim, resolve, entries, lookup: new Map(entries) };
    }
    return { kind: 'equals', claim: rule.claim, resolve, equals: rule.equals ?? null, role: rule.role ?? DEFAULT_STREAM_ROLE };
  });
  const requireClaims: CompiledClaimRequirement[] = Object.entries(document.allow?.require_claims ?? {}).map(([claim, expected]) => ({
    claim,
    resolve: compileResolver(claim),
    accepted: Array.isArray(expected) ? expected : [expected],
  }));
  const orgs = document.allow?.require_organizations;
  const policy: CompiledPolicy = {
    roleRules,
    roleMap: new Map(options.roleMap ?? []),
    defaultRole: document.default_role ?? DEFAULT_STREAM_ROLE,
    teams: document.teams ? { from: document.teams.from, resolve: compileResolver(document.teams.from), prefix: document.teams.prefix ?? '' } : null,
    requireClaims,
    requireOrganizations: orgs ? new Set(orgs) : null,
    denyUsers: new Set(document.deny?.deny_users ?? []),
  };
  return Object.freeze(policy);
}
