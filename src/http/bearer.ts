import { ProblemError } from './problem.js';

const SPACE = 0x20;
const TAB = 0x09;

function missingToken(): ProblemError {
  return new ProblemError({ code: 'missing_token', detail: 'Send the session token as Authorization: Bearer <token>.' });
}

/** A space or a tab: what separates the scheme from the token (RFC 7235 allows both around it). */
function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

/** Whether `header` starts with the word `bearer`, in any case. */
function startsWithBearer(header: string): boolean {
  // `| 0x20` folds ASCII letters to lower case; no other character folds onto these letters.
  return (
    header.length >= 6 &&
    (header.charCodeAt(0) | 0x20) === 0x62 &&
    (header.charCodeAt(1) | 0x20) === 0x65 &&
    (header.charCodeAt(2) | 0x20) === 0x61 &&
    (header.charCodeAt(3) | 0x20) === 0x72 &&
    (header.charCodeAt(4) | 0x20) === 0x65 &&
    (header.charCodeAt(5) | 0x20) === 0x72
  );
}

/**
 * The session token from `Authorization: Bearer <token>` (scheme
 * case-insensitive, RFC 7235). No header, another scheme, or an empty
 * credential counts as no token; the token is never read from the query
 * string or body.
 *
 * Equivalent to matching `/^bearer[ \t]+([^ \t]+)[ \t]*$/i` (a differential
 * test holds it to that), without running a regular expression over the
 * whole token on every request: the token's end is found with `indexOf`.
 */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header === '') throw missingToken();
  const length = header.length;
  const schemeThenBlank = startsWithBearer(header) && isBlank(header.charCodeAt(6));
  if (schemeThenBlank) {
    let start = 7;
    while (start < length && isBlank(header.charCodeAt(start))) start++;
    if (start < length) {
      const space = header.indexOf(' ', start);
      const tab = header.indexOf('\t', start);
      const end = space < 0 ? (tab < 0 ? length : tab) : tab < 0 ? space : Math.min(space, tab);
      let rest = end;
      while (rest < length && isBlank(header.charCodeAt(rest))) rest++;
      if (rest === length) return header.substring(start, end);
    }
  }
  if (/^bearer\b/i.test(header) && header.trim().length > 6) {
    throw new ProblemError({ code: 'malformed_token', detail: 'The Authorization header must hold exactly one token.' });
  }
  throw missingToken();
}
