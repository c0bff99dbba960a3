import { SessionTokenError } from './errors.js';
import { readCompactJws, splitCompactJws, type JsonObject } from './jws.js';
import { headerFacts, type HeaderFacts } from './token-header.js';

/** Distinct header segments remembered per verifier. */
export const HEADER_CACHE_SIZE = 64;
/** Longer header segments are decoded every time rather than remembered. */
export const MAX_CACHED_HEADER_LENGTH = 1024;

/** A token whose text passed the checks, read but not verified. */
export interface ReadToken {
  token: string;
  /** Index of the token's second dot: the signing input ends here. */
  secondDot: number;
  header: HeaderFacts;
  payload: JsonObject;
}

/**
 * Reads tokens, remembering the facts of the header segments it has seen.
 * The header of every token signed with one key is the same segment, byte for
 * byte, so the facts read from it are kept by segment text. Only headers that
 * passed every check that depends on the header alone are kept, and the facts
 * are derived from the text alone, so a remembered header decides exactly as
 * decoding it again would. Once full, the oldest entry makes way.
 */
export class HeaderCache {
  readonly #entries = new Map<string, HeaderFacts>();

  /**
   * The token's text, header and payload JSON checked in the same order as
   * without the cache: the text, header JSON, payload JSON, then the header's
   * fields. A remembered segment passed the text checks when it was first seen.
   */
  read(token: string): ReadToken {
    if (typeof token !== 'string') throw new SessionTokenError('malformed_token', 'The token is not a string.');
    if (token.length === 0) throw new SessionTokenError('missing_token', 'No session token was given.');
    const firstDot = splitCompactJws(token);
    const secondDot = token.lastIndexOf('.');
    const segment = token.substring(0, firstDot);
    const known = this.#entries.get(segment);
    const { header, payload } = readCompactJws(token, firstDot, secondDot, known !== undefined);
    if (header === null) return { token, secondDot, header: known!, payload };
    const facts = headerFacts(header);
    this.#remember(segment, facts);
    return { token, secondDot, header: facts, payload };
  }

  get size(): number {
    return this.#entries.size;
  }

  #remember(segment: string, facts: HeaderFacts): void {
    if (segment.length > MAX_CACHED_HEADER_LENGTH) return;
    if (this.#entries.size >= HEADER_CACHE_SIZE) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(segment, facts);
  }
}
