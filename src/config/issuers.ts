import { createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { ASYMMETRIC_ALGORITHMS, keyFitsAlgorithm } from '../identity/jws.js';
import { namespaceProblems } from '../identity/namespaces.js';
import type { IssuerOptions } from '../identity/types.js';
import { isHttpsOrLoopback, type VariableReader } from './reader.js';
import { OIDC_ISSUER_FIELDS, type OidcIssuerField } from './variables.js';

/** Claims a user can change in most providers: an id taken from one could be taken over by renaming. */
export const MUTABLE_CLAIMS: ReadonlySet<string> = new Set([
  'preferred_username',
  'nickname',
  'name',
  'given_name',
  'family_name',
  'middle_name',
  'email',
  'phone_number',
  'username',
  'upn',
  'unique_name',
  'website',
  'profile',
]);

/** Stream user id prefix of dev session tokens when the dev issuer runs beside other issuers. */
export const DEV_USER_ID_PREFIX = 'dev_';
/** Every Clerk user id has this shape, so with several issuers it is part of Clerk's namespace. */
const CLERK_SUBJECT_PREFIX = 'user_';

const userIdPrefixSchema = z.string().regex(/^[A-Za-z0-9@_-]{1,64}$/, "must be 1-64 characters of A-Z a-z 0-9 @ _ - (Stream's user id alphabet)");
const nonEmptyList = z.array(z.string().min(1)).min(1);

/** Exactly the fields the variable table documents: the compiler holds the two together. */
const oidcIssuerFields = {
  issuer: z.string().url(),
  jwks_uri: z.string().url().optional(),
  audience: z.union([z.string().min(1), nonEmptyList]).optional(),
  algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).optional(),
  user_id_claim: z.string().min(1).optional(),
  allow_mutable_user_id_claim: z.boolean().optional(),
  user_id_prefix: userIdPrefixSchema.optional(),
  authorized_parties: nonEmptyList.optional(),
  token_types: nonEmptyList.optional(),
  allow_machine_tokens: z.boolean().optional(),
} satisfies Record<OidcIssuerField, z.ZodType>;
const oidcIssuerSchema = z.strictObject(oidcIssuerFields);
const oidcIssuersSchema = z.array(oidcIssuerSchema);
export type OidcIssuerEntry = z.infer<typeof oidcIssuerSchema>;

export interface IssuerSettings {
  issuers: IssuerOptions[];
  /** OIDC issuers whose audience check was turned off with `"audience": "*"`, for the start-up warning. */
  anyAudience: string[];
  /** The dev issuer's prefix when it runs beside other issuers. */
  devUserIdPrefix: string | undefined;
}

/**
 * Clerk (`CLERK_*`) and `OIDC_ISSUERS`, each validated; with more than one
 * issuer (the dev issuer included), each must have a user id namespace of
 * its own, or the configuration is refused.
 */
export function readIssuers(read: VariableReader, devIssuer: string | null): IssuerSettings {
  const allowImpersonation = read.boolean('ALLOW_IMPERSONATION');
  const issuers: IssuerOptions[] = [];
  const clerk = readClerkIssuer(read, allowImpersonation);
  if (clerk !== null) issuers.push(clerk);
  const anyAudience: string[] = [];
  for (const entry of read.json('OIDC_ISSUERS', oidcIssuersSchema, Object.keys(OIDC_ISSUER_FIELDS)) ?? []) {
    const issuer = oidcIssuer(entry, read, allowImpersonation);
    if (issuer === null) continue;
    if (issuers.some((i) => i.issuer === entry.issuer)) {
      read.problem('OIDC_ISSUERS', `issuer ${entry.issuer} is configured twice`, 'list each issuer once');
      continue;
    }
    if (entry.audience === '*') anyAudience.push(entry.issuer);
    issuers.push(issuer);
  }
  const several = issuers.length + (devIssuer !== null ? 1 : 0) > 1;
  const devUserIdPrefix = several && devIssuer !== null ? DEV_USER_ID_PREFIX : undefined;
  if (several) {
    for (const issuer of issuers) if (issuer.kind === 'clerk') issuer.subjectPrefix = CLERK_SUBJECT_PREFIX;
    const all = devIssuer !== null ? [...issuers, { issuer: devIssuer, userIdPrefix: devUserIdPrefix }] : issuers;
    for (const message of namespaceProblems(all)) {
      read.problem(
        'OIDC_ISSUERS',
        message,
        'give every OIDC issuer a distinct "user_id_prefix" (e.g. "auth0_"), none the beginning of another; Clerk ids are "user_…" (CLERK_USER_ID_PREFIX adds to that), dev ids "dev_…"',
      );
    }
  }
  return { issuers, anyAudience, devUserIdPrefix };
}

