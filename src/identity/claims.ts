import { SessionTokenError } from './errors.js';
import type { IssuerOptions } from './types.js';

/** Stream's user-id alphabet. */
const USER_ID_PATTERN = /^[A-Za-z0-9@_-]+$/;
const MAX_USER_ID_LENGTH = 255;

type Claims = Readonly<Record<string, unknown>>;

/** An own claim of the payload; inherited properties never count as claims. */
function claim(payload: Claims, name: string): unknown {
  return Object.hasOwn(payload, name) ? payload[name] : undefined;
}

function numericDate(payload: Claims, name: 'exp' | 'nbf' | 'iat', required: boolean): number | undefined {
  const value = claim(payload, name);
  if (value === undefined) {
    if (required) throw new SessionTokenError('malformed_token', `The token has no "${name}" claim.`);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new SessionTokenError('malformed_token', `The "${name}" claim is not a finite number.`);
  }
  return value;
}

/**
 * `exp` is required; `exp`, `nbf` and `iat` must be finite numbers when
 * present. With `now` in whole seconds (as jose computes it): expired when
 * `exp + skew <= now`; not yet valid when `nbf` or `iat` is later than
 * `now + skew`. Returns `exp`.
 */
export function assertTimeClaims(payload: Claims, nowSeconds: number, skewSeconds: number): number {
  const exp = numericDate(payload, 'exp', true)!;
  const nbf = numericDate(payload, 'nbf', false);
  const iat = numericDate(payload, 'iat', false);
  if (exp + skewSeconds <= nowSeconds) throw new SessionTokenError('token_expired', 'The token has expired.');
  if (nbf !== undefined && nbf > nowSeconds + skewSeconds) {
    throw new SessionTokenError('token_not_yet_valid', 'The token is not valid yet.');
  }
  if (iat !== undefined && iat > nowSeconds + skewSeconds) {
    throw new SessionTokenError('token_not_yet_valid', 'The token was issued in the future.');
  }
  return exp;
}

/** `iss` must equal the configured issuer exactly. */
function assertIssuerClaim(payload: Claims, issuer: string): void {
  if (claim(payload, 'iss') !== issuer) throw new SessionTokenError('invalid_issuer', 'The token issuer is not trusted.');
}

/**
 * When `audience` is non-empty, `aud` (a string, or an array of strings) must
 * contain one of its values.
 */
export function assertAudienceClaim(payload: Claims, audience: readonly string[] | undefined): void {
  if (audience === undefined || audience.length === 0) return;
  const aud = claim(payload, 'aud');
  const ok =
    typeof aud === 'string' ? audience.includes(aud) : Array.isArray(aud) && aud.some((value) => typeof value === 'string' && audience.includes(value));
  if (!ok) throw new SessionTokenError('invalid_audience', 'The token is not meant for this service.');
}

/**
 * A present `azp` must be a string, and one of `authorizedParties` when that
 * list is non-empty. An absent `azp` is refused when `requireAuthorizedParty`.
 */
export function assertAuthorizedParty(payload: Claims, authorizedParties: readonly string[], requireAuthorizedParty: boolean): void {
  const azp = claim(payload, 'azp');
  if (azp === undefined) {
    if (requireAuthorizedParty) {
      throw new SessionTokenError('unauthorized_party', 'The token does not name the party it was issued to.');
    }
    return;
  }
  if (typeof azp !== 'string' || (authorizedParties.length > 0 && !authorizedParties.includes(azp))) {
    throw new SessionTokenError('unauthorized_party', 'The token was issued to a party that is not allowed.');
  }
}

/** How an issuer's user ids become Stream user ids (see `IssuerOptions`). */
export interface UserIdNamespace {
  userIdPrefix?: string | undefined;
  subjectPrefix?: string | undefined;
}

/**
 * The Stream user id: `userIdPrefix` + the `userIdClaim` value, which must
 * start with `subjectPrefix` (and go on past it) when one is set. The result
 * is 1–255 characters of `[A-Za-z0-9@_-]`.
 */
export function extractUserId(payload: Claims, userIdClaim: string, namespace: UserIdNamespace = {}): string {
  const value = claim(payload, userIdClaim);
  const subjectPrefix = namespace.subjectPrefix ?? '';
  if (typeof value !== 'string' || value.length <= subjectPrefix.length || !value.startsWith(subjectPrefix)) {
    throw new SessionTokenError('invalid_subject', 'The token does not carry a usable user id.');
  }
  const userId = (namespace.userIdPrefix ?? '') + value;
  if (userId.length > MAX_USER_ID_LENGTH || !USER_ID_PATTERN.test(userId)) {
    throw new SessionTokenError('invalid_subject', 'The token does not carry a usable user id.');
  }
  return userId;
}

