import { ProblemError } from './problem.js';

const BEARER = /^bearer[ \t]+([^ \t]+)[ \t]*$/i;

/**
 * The session token from `Authorization: Bearer <token>` (scheme
 * case-insensitive, RFC 7235). No header, another scheme, or an empty
 * credential counts as no token; the token is never read from the query
 * string or body.
 */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header === '') throw new ProblemError({ code: 'missing_token', detail: 'Send the session token as Authorization: Bearer <token>.' });
  const match = BEARER.exec(header);
  if (match === null) {
    if (/^bearer\b/i.test(header) && header.trim().length > 6) {
      throw new ProblemError({ code: 'malformed_token', detail: 'The Authorization header must hold exactly one token.' });
    }
    throw new ProblemError({ code: 'missing_token', detail: 'Send the session token as Authorization: Bearer <token>.' });
  }
  return match[1] as string;
}