function readClerkIssuer(read: VariableReader, allowImpersonation: boolean): IssuerOptions | null {
  const issuer = resolveClerkIssuer(read);
  if (issuer === null) {
    if (read.string('CLERK_JWKS_URL') !== undefined || read.string('CLERK_JWT_KEY') !== undefined) {
      read.problem(
        'CLERK_JWT_ISSUER',
        'Clerk keys are configured but not the issuer they sign for',
        'set CLERK_JWT_ISSUER (e.g. https://your-app.clerk.accounts.dev), CLERK_FRONTEND_API or CLERK_PUBLISHABLE_KEY',
      );
    }
    return null;
  }
  const jwksUri = read.url('CLERK_JWKS_URL') ?? `${issuer}/.well-known/jwks.json`;
  const pem = read.string('CLERK_JWT_KEY');
  const staticKeys: KeyObject[] = [];
  if (pem !== undefined && !read.misplacedClerkCredential('CLERK_JWT_KEY', 'PEM public key', pem)) {
    try {
      const key = createPublicKey(pem.replace(/\\n/g, '\n'));
      if (keyFitsAlgorithm(key, 'RS256')) staticKeys.push(key);
      else read.problem('CLERK_JWT_KEY', 'is not an RSA public key of at least 2048 bits with an odd exponent of at least 3, as Clerk signs with');
    } catch {
      read.problem('CLERK_JWT_KEY', 'is not a PEM public key');
    }
  }
  const prefix = read.string('CLERK_USER_ID_PREFIX');
  if (prefix !== undefined && !userIdPrefixSchema.safeParse(prefix).success) {
    read.problem('CLERK_USER_ID_PREFIX', `"${prefix}" is not a user id prefix`);
  }
  return {
    kind: 'clerk',
    issuer,
    // A PEM key makes verification networkless: no JWKS is fetched at all.
    ...(staticKeys.length > 0 ? { staticKeys } : { jwksUri }),
    algorithms: ['RS256'],
    userIdClaim: 'sub',
    ...(prefix !== undefined ? { userIdPrefix: prefix } : {}),
    authorizedParties: read.list('CLERK_AUTHORIZED_PARTIES'),
    requireAuthorizedParty: read.boolean('CLERK_REQUIRE_AZP'),
    allowImpersonation,
  };
}

function oidcIssuer(entry: OidcIssuerEntry, read: VariableReader, allowImpersonation: boolean): IssuerOptions | null {
  const problem = (message: string, fix: string): null => {
    read.problem('OIDC_ISSUERS', message, fix);
    return null;
  };
  for (const url of [entry.issuer, entry.jwks_uri]) {
    if (url !== undefined && !isHttpsOrLoopback(url)) {
      return problem(`${url} must use https (plain http is allowed only on a loopback address)`, 'use the https issuer and JWKS URLs your provider publishes');
    }
  }
  const { audience } = entry;
  if (audience === undefined) {
    return problem(
      `issuer ${entry.issuer} has no "audience": every ID and access token it mints for any app or API would be accepted`,
      'set "audience" to your API identifier (access tokens) or client id (ID tokens), or "*" to accept any audience (not recommended)',
    );
  }
  const audiences = typeof audience === 'string' ? [audience] : audience;
  if (audiences.some((a) => a.includes(','))) {
    return problem(`the audience of ${entry.issuer} contains a comma`, 'write several audiences as a JSON list: "audience": ["a", "b"]');
  }
  if (audiences.includes('*') && audience !== '*') {
    return problem(`the audience list of ${entry.issuer} contains "*"`, 'write "audience": "*" alone to accept any audience, or list the exact values');
  }
  const userIdClaim = entry.user_id_claim ?? 'sub';
  if (MUTABLE_CLAIMS.has(userIdClaim) && entry.allow_mutable_user_id_claim !== true) {
    return problem(
      `user_id_claim "${userIdClaim}" of ${entry.issuer} is a claim users can change: renaming an account would take over another's Stream user`,
      'use an issuer-assigned, immutable claim such as "sub", or set "allow_mutable_user_id_claim": true if your provider never lets users change it',
    );
  }
  return {
    kind: 'oidc',
    issuer: entry.issuer,
    ...(entry.jwks_uri !== undefined ? { jwksUri: entry.jwks_uri } : {}),
    algorithms: entry.algorithms ?? ['RS256'],
    ...(audience !== '*' ? { audience: audiences } : {}),
    userIdClaim,
    ...(entry.user_id_prefix !== undefined ? { userIdPrefix: entry.user_id_prefix } : {}),
    authorizedParties: entry.authorized_parties ?? [],
    requireAuthorizedParty: false,
    ...(entry.token_types !== undefined ? { tokenTypes: entry.token_types } : {}),
    ...(entry.allow_machine_tokens === true ? { allowMachineTokens: true } : {}),
    allowImpersonation,
  };
}

/** Clerk's issuer: explicit, else from the Frontend API host, else decoded from the publishable key. */
function resolveClerkIssuer(read: VariableReader): string | null {
  const explicit = read.url('CLERK_JWT_ISSUER');
  if (explicit !== undefined) return explicit;
  const frontendApi = read.string('CLERK_FRONTEND_API');
  if (read.misplacedClerkCredential('CLERK_FRONTEND_API', 'host name', frontendApi)) return null;
  if (frontendApi !== undefined) {
    const host = frontendApi.replace(/^https:\/\//, '').replace(/\/+$/, '');
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(host)) {
      read.problem('CLERK_FRONTEND_API', 'is not a host name');
      return null;
    }
    return `https://${host}`;
  }
  const publishableKey = read.string('CLERK_PUBLISHABLE_KEY');
  if (read.misplacedClerkCredential('CLERK_PUBLISHABLE_KEY', 'publishable key', publishableKey)) return null;
  if (publishableKey !== undefined) {
    const host = frontendApiFromPublishableKey(publishableKey);
    if (host === null) {
      read.problem('CLERK_PUBLISHABLE_KEY', 'is not a Clerk publishable key (pk_test_… or pk_live_…)');
      return null;
    }
    return `https://${host}`;
  }
  return null;
}

/** `pk_test_<base64("<frontend api host>$")>`, the encoding Clerk's SDKs decode. */
export function frontendApiFromPublishableKey(key: string): string | null {
  const match = /^pk_(test|live)_([A-Za-z0-9+/=_-]+)$/.exec(key);
  if (match === null) return null;
  const decoded = Buffer.from(match[2] as string, 'base64').toString('utf8');
  if (!decoded.endsWith('$')) return null;
  const host = decoded.slice(0, -1);
  return /^[A-Za-z0-9.-]+$/.test(host) ? host : null;
}
