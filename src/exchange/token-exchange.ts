import type { StoreErrorAction, SyncFailureMode } from '../config/types.js';
import type { Logger, VerifiedSession } from '../identity/types.js';
import { evaluateAccess, profileFromClaims, type CompiledPolicy } from '../policy/index.js';
import type { SyncStore } from '../state/sync-store.js';
import { StreamUnavailableError, SyncStoreUnavailableError, UserRemovedError, type StreamUserSync } from '../stream/user-sync.js';
import type { StreamTokenMinter } from '../stream/token-minter.js';
import { AccessDeniedError, StreamNotConfiguredError } from './errors.js';

export interface TokenExchangeOptions {
  minter: StreamTokenMinter;
  apiKey: string;
  policy: CompiledPolicy;
  /** Where removed users are listed (and profile hashes cached). */
  store: SyncStore;
  /**
   * `REMOVED_USERS_ON_STORE_ERROR`, when the store cannot say whether the user was removed: issue
   * unless the store's memory of recent removals names the user (allow, default), or answer 503 (deny).
   */
  removedOnStoreError?: StoreErrorAction;
  /** Stream user operations; null when there is no Stream to talk to (dev mode with placeholder credentials). */
  streamUsers: StreamUserSync | null;
  /** Upsert the Stream user before issuing (`STREAM_SYNC_USERS`). */
  syncOnIssue: boolean;
  /** `STREAM_SYNC_FAILURE`: refuse (closed) or issue anyway (open) when Stream cannot be reached. */
  failureMode: SyncFailureMode;
  /** Called when a token is issued although the sync failed (open mode). */
  onIssuedWithoutSync?: () => void;
  logger?: Logger;
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

/** The body of a successful `POST /stream/revoke`. */
export interface RevokedStreamTokens {
  user_id: string;
  revoked_before: string;
}

/**
 * What happens between a verified session and a Stream token: the access
 * policy decides role and teams (or refuses), removed users are refused, the
 * Stream user record is brought in step, and only then a token is minted for
 * the verified subject. The user id has no other source.
 *
 * Refusals are domain errors (`AccessDeniedError`, `UserRemovedError`,
 * `StreamUnavailableError`, `StreamRejectedError`, `SyncStoreUnavailableError`,
 * `StreamNotConfiguredError`); the transport decides how each is answered.
 */
export class TokenExchange {
  readonly #options: TokenExchangeOptions;
  readonly #now: () => number;
  /** Role and teams matter only when the user is synced; without sync and without access rules there is nothing to decide. */
  readonly #needsPolicy: boolean;

  constructor(options: TokenExchangeOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const { policy } = options;
    const hasAccessRules = policy.denyUsers.size > 0 || policy.requireOrganizations !== null || policy.requireClaims.length > 0;
    this.#needsPolicy = hasAccessRules || (options.syncOnIssue && options.streamUsers !== null);
  }

  async issue(session: VerifiedSession): Promise<IssuedStreamToken> {
    const { policy, minter, apiKey } = this.#options;
    const decision = this.#needsPolicy ? evaluateAccess({ userId: session.userId, claims: session.claims }, policy) : null;
    if (decision !== null && !decision.allowed) throw new AccessDeniedError(decision.reason);

    // Before any sync: a removed user must not be written back to Stream.
    await this.#refuseRemoved(session.userId);
    if (decision !== null && this.#options.syncOnIssue && this.#options.streamUsers !== null) {
      const profile = profileFromClaims(session.claims);
      await this.#syncUser({ id: session.userId, ...profile, role: decision.role, teams: decision.teams });
    }

    const minted = minter.mint(session.userId);
    return {
      token: minted.token,
      user_id: minted.userId,
      api_key: apiKey,
      expires_in: Math.max(0, minted.expiresAt - Math.floor(this.#now() / 1000)),
      expires_at: minted.expiresAtIso,
    };
  }

  /** Revokes every Stream token of the caller minted before now ("sign out everywhere"). */
  async revoke(session: VerifiedSession): Promise<RevokedStreamTokens> {
    const streamUsers = this.#options.streamUsers;
    if (streamUsers === null) throw new StreamNotConfiguredError('Revocation');
    const nowMs = this.#now();
    await streamUsers.revokeTokens(session.userId, this.#options.minter.revocationCutoff(nowMs));
    return { user_id: session.userId, revoked_before: new Date(nowMs).toISOString() };
  }

  async #refuseRemoved(userId: string): Promise<void> {
    const { store } = this.#options;
    let removed: boolean;
    try {
      removed = await store.isRemoved(userId);
    } catch (err) {
      // Logged and counted once per outage by the store's breaker, not per request.
      if (this.#options.removedOnStoreError === 'deny') throw new SyncStoreUnavailableError('the sync store did not answer', err);
      removed = store.removedLocally?.(userId) ?? false;
    }
    if (removed) throw new UserRemovedError(userId);
  }

  async #syncUser(user: Parameters<StreamUserSync['syncOnIssue']>[0]): Promise<void> {
    try {
      await this.#options.streamUsers!.syncOnIssue(user);
    } catch (err) {
      if (err instanceof UserRemovedError || this.#options.failureMode === 'closed') throw err;
      // A call refused by the breaker or the cap is not logged per request: the breaker logs its changes, metrics count them.
      const refused = err instanceof StreamUnavailableError && err.refusedBy !== null;
      if (!refused) this.#options.logger?.warn({ userId: user.id, err }, 'Stream user sync failed: issuing anyway (STREAM_SYNC_FAILURE=open)');
      this.#options.onIssuedWithoutSync?.();
    }
  }
}
