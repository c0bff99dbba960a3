/**
 * `POLICY_FILE`: who may get a Stream token, and which role and teams they get.
 *
 * YAML or JSON (chosen by the extension; any other extension tries JSON, then
 * YAML). Validated once at start; every problem is reported with its path in
 * the document. See docs/policy.md for the format and examples.
 */

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ClaimPathError, compileClaimPath, parseClaimPath } from './claim-path.js';
import { normalizeClerkOrgClaims, type ClerkOrgClaims } from './clerk-org.js';
import { DEFAULT_STREAM_ROLE, streamRoleProblem, type RoleMap } from './role-map.js';

/** Largest policy file read, in bytes. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;
export const MAX_TEAMS = 100;
export const MAX_TEAM_NAME_LENGTH = 100;

// ---------------------------------------------------------------------------
// Schema

const claimPathSchema = z.string().superRefine((value, ctx) => {
  try {
    parseClaimPath(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: error instanceof ClaimPathError ? error.message : 'invalid claim path' });
  }
});

const streamRoleSchema = z.string().superRefine((value, ctx) => {
  const problem = streamRoleProblem(value);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

const scalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()], {
  error: 'expected a string, number, boolean or null',
});

const roleRuleSchema = z
  .strictObject({
    claim: claimPathSchema,
    map: z.record(z.string().min(1, 'claim value must not be empty'), streamRoleSchema).optional(),
    equals: scalarSchema.optional(),
    role: streamRoleSchema.optional(),
  })
  .superRefine((rule, ctx) => {
    const hasMap = rule.map !== undefined;
    const hasEquals = rule.equals !== undefined || rule.role !== undefined;
    if (hasMap && hasEquals) {
      ctx.addIssue({ code: 'custom', message: 'use either "map" or "equals" with "role", not both' });
    } else if (!hasMap && !hasEquals) {
      ctx.addIssue({ code: 'custom', message: 'a role rule needs "map" (claim value → Stream role) or "equals" with "role"' });
    } else if (hasMap && Object.keys(rule.map ?? {}).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['map'], message: '"map" must name at least one claim value' });
    } else if (!hasMap && (rule.equals === undefined || rule.role === undefined)) {
      ctx.addIssue({ code: 'custom', message: '"equals" and "role" must be given together' });
    }
  });

const teamNamePart = /^[A-Za-z0-9_:.@-]*$/;

const teamsSchema = z.strictObject({
  from: claimPathSchema,
  prefix: z
    .string()
    .max(32, 'prefix must be at most 32 characters')
    .regex(teamNamePart, 'prefix may contain only letters, digits, "_", ":", ".", "@" and "-"')
    .optional(),
});

const allowSchema = z.strictObject({
  require_claims: z
    .record(
      claimPathSchema,
      z.union([scalarSchema, z.array(scalarSchema).min(1, 'list must not be empty')], {
        error: 'expected a string, number, boolean or null, or a non-empty list of them',
      }),
    )
    .optional(),
  require_organizations: z.array(z.string().trim().min(1, 'organization must not be empty')).min(1, 'list must not be empty').optional(),
});

const denySchema = z.strictObject({
  deny_users: z.array(z.string().trim().min(1, 'user id must not be empty')).optional(),
});

export const policyDocumentSchema = z.strictObject({
  version: z.literal(1, { error: 'version must be 1' }).optional(),
  role: z.array(roleRuleSchema).max(100, 'at most 100 role rules').optional(),
  default_role: streamRoleSchema.optional(),
  teams: teamsSchema.optional(),
  allow: allowSchema.optional(),
  deny: denySchema.optional(),
});

export type PolicyDocument = z.infer<typeof policyDocumentSchema>;
export type PolicyRoleRule = z.infer<typeof roleRuleSchema>;
export type ClaimScalar = string | number | boolean | null;

// ---------------------------------------------------------------------------
// Parsing and loading

export class PolicyFileError extends Error {
  override readonly name = 'PolicyFileError';
  /** Each problem on its own, `path: message`. */
  readonly problems: readonly string[];
  readonly file: string;

  constructor(file: string, problems: string[]) {
    super(`invalid policy file ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.file = file;
    this.problems = problems;
  }
}

export type PolicyFormat = 'yaml' | 'json' | 'auto';

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out === '' ? '(top level)' : out;
}

/** Keys that would reach an object's prototype instead of naming a claim or value. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Every forbidden key anywhere in the document, with its path: a record would drop it silently. */
function forbiddenKeyProblems(value: unknown, path: PropertyKey[] = []): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (FORBIDDEN_KEYS.has(key)) problems.push(`${formatPath([...path, key])}: "${key}" is not allowed as a key`);
    else problems.push(...forbiddenKeyProblems(child, [...path, Array.isArray(value) ? Number(key) : key]));
  }
  return problems;
}

/** Validate an already-parsed document. Throws `PolicyFileError` listing every problem. */
export function validatePolicyDocument(value: unknown, source = 'policy'): PolicyDocument {
  if (value === null || value === undefined) return {};
  const forbidden = forbiddenKeyProblems(value);
  if (forbidden.length > 0) throw new PolicyFileError(source, forbidden);
  const result = policyDocumentSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    // A record key that failed its own schema: report that schema's message.
    const nested = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
    return `${formatPath(issue.path)}: ${nested ?? issue.message}`;
  });
  throw new PolicyFileError(source, problems);
}

function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyFileError(source, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  }
  try {
    return doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    throw new PolicyFileError(source, [`YAML: ${(error as Error).message}`]);
  }
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PolicyFileError(source, [`JSON: ${(error as Error).message}`]);
  }
}

/** Parse and validate policy text. `auto` tries JSON first, then YAML. */
export function parsePolicyText(text: string, format: PolicyFormat = 'auto', source = 'policy'): PolicyDocument {
  let value: unknown;
  if (format === 'json') value = parseJson(text, source);
  else if (format === 'yaml') value = parseYaml(text, source);
  else {
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      value = parseYaml(text, source);
    }
  }
  return validatePolicyDocument(value, source);
}

/** The format a policy file's extension names. */
export function policyFormatFor(file: string): PolicyFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.json') return 'json';
  return 'auto';
}

/** Read, parse and validate `POLICY_FILE`. Throws `PolicyFileError` (also for an unreadable file). */
export async function loadPolicyFile(file: string): Promise<PolicyDocument> {
  let buffer: Buffer;
  try {
    buffer = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PolicyFileError(file, [`cannot read the file${code ? ` (${code})` : ''}`]);
  }
  if (buffer.byteLength > MAX_POLICY_FILE_BYTES) {
    throw new PolicyFileError(file, [`the file is larger than ${MAX_POLICY_FILE_BYTES} bytes`]);
  }
  return parsePolicyText(buffer.toString('utf8'), policyFormatFor(file), file);
}

// ---------------------------------------------------------------------------
// Compilation

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
  | { readonly kind: 'map'; readonly claim: string; readonly resolve: ClaimResolver; readonly entries: readonly (readonly [string, string])[]; readonly lookup: ReadonlyMap<string, string> }
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
  const requireClaims: CompiledClaimRequirement[] = Object.entries(document.allow?.require_claims ?? {}).map(
    ([claim, expected]) => ({
      claim,
      resolve: compileResolver(claim),
      accepted: Array.isArray(expected) ? expected : [expected],
    }),
  );
  const orgs = document.allow?.require_organizations;
  const policy: CompiledPolicy = {
    roleRules,
    roleMap: new Map(options.roleMap ?? []),
    defaultRole: document.default_role ?? DEFAULT_STREAM_ROLE,
    teams: document.teams
      ? { from: document.teams.from, resolve: compileResolver(document.teams.from), prefix: document.teams.prefix ?? '' }
      : null,
    requireClaims,
    requireOrganizations: orgs ? new Set(orgs) : null,
    denyUsers: new Set(document.deny?.deny_users ?? []),
  };
  return Object.freeze(policy);
}
