import { ProblemError } from './problem.js';

/** The scheme, in any case, then spaces or tabs, one credential, and optional trailing spaces or tabs. */
const BEARER = /^bearer[ \t]+([^ \t]+)[ \t]*$/i;

function missingToken(): ProblemError {
  return new ProblemError({ code: 'missing_token', detail: 'Send the session token as Authorization: Bearer <token>.' });
}

/**
 * The session token from `Authorization: Bearer <token>` (scheme
 * case-insensitive, RFC 7235; spaces or tabs around the credential). No
 * header, another scheme, or an empty credential counts as no token; more
 * than one credential is a malformed token. The token is never read from the
 * query string or body.
 */
export function bearerToken(header: string | undefined): string {
  // An empty header fails both patterns below and is refused as missing too.
  if (header === undefined) throw missingToken();
  const match = BEARER.exec(header);
  if (match !== null) return match[1]!;
  if (/^bearer\b/i.test(header) && header.trim().length > 6) {
    throw new ProblemError({ code: 'malformed_token', detail: 'The Authorization header must hold exactly one token.' });
  }
  throw missingToken();
}
