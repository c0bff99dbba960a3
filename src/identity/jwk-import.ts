import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { DocumentFetchError } from './fetch-json.js';
import { isAsymmetricAlgorithm, keyFitsAlgorithm } from './jws.js';
import { addToIndex, emptyIndex, type KeyEntry, type KeyIndex } from './key-index.js';
import { jwkThumbprint } from './thumbprint.js';
import type { AsymmetricAlgorithm, IssuerOptions } from './types.js';
import { isRecord } from '../shared/is-record.js';

/** JWK members that only a private or symmetric key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const SUPPORTED_KTY: ReadonlySet<unknown> = new Set(['RSA', 'EC', 'OKP']);

/** Identity of a key: its RFC 7638 thumbprint, or a hash of its SPKI when it has no JWK form (RSA-PSS). */
function keyIdentity(key: KeyObject): string {
  try {
    return jwkThumbprint(key);
  } catch {
    return `spki:${createHash('sha256')
      .update(key.export({ format: 'der', type: 'spki' }))
      .digest('base64url')}`;
  }
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
  if (!isRecord(document)) throw new DocumentFetchError('JWKS document is not a JSON object');
  const keys = document['keys'];
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
  if (!isRecord(candidate)) return null;
  const jwk = candidate;
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
