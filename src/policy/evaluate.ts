/**
 * The access decision made on every token request. Pure and synchronous: no
 * I/O, no clock, no parsing (claim paths were compiled by `compilePolicy`).
 *
 * Order:
 *   1. `deny.deny_users`            → denied
 *   2. `allow.require_organizations` → the active organization (id or slug) must be listed
 *   3. `allow.require_claims`       → every listed claim must equal (one of) its value(s)
 *   4. role: `role` rules in order (first match wins), then `STREAM_ROLE_MAP`
 *      on the organization role, then `default_role` (`user`)
 *   5. teams: `teams.from`, prefixed
 */

import { claimsView, type ClaimsView, type CompiledPolicy, type CompiledRoleRule } from './policy-compile.js';
import type { ClaimScalar } from './policy-schema.js';

/** Most teams a user gets, and the longest team name kept; more or longer ones are dropped. */
export const MAX_TEAMS = 100;
export const MAX_TEAM_NAME_LENGTH = 100;

export interface AccessInput {
  userId: string;
  claims: Readonly<Record<string, unknown>>;
}

/** Which rule refused access; stable, for logs and metrics. */
export type DenyRule = 'deny_users' | 'require_organizations' | 'require_claims';

export type AccessDecision = { allowed: true; role: string; teams: string[] } | { allowed: false; reason: string; rule: DenyRule };

export interface Privileges {
  role: string;
  teams: string[];
}

function scalarKey(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return undefined;
}

function matchRule(rule: CompiledRoleRule, view: ClaimsView): string | undefined {
  const value = rule.resolve(view);
  if (value === undefined) return undefined;
  if (rule.kind === 'map') {
    if (Array.isArray(value)) {
      // Several values (a groups claim): the earliest entry in the map wins.
      for (const [claimValue, role] of rule.entries) {
        for (const item of value) if (scalarKey(item) === claimValue) return role;
      }
      return undefined;
    }
    const key = scalarKey(value);
    return key === undefined ? undefined : rule.lookup.get(key);
  }
  if (Array.isArray(value)) return value.some((item) => item === rule.equals) ? rule.role : undefined;
  return value === rule.equals ? rule.role : undefined;
}

function resolveRole(views: readonly ClaimsView[], policy: CompiledPolicy): string {
  for (const rule of policy.roleRules) {
    for (const view of views) {
      const role = matchRule(rule, view);
      if (role !== undefined) return role;
    }
  }
  if (policy.roleMap.size > 0) {
    if (views.length === 1) {
      const orgRole = views[0]?.org?.orgRole;
      const mapped = orgRole === undefined ? undefined : policy.roleMap.get(orgRole);
      if (mapped !== undefined) return mapped;
    } else {
      // Several organizations: the earliest entry in STREAM_ROLE_MAP wins.
      for (const [orgRole, role] of policy.roleMap) {
        if (views.some((view) => view.org?.orgRole === orgRole)) return role;
      }
    }
  }
  return policy.defaultRole;
}

function addTeams(out: string[], seen: Set<string>, value: unknown, prefix: string): void {
  const add = (item: unknown): void => {
    if (typeof item !== 'string' || out.length >= MAX_TEAMS) return;
    const trimmed = item.trim();
    if (trimmed.length === 0) return;
    const team = prefix + trimmed;
    if (team.length > MAX_TEAM_NAME_LENGTH || seen.has(team)) return;
    seen.add(team);
    out.push(team);
  };
  if (Array.isArray(value)) for (const item of value) add(item);
  else add(value);
}

function resolveTeams(views: readonly ClaimsView[], policy: CompiledPolicy): string[] {
  const teams = policy.teams;
  if (teams === null) return [];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const view of views) addTeams(out, seen, teams.resolve(view), teams.prefix);
  return out;
}

/**
 * Role and teams for one or more claim views, ignoring allow/deny rules.
 * Several views stand for several organization memberships seen at once (a
 * Clerk user object in a webhook): role rules are tried in order against
 * every view, and teams are the union.
 */
export function derivePrivileges(views: readonly ClaimsView[], policy: CompiledPolicy): Privileges {
  return { role: resolveRole(views, policy), teams: resolveTeams(views, policy) };
}

function claimMatches(value: unknown, accepted: readonly ClaimScalar[]): boolean {
  if (value === undefined) return false;
  for (const expected of accepted) if (value === expected) return true;
  return false;
}

/**
 * Decide whether a verified session may get a Stream token, and with which
 * role and teams. The caller answers a denial with 403 (`code: forbidden`).
 */
export function evaluateAccess(input: AccessInput, policy: CompiledPolicy): AccessDecision {
  if (policy.denyUsers.has(input.userId)) {
    return { allowed: false, rule: 'deny_users', reason: 'this user is not allowed to use chat' };
  }
  const view = claimsView(input.claims);
  if (policy.requireOrganizations !== null) {
    const org = view.org;
    if (org === null) {
      return { allowed: false, rule: 'require_organizations', reason: 'an active organization is required' };
    }
    const listed = policy.requireOrganizations.has(org.orgId) || (org.orgSlug !== undefined && policy.requireOrganizations.has(org.orgSlug));
    if (!listed) {
      return { allowed: false, rule: 'require_organizations', reason: 'the active organization is not allowed to use chat' };
    }
  }
  for (const requirement of policy.requireClaims) {
    if (!claimMatches(requirement.resolve(view), requirement.accepted)) {
      return {
        allowed: false,
        rule: 'require_claims',
        reason: `claim "${requirement.claim}" does not have a required value`,
      };
    }
  }
  const views = [view];
  return { allowed: true, role: resolveRole(views, policy), teams: resolveTeams(views, policy) };
}
