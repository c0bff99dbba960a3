import { createHash, type KeyObject } from 'node:crypto';

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: the hash of
 * the required members in lexicographic order, no whitespace. Used as the
 * `kid` of keys that have none of their own and to recognise the same key
 * arriving twice.
 */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  let canonical: string;
  switch (jwk.kty) {
    case 'RSA':
      canonical = JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
      break;
    case 'EC':
      canonical = JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
      break;
    case 'OKP':
      canonical = JSON.stringify({ crv: jwk.crv, kty: 'OKP', x: jwk.x });
      break;
    default:
      throw new TypeError('Cannot compute a JWK thumbprint for this key type.');
  }
  return createHash('sha256').update(canonical).digest('base64url');
}
