import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBase64Url } from '../identity/base64url.js';
import { jwkThumbprint } from '../identity/thumbprint.js';
import type { IssuerOptions } from '../identity/types.js';

/** A local issuer of session tokens for development. Never trusted outside dev mode. */
export interface DevIssuer {
  readonly issuer: string;
  /** The public JWKS, to serve at a JWKS endpoint. */
  readonly jwks: { keys: JsonWebKey[] };
  /** Options to trust this issuer in a `SessionVerifier`. */
  readonly issuerOptions: IssuerOptions;
  /**
   * Signs a session token for `userId`. `claims` are merged over the defaults
   * (`iss`, `iat`, `nbf`, `exp`, `sid`), so any of them can be overridden, e.g.
   * an `exp` in the past; `sub` is always `userId`.
   */
  sign(userId: string, claims?: Record<string, unknown>): string;
}

export interface DevIssuerOptions {
  /** Where `issuer-key.json` is kept; created with mode 0700 if missing. */
  directory: string;
  issuer: string;
  /** Lifetime of signed tokens; default 600. */
  tokenTtlSeconds?: number;
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  now?: () => number;
}

export const DEV_ISSUER_KEY_FILE = 'issuer-key.json';

function readPrivateKey(path: string): KeyObject {
  let jwk: unknown;
  try {
    jwk = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new Error(`The development issuer key ${path} is not valid JSON.`);
  }
  const record = jwk as Record<string, unknown> | null;
  if (typeof record !== 'object' || record === null || record['kty'] !== 'RSA' || typeof record['d'] !== 'string') {
    throw new Error(`The development issuer key ${path} is not an RSA private JWK.`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: record as JsonWebKey, format: 'jwk' });
  } catch {
    throw new Error(`The development issuer key ${path} cannot be imported.`);
  }
  if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new Error(`The development issuer key ${path} is shorter than 2048 bits.`);
  }
  // The file is a signing secret: keep it private even if its mode was loosened.
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return key;
}

/** Writes the new key without ever exposing a partial file; another process may win the race. */
function writePrivateKey(path: string, key: KeyObject): void {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(key.export({ format: 'jwk' }))}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
}

function loadOrCreateKey(directory: string): KeyObject {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const path = join(directory, DEV_ISSUER_KEY_FILE);
  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writePrivateKey(path, privateKey);
  }
  // Read back even after creating it, so concurrent first starts agree on one key.
  return readPrivateKey(path);
}

/**
 * Loads the development issuer's RSA-2048 key from
 * `<directory>/issuer-key.json`, creating it (mode 0600) the first time, and
 * returns a signer plus the options to trust it. The key id is the key's
 * RFC 7638 thumbprint, so it is stable across restarts.
 */
export function loadOrCreateDevIssuer(options: DevIssuerOptions): DevIssuer {
  const { issuer, directory } = options;
  if (typeof issuer !== 'string' || issuer.length === 0) throw new Error('The development issuer needs a non-empty issuer.');
  const ttl = options.tokenTtlSeconds ?? 600;
  if (!Number.isFinite(ttl) || ttl <= 0) throw new Error('tokenTtlSeconds must be a positive number.');
  const now = options.now ?? Date.now;

  const privateKey = loadOrCreateKey(directory);
  const publicKey = createPublicKey(privateKey);
  const kid = jwkThumbprint(publicKey);
  const publicJwk: JsonWebKey = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const encodedHeader = encodeBase64Url(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' }));

  const issuerOptions: IssuerOptions = {
    kind: 'dev',
    issuer,
    staticKeys: [publicKey],
    algorithms: ['RS256'],
    userIdClaim: 'sub',
    authorizedParties: [],
    requireAuthorizedParty: false,
    allowImpersonation: false,
  };

  return {
    issuer,
    jwks: { keys: [publicJwk] },
    issuerOptions,
    sign(userId: string, claims: Record<string, unknown> = {}): string {
      const issuedAt = Math.floor(now() / 1000);
      const payload: Record<string, unknown> = {
        iss: issuer,
        sub: userId,
        iat: issuedAt,
        nbf: issuedAt,
        exp: issuedAt + ttl,
        sid: `sess_dev_${randomBytes(12).toString('hex')}`,
        ...claims,
      };
      payload['sub'] = userId;
      const signingInput = `${encodedHeader}.${encodeBase64Url(JSON.stringify(payload))}`;
      const signature = cryptoSign('sha256', Buffer.from(signingInput, 'ascii'), privateKey);
      return `${signingInput}.${encodeBase64Url(signature)}`;
    },
  };
}
