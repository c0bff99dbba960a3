import { SessionTokenError } from './errors.js';
import type { JsonObject } from './jws.js';
import type { IssuerOptions } from './types.js';

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

/** Distinct header segments remembered per verifier. */
export const HEADER_CACHE_SIZE = 64;
/** Longer header segments are decoded every time rather than remembered. */
export const MAX_CACHED_HEADER_LENGTH = 1024;

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

function own(object: JsonObject, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

function malformed(message: string): SessionTokenError {
  return new SessionTokenError('malformed_token', message);
}

/**
 * The header of every token signed with one key is the same segment, byte for
 * byte, so the facts read from it are kept by segment text. Only headers that
 * passed every check that depends on the header alone are kept, and the facts
 * are derived from the text alone, so a remembered header decides exactly as
 * decoding it again would. Once full, the oldest entry makes way.
 */
export class HeaderCache {
  readonly #entries = new Map<string, HeaderFacts>();

  get(segment: string): HeaderFacts | undefined {
    return this.#entries.get(segment);
  }

  set(segment: string, facts: HeaderFacts): void {
    if (segment.length > MAX_CACHED_HEADER_LENGTH) return;
    if (this.#entries.size >= HEADER_CACHE_SIZE) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(segment, facts);
  }

  get size(): number {
    return this.#entries.size;
  }
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
