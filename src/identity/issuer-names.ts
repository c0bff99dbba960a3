/**
 * How two issuer names that should be equal differ, in words an operator
 * can act on. Issuers are compared byte for byte; these are the near misses
 * that are easy to make and hard to see (Auth0 issuers end in `/`, most
 * others do not).
 */
export type IssuerNearMiss = 'a trailing slash' | 'letter case' | 'a trailing slash and letter case';

const withoutTrailingSlashes = (issuer: string): string => issuer.replace(/\/+$/, '');

/** How `actual` differs from `expected` when that is all that differs; null when they are equal or differ otherwise. */
export function issuerNearMiss(actual: string, expected: string): IssuerNearMiss | null {
  if (actual === expected) return null;
  const slashOnly = withoutTrailingSlashes(actual) === withoutTrailingSlashes(expected);
  if (slashOnly) return 'a trailing slash';
  if (actual.toLowerCase() === expected.toLowerCase()) return 'letter case';
  if (withoutTrailingSlashes(actual).toLowerCase() === withoutTrailingSlashes(expected).toLowerCase()) return 'a trailing slash and letter case';
  return null;
}

/** The first of `trusted` that `actual` nearly names, and how it differs. */
export function nearestTrustedIssuer(actual: string, trusted: Iterable<string>): { issuer: string; difference: IssuerNearMiss } | null {
  for (const issuer of trusted) {
    const difference = issuerNearMiss(actual, issuer);
    if (difference !== null) return { issuer, difference };
  }
  return null;
}

/** Longest issuer text shown: a token's `iss` is the sender's to choose. */
const MAX_SHOWN = 200;

/** The issuer cut to a readable length, for log fields. */
export function issuerForLog(value: string): string {
  return value.length <= MAX_SHOWN ? value : `${value.slice(0, MAX_SHOWN)}…`;
}

/** The issuer as a quoted JSON string, cut like {@link issuerForLog}, for messages. */
export function quoteIssuer(value: string): string {
  return JSON.stringify(issuerForLog(value));
}
