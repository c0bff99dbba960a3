/**
 * The shape of a `POLICY_FILE` document: who may get a Stream token, and which
 * role and teams they get. docs/policy.md describes it with examples.
 */

import { z } from 'zod';
import { ClaimPathError, parseClaimPath } from './claim-path.js';
import { streamRoleProblem } from './role-map.js';

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
