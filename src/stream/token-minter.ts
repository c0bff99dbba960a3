import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/** base64url of `{"alg":"HS256","typ":"JWT"}`, byte for byte the header `stream-chat`'s `createToken` writes. */
const HEADER_SEGMENT = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');

export interface StreamTokenMinterOptions {
  /** The Stream API secret. */
  apiSecret: string;
  /** Lifetime counted from the (backdated) `iat`. */
  ttlSeconds: number;
  /** How far `iat` is set back, so a Stream edge whose clock runs behind does not see a token from the future. */
  backdateSeconds?: number;
  /** Clock in milliseconds; injectable for tests. */
  now?: () => number;
}

export interface MintedStreamToken {
  token: string;
  userId: string;
  /** `iat`, seconds since the epoch. */
  issuedAt: number;
  /** `exp`, seconds since the epoch. */
  expiresAt: number;
  /** `exp` as an ISO 8601 string, `new Date(expiresAt * 1000).toISOString()`. */
  expiresAtIso: string;
}

/**
 * Signs Stream Chat user tokens. The output is identical, byte for byte, to
 * `new StreamChat(key, secret).createToken(userId, exp, iat)` (proved by a
 * differential test), without the SDK's per-call `jsonwebtoken` overhead on
 * the request path.
 */
export class StreamTokenMinter {
  /** The secret is kept only as a KeyObject: no string or pad derived from it stays in the JavaScript heap. */
  readonly #key: KeyObject;
  readonly #ttlSeconds: number;
  readonly #backdateSeconds: number;
  readonly #now: () => number;
  constructor(options: StreamTokenMinterOptions) {
    if (options.apiSecret === '') throw new Error('StreamTokenMinter: apiSecret must not be empty');
    if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
      throw new Error('StreamTokenMinter: ttlSeconds must be a positive whole number');
    }
    this.#key = createSecretKey(Buffer.from(options.apiSecret));
    this.#ttlSeconds = options.ttlSeconds;
    this.#backdateSeconds = options.backdateSeconds ?? 5;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The `revoke_tokens_issued_before` that revokes every token minted up to
   * `atMs` (this second included). Tokens carry a backdated `iat`, so the
   * cutoff is shifted by the same amount; otherwise a token minted just before
   * a revocation would survive it.
   */
  revocationCutoff(atMs: number): Date {
    return new Date((Math.floor(atMs / 1000) - this.#backdateSeconds + 1) * 1000);
  }

  mint(userId: string): MintedStreamToken {
    const issuedAt = Math.floor(this.#now() / 1000) - this.#backdateSeconds;
    const expiresAt = issuedAt + this.#ttlSeconds;
    return {
      token: signStreamToken(this.#key, userId, expiresAt, issuedAt),
      userId,
      issuedAt,
      expiresAt,
      expiresAtIso: new Date(expiresAt * 1000).toISOString(),
    };
  }
}

/** The claim order `{user_id, exp, iat}` matches the SDK, so the tokens compare equal as strings. */
export function signStreamToken(key: KeyObject, userId: string, exp: number, iat: number): string {
  return signedToken(key, Buffer.from(JSON.stringify({ user_id: userId, exp, iat })).toString('base64url'));
}

/** `<header>.<payload>.<HS256 signature>`, the signature an HMAC-SHA256 of `<header>.<payload>`. */
function signedToken(key: KeyObject, payloadSegment: string): string {
  const signingInput = `${HEADER_SEGMENT}.${payloadSegment}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}
