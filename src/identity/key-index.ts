import type { KeyObject } from 'node:crypto';
import { SessionTokenError } from './errors.js';
import { keyFitsAlgorithm } from './jws.js';
import type { AsymmetricAlgorithm } from './types.js';

export interface KeyEntry {
  key: KeyObject;
  /** The JWK's `alg`, when it restricts the key to one algorithm. */
  alg: AsymmetricAlgorithm | undefined;
  /** RFC 7638 thumbprint, to recognise the same key listed twice. */
  thumbprint: string;
}

export interface KeyIndex {
  entries: KeyEntry[];
  byKid: Map<string, KeyEntry[]>;
}

export function emptyIndex(): KeyIndex {
  return { entries: [], byKid: new Map() };
}

export function addToIndex(index: KeyIndex, entry: KeyEntry, kid: string | undefined): void {
  index.entries.push(entry);
  if (kid === undefined) return;
  const list = index.byKid.get(kid);
  if (list) list.push(entry);
  else index.byKid.set(kid, [entry]);
}

function usableFor(entry: KeyEntry, alg: AsymmetricAlgorithm): boolean {
  return (entry.alg === undefined || entry.alg === alg) && keyFitsAlgorithm(entry.key, alg);
}

/** Keys usable for `alg` across the given indexes, each distinct key counted once. */
export function countUsable(indexes: ReadonlyArray<KeyIndex | null>, alg: AsymmetricAlgorithm): number {
  const seen = new Set<string>();
  for (const index of indexes) for (const entry of index?.entries ?? []) if (usableFor(entry, alg)) seen.add(entry.thumbprint);
  return seen.size;
}

/** The one key among `entries` usable for `alg`, or undefined when there is none or more than one. */
export function singleUsable(entries: readonly KeyEntry[], alg: AsymmetricAlgorithm): KeyObject | undefined {
  let match: KeyEntry | undefined;
  for (const entry of entries) {
    if (!usableFor(entry, alg)) continue;
    if (match !== undefined && match.thumbprint !== entry.thumbprint) return undefined;
    match = entry;
  }
  return match?.key;
}

/**
 * Looks the key up in the static and remote keys. Returns undefined when not
 * found; throws `invalid_signature` when the kid names only keys that cannot
 * verify `alg`.
 */
export function findKey(staticKeys: KeyIndex, remote: KeyIndex | null, kid: string | undefined, alg: AsymmetricAlgorithm): KeyObject | undefined {
  if (kid === undefined) {
    if (remote === null) return singleUsable(staticKeys.entries, alg);
    if (countUsable([staticKeys, remote], alg) !== 1) return undefined;
    return singleUsable(staticKeys.entries, alg) ?? singleUsable(remote.entries, alg);
  }
  const named = remote?.byKid.get(kid) ?? staticKeys.byKid.get(kid);
  if (named === undefined) return undefined;
  for (const entry of named) if (usableFor(entry, alg)) return entry.key;
  throw new SessionTokenError('invalid_signature', 'The signing key does not match the token algorithm.');
}

/**
 * The last lookup before giving up. A token whose kid matches nothing is
 * verified against the issuer's static key when it has exactly one for the
 * algorithm: a pinned key (Clerk's `CLERK_JWT_KEY`) stands alone, and the
 * identity provider's kid for it is unknown to us. The signature still has
 * to verify with that key. `keysUncertain`: the issuer's keys could not be
 * fetched just now, so an unknown kid may be one it has just started using.
 */
export function lastLookup(
  staticKeys: KeyIndex,
  remote: KeyIndex | null,
  kid: string | undefined,
  alg: AsymmetricAlgorithm,
  keysUncertain: boolean,
): KeyObject {
  if (remote === null && staticKeys.entries.length === 0) {
    throw new SessionTokenError('keys_unavailable', 'Signing keys for this issuer are currently unavailable.');
  }
  const found = findKey(staticKeys, remote, kid, alg);
  if (found !== undefined) return found;
  if (kid !== undefined) {
    const pinned = singleUsable(staticKeys.entries, alg);
    if (pinned !== undefined) return pinned;
  }
  if (keysUncertain) {
    throw new SessionTokenError('keys_unavailable', 'The token names a signing key that could not be loaded from the issuer yet.');
  }
  throw new SessionTokenError(
    'unknown_key',
    kid === undefined ? 'The token has no key id and the issuer has no single key for its algorithm.' : 'The token is signed with an unknown key.',
  );
}
