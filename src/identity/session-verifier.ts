import type { KeyObject } from 'node:crypto';
import { HeaderCache } from './header-cache.js';
import { acceptClaims, asSessionTokenError, invalidSignature, isSigned, keyFor, type PendingVerification } from './session-checks.js';
import { assertHeaderAccepted } from './token-header.js';
import { routeByIssuer, trustIssuers, type TrustedIssuer } from './trusted-issuers.js';
import { TurnBatch } from './turn-batch.js';
import type { IssuerKeyStatus, IssuerOptions, KeySetTiming, Logger, VerifiedSession, VerifierObserver } from './types.js';

export { BATCH_PASS_SIZE } from './turn-batch.js';

export interface SessionVerifierOptions {
  issuers: IssuerOptions[];
  keySetTiming: KeySetTiming;
  clockSkewSeconds: number;
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  now?: () => number;
  /** Used for JWKS and discovery requests; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  logger?: Logger;
  observer?: VerifierObserver;
  /**
   * Verify the tokens that arrive in one turn of the event loop together (see
   * `TurnBatch`). Off by default: one-at-a-time callers would only add a turn
   * per call.
   */
  batch?: boolean;
}

/**
 * Verifies identity-provider session tokens. Checks run in this order:
 * parse → header types → route by the (unverified) `iss` → `alg` allow-list
 * → `typ` (required for Clerk, dev, and OIDC issuers with `tokenTypes`) →
 * `cat` → `crit`/`b64` → key by `kid` → signature → claims.
 * `jku`, `x5u`, `jwk` and `x5c` headers are never read: keys come only from
 * the configuration and the issuer's own JWKS.
 */
export class SessionVerifier {
  private readonly issuers: ReadonlyMap<string, TrustedIssuer>;
  private readonly headers = new HeaderCache();
  private readonly clockSkewSeconds: number;
  private readonly now: () => number;
  private readonly batch: TurnBatch | null;

  constructor(options: SessionVerifierOptions) {
    if (!Array.isArray(options.issuers) || options.issuers.length === 0) {
      throw new Error('At least one trusted issuer is required.');
    }
    if (typeof options.clockSkewSeconds !== 'number' || !Number.isFinite(options.clockSkewSeconds) || options.clockSkewSeconds < 0) {
      throw new Error('clockSkewSeconds must be a finite non-negative number.');
    }
    this.clockSkewSeconds = options.clockSkewSeconds;
    this.now = options.now ?? Date.now;
    this.issuers = trustIssuers(options.issuers, {
      timing: options.keySetTiming,
      now: this.now,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.observer ? { observer: options.observer } : {}),
    });
    this.batch =
      options.batch === true
        ? new TurnBatch({
            inspect: (token) => this.inspect(token),
            whenKeyed: (pending, key) => this.whenKeyed(pending, key),
            accept: (pending, nowMs) => this.accept(pending, nowMs),
            now: this.now,
          })
        : null;
  }

  /** Loads every issuer's keys once. Never rejects: failures are logged and retried. */
  async start(): Promise<void> {
    await Promise.all([...this.issuers.values()].map((issuer) => issuer.keySet.start().catch(() => undefined)));
  }

  /** Verifies a session token; rejects only with `SessionTokenError`. */
  verify(token: string): Promise<VerifiedSession> {
    if (this.batch !== null) return this.batch.verify(token);
    try {
      const pending = this.inspect(token);
      const key = keyFor(pending);
      return key instanceof Promise ? this.whenKeyed(pending, key) : Promise.resolve(this.complete(pending, key));
    } catch (error) {
      return Promise.reject(asSessionTokenError(error));
    }
  }

  /** Header segments remembered (see `HeaderCache`); for tests. */
  get cachedHeaderCount(): number {
    return this.headers.size;
  }

  /** Every issuer has loaded keys at least once and they have not expired past the stale limit. */
  isReady(): boolean {
    for (const issuer of this.issuers.values()) if (!issuer.keySet.isReady()) return false;
    return true;
  }

  status(): IssuerKeyStatus[] {
    return [...this.issuers.values()].map((issuer) => issuer.keySet.status());
  }

  /** Stops background key refreshes so the process can exit. */
  close(): void {
    for (const issuer of this.issuers.values()) issuer.keySet.close();
  }

  /** Everything that can be decided before a key is needed: read, route by `iss`, the issuer's header rules. */
  private inspect(token: string): PendingVerification {
    const { secondDot, header, payload } = this.headers.read(token);
    const issuer = routeByIssuer(this.issuers, payload);
    const alg = assertHeaderAccepted(header, issuer);
    return { issuer, token, secondDot, payload, alg, kid: header.kid };
  }

  private whenKeyed(pending: PendingVerification, key: Promise<KeyObject>): Promise<VerifiedSession> {
    return key
      .then((resolved) => this.complete(pending, resolved))
      .catch((error: unknown) => {
        throw asSessionTokenError(error);
      });
  }

  private accept(pending: PendingVerification, nowMs: number): VerifiedSession {
    return acceptClaims(pending, nowMs, this.clockSkewSeconds);
  }

  private complete(pending: PendingVerification, key: KeyObject): VerifiedSession {
    if (!isSigned(pending, key)) throw invalidSignature();
    return this.accept(pending, this.now());
  }
}
