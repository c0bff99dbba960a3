import type { KeyObject } from 'node:crypto';
import { assertSessionClaims } from './claims.js';
import { SessionTokenError } from './errors.js';
import { verifyCompactJwsSignature, type JsonObject } from './jws.js';
import type { TrustedIssuer } from './trusted-issuers.js';
import type { AsymmetricAlgorithm, VerifiedSession } from './types.js';

/** A token read, routed to its issuer and past the header rules: what is left needs its key. */
export interface PendingVerification {
  issuer: TrustedIssuer;
  /** The token text, checked by `readCompactJws`. */
  token: string;
  /** Index of the token's second dot: the signing input ends here. */
  secondDot: number;
  payload: JsonObject;
  alg: AsymmetricAlgorithm;
  kid: string | undefined;
}

/** The key to check the token with: synchronous when known, a promise when it has to be fetched first. */
export function keyFor(pending: PendingVerification): KeyObject | Promise<KeyObject> {
  return pending.issuer.keySet.getKey(pending.kid, pending.alg);
}

/** Whatever went wrong, the caller sees a SessionTokenError. */
export function asSessionTokenError(error: unknown): SessionTokenError {
  return error instanceof SessionTokenError ? error : new SessionTokenError('malformed_token', 'The token could not be processed.');
}

export function invalidSignature(): SessionTokenError {
  return new SessionTokenError('invalid_signature', 'The token signature is not valid.');
}

/** Whether the token's signature verifies with `key`; never throws. */
export function isSigned(pending: PendingVerification, key: KeyObject): boolean {
  return verifyCompactJwsSignature(pending.alg, key, pending.token, pending.secondDot);
}

/** The claim checks of a token whose signature has been verified, and the session it stands for. */
export function acceptClaims(pending: PendingVerification, nowMs: number, clockSkewSeconds: number): VerifiedSession {
  const { issuer, payload } = pending;
  const { userId, expiresAt } = assertSessionClaims(payload, issuer.options, nowMs, clockSkewSeconds);
  return {
    userId,
    issuer: issuer.options.issuer,
    kind: issuer.options.kind,
    claims: Object.freeze(payload),
    expiresAt,
  };
}
