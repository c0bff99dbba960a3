import { SessionTokenError } from './errors.js';
import { isAsymmetricAlgorithm, ownMember, type JsonObject } from './jws.js';
import { issuerForLog, nearestTrustedIssuer, quoteIssuer } from './issuer-names.js';
import { KeySet } from './key-set.js';
import { namespaceProblems } from './namespaces.js';
import { tokenTypesFor, type HeaderRules } from './token-header.js';
import type { IssuerOptions, KeySetTiming, Logger, VerifierObserver } from './types.js';

/** A configured issuer with its keys and the header values it accepts. */
export interface TrustedIssuer extends HeaderRules {
  options: IssuerOptions;
  keySet: KeySet;
}

/** What every issuer's key set is built with. */
export interface KeySetSettings {
  timing: KeySetTiming;
  now: () => number;
  fetch?: typeof fetch;
  logger?: Logger;
  observer?: VerifierObserver;
}

function validateIssuer(options: IssuerOptions): void {
  const name = typeof options.issuer === 'string' ? options.issuer : '(invalid)';
  if (options.kind !== 'clerk' && options.kind !== 'oidc' && options.kind !== 'dev') {
    throw new Error(`Issuer ${name} has an unknown kind.`);
  }
  if (!Array.isArray(options.algorithms) || options.algorithms.length === 0) {
    throw new Error(`Issuer ${name} must allow at least one algorithm.`);
  }
  for (const alg of options.algorithms) {
    if (!isAsymmetricAlgorithm(alg)) {
      throw new Error(`Issuer ${name} allows an unsupported algorithm; only RS*, PS*, ES*, EdDSA and Ed25519 are accepted.`);
    }
  }
  if (typeof options.userIdClaim !== 'string' || options.userIdClaim.length === 0) {
    throw new Error(`Issuer ${name} must name the claim that carries the user id.`);
  }
  if (!Array.isArray(options.authorizedParties)) {
    throw new Error(`Issuer ${name} must list its authorized parties (possibly none).`);
  }
  if (
    options.tokenTypes !== undefined &&
    (!Array.isArray(options.tokenTypes) || options.tokenTypes.length === 0 || options.tokenTypes.some((t) => typeof t !== 'string' || t === ''))
  ) {
    throw new Error(`Issuer ${name} must list at least one token type when it lists any.`);
  }
}

/**
 * The issuers by `iss`, each with its key set. Throws on a configuration
 * mistake: an invalid issuer, one listed twice, or user ids that could collide.
 */
export function trustIssuers(issuers: readonly IssuerOptions[], keys: KeySetSettings): Map<string, TrustedIssuer> {
  const overlaps = namespaceProblems(issuers);
  if (overlaps.length > 0) throw new Error(`Issuer user ids could collide: ${overlaps.join('; ')}.`);
  const trusted = new Map<string, TrustedIssuer>();
  for (const options of issuers) {
    validateIssuer(options);
    if (trusted.has(options.issuer)) throw new Error(`Issuer ${options.issuer} is configured twice.`);
    const keySet = new KeySet({
      issuer: options,
      timing: keys.timing,
      now: keys.now,
      ...(keys.fetch ? { fetch: keys.fetch } : {}),
      ...(keys.logger ? { logger: keys.logger } : {}),
      ...(keys.observer ? { observer: keys.observer } : {}),
    });
    trusted.set(options.issuer, { options, keySet, algorithms: new Set(options.algorithms), ...tokenTypesFor(options) });
  }
  return trusted;
}

/**
 * The issuer a token names in its `iss` claim. Not verified yet: the token
 * goes on to be checked with that issuer's rules and keys only.
 */
export function routeByIssuer(issuers: ReadonlyMap<string, TrustedIssuer>, payload: JsonObject): TrustedIssuer {
  const iss = ownMember(payload, 'iss');
  if (iss === undefined) throw new SessionTokenError('invalid_issuer', 'The token names no issuer.', { trustedIssuers: [...issuers.keys()] });
  if (typeof iss !== 'string') throw new SessionTokenError('malformed_token', 'The token "iss" claim is not a string.');
  const issuer = issuers.get(iss);
  if (issuer === undefined) throw untrustedIssuer(iss, [...issuers.keys()]);
  return issuer;
}

/**
 * The refusal of a token from an issuer not configured: the detail names the token's `iss` (not a
 * secret) and says when only a trailing slash or letter case differs; the log line also lists the
 * configured issuers, so the operator sees both sides.
 */
function untrustedIssuer(iss: string, trusted: readonly string[]): SessionTokenError {
  const near = nearestTrustedIssuer(iss, trusted);
  const detail =
    near === null
      ? `The token issuer ${quoteIssuer(iss)} is not trusted.`
      : `The token issuer ${quoteIssuer(iss)} is not trusted: it differs from a trusted issuer only by ${near.difference}.`;
  return new SessionTokenError('invalid_issuer', detail, {
    iss: issuerForLog(iss),
    trustedIssuers: trusted,
    ...(near !== null ? { nearestIssuer: near.issuer, differsOnlyBy: near.difference } : {}),
  });
}
