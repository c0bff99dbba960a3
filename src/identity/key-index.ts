import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SessionTokenError } from './errors.js';
import { DocumentFetchError } from './fetch-json.js';
import { isAsymmetricAlgorithm, keyFitsAlgorithm } from './jws.js';
import { jwkThumbprint } from './thumbprint.js';
import type { AsymmetricAlgorithm, IssuerOptions } from './types.js';

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

/** JWK members that only a private or symmetric key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const SUPPORTED_KTY: ReadonlySet<unknown> = new Set(['RSA', 'EC', 'OKP']);

function emptyIndex(): KeyIndex {
  return { entries: [], byKid: new Map() };
}

function addToIndex(index: KeyIndex, entry: KeyEntry, kid: string | undefined): void {
  index.entries.push(entry);
  if (kid === undefined) return;
  const list = index.byKid.get(kid);
  if (list) list.push(entry);
  else index.byKid.set(kid, [entry]);
}

/** Identity of a key: its RFC 7638 thumbprint, or a hash of its SPKI when it has no JWK form (RSA-PSS). */
function keyIdentity(key: KeyObject): string {
  try {
    return jwkThumbprint(key);
  } catch {
    return `spki:${createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('base64url')}`;
  }
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

/** The issuer's static keys, each distinct key once; throws when one cannot verify any allowed algorithm. */
export function indexStaticKeys(issuer: IssuerOptions): KeyIndex {
  const index = emptyIndex();
  const seen = new Set<string>();
  for (const key of issuer.staticKeys ?? []) {
    if (key?.type !== 'public' || !issuer.algorithms.some((alg) => keyFitsAlgorithm(key, alg))) {
      throw new Error(`A static key of issuer ${issuer.issuer} is not a public key usable with its algorithms (${issuer.algorithms.join(', ')}).`);
    }
    const thumbprint = keyIdentity(key);
    if (seen.has(thumbprint)) continue;
    seen.add(thumbprint);
    // Static keys have no kid of their own; their thumbprint stands in (the dev issuer uses it).
    addToIndex(index, { key, alg: undefined, thumbprint }, thumbprint);
  }
  return index;
}

/**
 * The signature keys of a JWKS document usable with one of `algorithms`.
 * Unusable keys are skipped and counted; a document that lists keys but none
 * usable throws `DocumentFetchError`.
 */
export function importJwks(document: unknown, algorithms: readonly AsymmetricAlgorithm[]): { index: KeyIndex; skipped: number } {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new DocumentFetchError('JWKS document is not a JSON object');
  }
  const keys = (document as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new DocumentFetchError('JWKS document has no "keys" array');
  const index = emptyIndex();
  let skipped = 0;
  for (const candidate of keys) {
    const entry = importJwk(candidate, algorithms);
    if (entry === null) {
      skipped++;
      continue;
    }
    addToIndex(index, entry.entry, entry.kid);
  }
  // An empty list is the issuer's word that no key signs any more; keys it lists but none usable is a mistake.
  if (index.entries.length === 0 && keys.length > 0) {
    throw new DocumentFetchError(`JWKS document has no usable signing keys (${skipped} skipped)`);
  }
  return { index, skipped };
}

function importJwk(candidate: unknown, allowed: readonly AsymmetricAlgorithm[]): { entry: KeyEntry; kid: string | undefined } | null {
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) return null;
  const jwk = candidate as Record<string, unknown>;
  if (!SUPPORTED_KTY.has(jwk['kty'])) return null;
  if (jwk['use'] !== undefined && jwk['use'] !== 'sig') return null;
  const keyOps = jwk['key_ops'];
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('verify'))) return null;
  for (const member of PRIVATE_MEMBERS) if (jwk[member] !== undefined) return null;
  const kid = jwk['kid'];
  if (kid !== undefined && typeof kid !== 'string') return null;
  const jwkAlg = jwk['alg'];
  let alg: AsymmetricAlgorithm | undefined;
  if (jwkAlg !== undefined) {
    // A symmetric, encryption or unknown alg makes the key unusable for us.
    if (!isAsymmetricAlgorithm(jwkAlg)) return null;
    alg = jwkAlg;
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return null;
  }
  const fits = alg === undefined ? allowed.some((a) => keyFitsAlgorithm(key, a)) : allowed.includes(alg) && keyFitsAlgorithm(key, alg);
  if (!fits) return null;
  return { entry: { key, alg, thumbprint: keyIdentity(key) }, kid };
}
