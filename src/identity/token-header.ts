import { SessionTokenError } from './errors.js';
import { ownMember as own, type JsonObject } from './jws.js';
import type { AsymmetricAlgorithm, IssuerOptions } from './types.js';

/** What the checks need from a token header; a function of the header segment's text alone. */
export interface HeaderFacts {
  alg: string;
  kid: string | undefined;
  /** `typ` lower-cased, or undefined when absent. */
  typ: string | undefined;
  /** `cat` is present and names no session-token category. */
  machineCategory: boolean;
  /** `crit` or `b64` is present. */
  extensions: boolean;
}

/**
 * Clerk's `cat` header values that mark a session token (`cl_B7d4PD111AAA`) or ask to be ignored
 * (`cl_I7d4PD111III`), as `@clerk/backend` tells them from machine tokens (M2M, OAuth, API keys).
 * Any other category is a machine token and is refused.
 */
const SESSION_TOKEN_CATEGORIES: ReadonlySet<unknown> = new Set(['cl_B7d4PD111AAA', 'cl_I7d4PD111III']);
const SESSION_TOKEN_TYPES: ReadonlySet<string> = new Set(['jwt', 'application/jwt']);
/** OIDC issuers may hand out RFC 9068 access tokens as well as plain JWTs. */
const OIDC_TOKEN_TYPES: ReadonlySet<string> = new Set(['jwt', 'application/jwt', 'at+jwt', 'application/at+jwt']);

/** `typ` compared as jose does: case-insensitive, with or without the `application/` prefix (RFC 7515 §4.1.9). */
function typeForms(types: readonly string[]): ReadonlySet<string> {
  const forms = new Set<string>();
  for (const type of types) {
    const bare = type.toLowerCase().replace(/^application\//, '');
    forms.add(bare).add(`application/${bare}`);
  }
  return forms;
}

export function tokenTypesFor(options: IssuerOptions): { tokenTypes: ReadonlySet<string>; requireType: boolean } {
  if (options.kind !== 'oidc') return { tokenTypes: SESSION_TOKEN_TYPES, requireType: true };
  if (options.tokenTypes !== undefined) return { tokenTypes: typeForms(options.tokenTypes), requireType: true };
  return { tokenTypes: OIDC_TOKEN_TYPES, requireType: false };
}

/** The header-only checks, in order; throws `malformed_token`. */
export function headerFacts(header: JsonObject): HeaderFacts {
  const alg = own(header, 'alg');
  if (typeof alg !== 'string') throw malformed('The token header has no valid "alg".');
  const kid = own(header, 'kid');
  if (kid !== undefined && typeof kid !== 'string') throw malformed('The token header "kid" is not a string.');
  const typ = own(header, 'typ');
  if (typ !== undefined && typeof typ !== 'string') throw malformed('The token header "typ" is not a string.');
  return {
    alg,
    kid,
    typ: typ?.toLowerCase(),
    machineCategory: Object.hasOwn(header, 'cat') && !SESSION_TOKEN_CATEGORIES.has(header.cat),
    extensions: Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'b64'),
  };
}

/** What one issuer accepts in a token header. */
export interface HeaderRules {
  algorithms: ReadonlySet<string>;
  /** Accepted `typ` header values, lower-cased. */
  tokenTypes: ReadonlySet<string>;
  /** A token without `typ` is refused (Clerk and dev always send one; OIDC issuers that type their tokens). */
  requireType: boolean;
}

/** The issuer's header rules, in order: `alg` allow-list, `typ`, Clerk's `cat`, `crit`/`b64`. Returns the algorithm. */
export function assertHeaderAccepted(header: HeaderFacts, rules: HeaderRules): AsymmetricAlgorithm {
  const { alg, typ } = header;
  if (!rules.algorithms.has(alg)) {
    throw new SessionTokenError('invalid_signature', 'The token signing algorithm is not allowed.');
  }
  if (typ === undefined ? rules.requireType : !rules.tokenTypes.has(typ)) {
    throw new SessionTokenError(
      'unsupported_token_type',
      typ === undefined ? 'The token does not say what kind of token it is ("typ").' : 'This kind of token is not accepted.',
    );
  }
  if (header.machineCategory) throw new SessionTokenError('unsupported_token_type', 'Machine tokens are not accepted.');
  if (header.extensions) throw malformed('The token uses JWS extensions that are not supported.');
  return alg as AsymmetricAlgorithm;
}

function malformed(message: string): SessionTokenError {
  return new SessionTokenError('malformed_token', message);
}
