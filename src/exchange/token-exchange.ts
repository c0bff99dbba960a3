import type { SessionVerifier } from '../identity/session-verifier.js';
import type { StreamTokenMinter } from '../stream/token-minter.js';

export interface TokenExchangeOptions {
  verifier: Pick<SessionVerifier, 'verify'>;
  minter: StreamTokenMinter;
  apiKey: string;
  now?: () => number;
}

/** The body of a successful `POST /stream/token`. */
export interface IssuedStreamToken {
  token: string;
  user_id: string;
  api_key: string;
  expires_in: number;
  expires_at: string;
}

/**
 * Session token in, Stream token out: verify, then mint for the verified
 * subject. The user id has no other source.
 */
export class TokenExchange {
  readonly #verifier: Pick<SessionVerifier, 'verify'>;
  readonly #minter: StreamTokenMinter;
  readonly #apiKey: string;
  readonly #now: () => number;

  constructor(options: TokenExchangeOptions) {
    this.#verifier = options.verifier;
    this.#minter = options.minter;
    this.#apiKey = options.apiKey;
    this.#now = options.now ?? Date.now;
  }

  /** `onVerified` learns the user id as soon as it is verified, so a later refusal is still attributed in logs. */
  async issue(sessionToken: string, onVerified?: (userId: string) => void): Promise<IssuedStreamToken> {
    const session = await this.#verifier.verify(sessionToken);
    onVerified?.(session.userId);
    const minted = this.#minter.mint(session.userId);
    return {
      token: minted.token,
      user_id: minted.userId,
      api_key: this.#apiKey,
      expires_in: Math.max(0, minted.expiresAt - Math.floor(this.#now() / 1000)),
      expires_at: new Date(minted.expiresAt * 1000).toISOString(),
    };
  }
}