/**
 * The party an OIDC token was issued to: `azp`, else `client_id` (RFC 9068
 * access tokens), else the sole audience of an ID token (OpenID Connect Core
 * §2: without `azp`, the audience is the client).
 */
function oidcAuthorizedParty(payload: Claims): unknown {
  const azp = claim(payload, 'azp');
  if (azp !== undefined) return azp;
  const clientId = claim(payload, 'client_id');
  if (clientId !== undefined) return clientId;
  const aud = claim(payload, 'aud');
  return Array.isArray(aud) && aud.length === 1 ? aud[0] : typeof aud === 'string' ? aud : undefined;
}

/** With an OIDC issuer's `authorized_parties`, the party the token names must be one of them. */
export function assertOidcAuthorizedParty(payload: Claims, authorizedParties: readonly string[]): void {
  if (authorizedParties.length === 0) return;
  const party = oidcAuthorizedParty(payload);
  if (typeof party !== 'string' || !authorizedParties.includes(party)) {
    throw new SessionTokenError('unauthorized_party', 'The token was issued to a party that is not allowed.');
  }
}

/** Claims that name the client in tokens some providers issue for a client acting on its own. */
const CLIENT_CLAIMS = ['client_id', 'cid', 'azp', 'appid'] as const;

/**
 * Refuses tokens a client obtained for itself, with no end user (client
 * credentials; RFC 9068 §5): `sub` equal to the client's id, Auth0's
 * `gty: "client-credentials"` and `…@clients` subjects, Microsoft Entra's
 * `idtyp: "app"`, Keycloak's `service-account-` users.
 */
export function assertEndUserToken(payload: Claims): void {
  const sub = claim(payload, 'sub');
  const gty = claim(payload, 'gty');
  const username = claim(payload, 'preferred_username');
  const machine =
    gty === 'client-credentials' ||
    (Array.isArray(gty) && gty.includes('client-credentials')) ||
    claim(payload, 'idtyp') === 'app' ||
    (typeof username === 'string' && username.startsWith('service-account-')) ||
    (typeof sub === 'string' && (sub.endsWith('@clients') || CLIENT_CLAIMS.some((name) => claim(payload, name) === sub)));
  if (machine) throw new SessionTokenError('unsupported_token_type', 'Machine tokens are not accepted.');
}

/**
 * Clerk session state: `sts: "pending"` (a session still missing a required
 * step) is refused; an `act` claim (impersonation) is refused unless allowed.
 */
export function assertSessionState(payload: Claims, allowImpersonation: boolean): void {
  if (claim(payload, 'sts') === 'pending') {
    throw new SessionTokenError('session_pending', 'The session has not completed all required steps.');
  }
  const act = claim(payload, 'act');
  if (act !== undefined && act !== null && !allowImpersonation) {
    throw new SessionTokenError('impersonation_not_allowed', 'Impersonated sessions are not accepted.');
  }
}

export interface CheckedClaims {
  userId: string;
  expiresAt: number;
}

/**
 * Every claim check, in order: issuer, time, audience, authorized party,
 * machine token (OIDC), user id, session state. Call only after the signature
 * has been verified.
 */
export function assertSessionClaims(payload: Claims, issuer: IssuerOptions, nowMs: number, clockSkewSeconds: number): CheckedClaims {
  assertIssuerClaim(payload, issuer.issuer);
  const expiresAt = assertTimeClaims(payload, Math.floor(nowMs / 1000), clockSkewSeconds);
  assertAudienceClaim(payload, issuer.audience);
  if (issuer.kind === 'oidc') {
    if (issuer.requireAuthorizedParty) assertAuthorizedParty(payload, [], true);
    assertOidcAuthorizedParty(payload, issuer.authorizedParties);
    if (issuer.allowMachineTokens !== true) assertEndUserToken(payload);
  } else {
    assertAuthorizedParty(payload, issuer.authorizedParties, issuer.requireAuthorizedParty);
  }
  const userId = extractUserId(payload, issuer.userIdClaim, issuer);
  assertSessionState(payload, issuer.allowImpersonation);
  return { userId, expiresAt };
}
