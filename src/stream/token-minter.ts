import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';

/** base64url of `{"alg":"HS256","typ":"JWT"}`, byte for byte the header `stream-chat`'s `createToken` writes. */
const HEADER_SEGMENT = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');

/** SHA-256 block size: HMAC keys longer than this are hashed first, shorter ones padded with zeros (RFC 2104). */
const BLOCK_BYTES = 64;
const DIGEST_BYTES = 32;

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
  /** `exp` as an ISO 8601 string, `new Date(expiresAt * 1000).toISOString()` (formatted once per second, not per token). */
  expiresAtIso: string;
}

/**
 * HMAC-SHA256 (RFC 2104) of `<header>.<payload>` with the Stream secret, as
 * two one-shot SHA-256 hashes over the precomputed key pads: the same bytes
 * `createHmac` produces, without building an Hmac object per token. Used when
 * the padded key is ASCII (any ASCII secret), so the inner hash can take its
 * input as one string; other secrets keep `createHmac`.
 */
class StreamSigner {
  /** `key ⊕ ipad` as text, then the header segment and its dot: the start of every inner hash input. */
  readonly #innerPrefix: string | null;
  /** `key ⊕ opad`, followed by room for the inner digest. Filled and hashed synchronously per token. */
  readonly #outer: Buffer;
  readonly #key: KeyObject;

  constructor(secret: Buffer) {
    this.#key = createSecretKey(secret);
    const key = secret.length > BLOCK_BYTES ? hash('sha256', secret, 'buffer') : secret;
    const ipad = Buffer.alloc(BLOCK_BYTES, 0x36);
    const outer = Buffer.alloc(BLOCK_BYTES + DIGEST_BYTES);
    outer.fill(0x5c, 0, BLOCK_BYTES);
    for (let i = 0; i < key.length; i++) {
      ipad[i]! ^= key[i]!;
      outer[i]! ^= key[i]!;
    }
    // A string given to crypto.hash is hashed as UTF-8, which equals latin1 only below 0x80.
    this.#innerPrefix = ipad.every((byte) => byte < 0x80) ? `${ipad.toString('latin1')}${HEADER_SEGMENT}.` : null;
    this.#outer = outer;
  }

  /** base64url HMAC-SHA256 of `<header>.<payloadSegment>`. */
  sign(payloadSegment: string): string {
    if (this.#innerPrefix === null) {
      return createHmac('sha256', this.#key).update(`${HEADER_SEGMENT}.${payloadSegment}`).digest('base64url');
    }
    const outer = this.#outer;
    hash('sha256', this.#innerPrefix + payloadSegment, 'buffer').copy(outer, BLOCK_BYTES);
    return hash('sha256', outer, 'base64url');
  }
}

/**
 * Signs Stream Chat user tokens. The output is identical, byte for byte, to
 * `new StreamChat(key, secret).createToken(userId, exp, iat)` (proved by a
 * differential test), without the SDK's per-call `jsonwebtoken` overhead on
 * the request path.
 */
export class StreamTokenMinter {
  readonly #signer: StreamSigner;
  readonly #ttlSeconds: number;
  readonly #backdateSeconds: number;
  readonly #now: () => number;
  /** The second the fields below were computed for; they change at most once a second. */
  #second = Number.NaN;
  #issuedAt = 0;
  #expiresAt = 0;
  #expiresAtIso = '';
  /** `,"exp":…,"iat":…}`: the end of the payload JSON, after the user id. */
  #claimsTail = '';

  constructor(options: StreamTokenMinterOptions) {
    if (options.apiSecret === '') throw new Error('StreamTokenMinter: apiSecret must not be empty');
    if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
      throw new Error('StreamTokenMinter: ttlSeconds must be a positive whole number');
    }
    this.#signer = new StreamSigner(Buffer.from(options.apiSecret, 'utf8'));
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
    const second = Math.floor(this.#now() / 1000);
    if (second !== this.#second) this.#enterSecond(second);
    // `{user_id, exp, iat}` in the SDK's order; JSON.stringify of the object writes exactly this text.
    const payload = Buffer.from(`{"user_id":${JSON.stringify(userId)}${this.#claimsTail}`, 'utf8').toString('base64url');
    return {
      token: `${HEADER_SEGMENT}.${payload}.${this.#signer.sign(payload)}`,
      userId,
      issuedAt: this.#issuedAt,
      expiresAt: this.#expiresAt,
      expiresAtIso: this.#expiresAtIso,
    };
  }

  #enterSecond(second: number): void {
    const issuedAt = second - this.#backdateSeconds;
    const expiresAt = issuedAt + this.#ttlSeconds;
    this.#issuedAt = issuedAt;
    this.#expiresAt = expiresAt;
    this.#expiresAtIso = new Date(expiresAt * 1000).toISOString();
    this.#claimsTail = `,"exp":${JSON.stringify(expiresAt)},"iat":${JSON.stringify(issuedAt)}}`;
    this.#second = second;
  }
}

/** The claim order `{user_id, exp, iat}` matches the SDK, so the tokens compare equal as strings. */
export function signStreamToken(key: KeyObject, userId: string, exp: number, iat: number): string {
  const payload = Buffer.from(JSON.stringify({ user_id: userId, exp, iat })).toString('base64url');
  const signingInput = `${HEADER_SEGMENT}.${payload}`;
  const signature = createHmac('sha256', key).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}
