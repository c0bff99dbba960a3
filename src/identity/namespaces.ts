import type { IssuerOptions } from './types.js';

/** Stream's user-id alphabet, which a prefix must also use. */
const PREFIX_PATTERN = /^[A-Za-z0-9@_-]{1,64}$/;

/** Where an issuer's Stream user ids begin: its prefix, then the shape its subjects must start with. */
export function userIdNamespace(issuer: Pick<IssuerOptions, 'userIdPrefix' | 'subjectPrefix'>): string {
  return (issuer.userIdPrefix ?? '') + (issuer.subjectPrefix ?? '');
}

/**
 * Why these issuers could yield the same Stream user id, one sentence each;
 * empty when they cannot. With more than one issuer, every namespace must be
 * non-empty and none may begin another, so `prefix + sub` never collides.
 */
export function namespaceProblems(issuers: readonly Pick<IssuerOptions, 'issuer' | 'userIdPrefix' | 'subjectPrefix'>[]): string[] {
  const problems: string[] = [];
  for (const issuer of issuers) {
    if (issuer.userIdPrefix !== undefined && issuer.userIdPrefix !== '' && !PREFIX_PATTERN.test(issuer.userIdPrefix)) {
      problems.push(`the user id prefix of ${issuer.issuer} must be 1-64 characters of A-Z a-z 0-9 @ _ -`);
    }
  }
  if (issuers.length < 2) return problems;
  for (const [i, a] of issuers.entries()) {
    const ns = userIdNamespace(a);
    if (ns === '') {
      problems.push(`${a.issuer} needs a user id prefix of its own: with several issuers, the same subject from two of them would be one Stream user`);
      continue;
    }
    for (const b of issuers.slice(i + 1)) {
      const other = userIdNamespace(b);
      if (other !== '' && (ns.startsWith(other) || other.startsWith(ns))) {
        problems.push(
          `the user ids of ${a.issuer} ("${ns}…") and ${b.issuer} ("${other}…") could be the same: give each a prefix that does not begin the other`,
        );
      }
    }
  }
  return problems;
}
