/**
 * Keeps the Stream user record in step with the identity provider, through
 * the official `stream-chat` server SDK.
 *
 * On every token request `syncOnIssue` compares a hash of the profile it is
 * about to write with the one cached in the `SyncStore`; only a changed (or
 * expired) profile is upserted, so steady traffic costs Stream nothing.
 * Webhook events (user created, updated, deleted; sessions ended; membership
 * changes) call the other methods.
 *
 * Every Stream failure surfaces as `StreamUnavailableError` (retry later:
 * timeout, network, 5xx, 429, or refused by the `StreamCallGuard` without
 * calling Stream) or `StreamRejectedError` (other 4xx); the caller decides,
 * e.g. by `STREAM_SYNC_FAILURE=closed|open`. Every call goes through the
 * guard: a cap on concurrent calls and a circuit breaker.
 */

import { createHash } from 'node:crypto';
import type { StreamChat } from 'stream-chat';
import type { Logger } from '../identity/types.js';
import type { SyncStore } from '../state/sync-store.js';
import { StreamCallGuard } from './call-guard.js';
import {
  classifyStreamError,
  DEFAULT_RETRY_AFTER_SECONDS,
  isStreamNotFound,
  StreamRejectedError,
  StreamUnavailableError,
  SyncStoreUnavailableError,
  UserRemovedError,
  type StreamCallRefusal,
  type StreamOperation,
} from './sync-errors.js';
import { UserLanes } from './user-lanes.js';

export {
  StreamRejectedError,
  StreamUnavailableError,
  SyncStoreUnavailableError,
  UserRemovedError,
  type StreamCallRefusal,
  type StreamOperation,
} from './sync-errors.js';
export { StreamCallGuard, type StreamCallGuardOptions, type StreamCallGuardStatus } from './call-guard.js';

/** What `STREAM_ON_USER_DELETED` asks for when the identity provider deletes a user. */
export type UserDeletedMode = 'deactivate' | 'delete' | 'none';

/** The Stream user the service writes. The service owns these fields. */
export interface StreamUserInput {
  id: string;
  name?: string;
  image?: string;
  role: string;
  /** Stream multi-tenancy teams. See `manageTeams` for when an empty list is sent. */
  teams: string[];
}

export interface MembershipChange {
  userId: string;
  role: string;
  /** New teams; leave undefined when the policy assigns no teams, so Stream's are left alone. */
  teams?: string[];
}

export type StreamCallOutcome = 'success' | 'not_found' | 'unavailable' | 'rejected' | 'error';

/** Hooks for metrics; every one optional and called synchronously. */
export interface UserSyncObserver {
  streamCall?(operation: StreamOperation, outcome: StreamCallOutcome): void;
  /** A call the guard refused without calling Stream. */
  streamCallRefused?(operation: StreamOperation, reason: StreamCallRefusal): void;
  /** `hit`: the cached hash matched and Stream was not called. */
  profileCache?(outcome: 'hit' | 'miss'): void;
}

/** The SDK methods used; a `StreamChat` server client satisfies it. */
export type StreamServerClient = Pick<StreamChat, 'upsertUser' | 'partialUpdateUser' | 'revokeUserToken' | 'deactivateUser' | 'deleteUser'>;

export interface StreamUserSyncOptions {
  /** `new StreamChat(key, secret, { baseURL, timeout })`, not the shared singleton. */
  client: StreamServerClient;
  store: SyncStore;
  /** `STREAM_SYNC_TTL_SECONDS`: how long an upserted profile is trusted. 0 upserts on every request. Default 3600. */
  profileTtlSeconds?: number;
  /**
   * The policy assigns teams (`teams:` in the policy file): send `teams` on
   * every upsert, an empty list included, so a user who left its last
   * organization loses its team. When false (default), `teams` is sent only
   * when non-empty, which suits apps without Stream multi-tenancy.
   * Wire as `manageTeams: policy.teams !== null`.
   */
  manageTeams?: boolean;
  /** Cap and breaker for every call; one per app, so tokens, revocations and webhooks share it. Default: a guard of its own with default settings. */
  guard?: StreamCallGuard;
  /** Retry hint when Stream gives none. Default 5. */
  defaultRetryAfterSeconds?: number;
  /** `syncOnIssue` refuses removed users itself. Default true; false when the caller has checked already. */
  checkRemoved?: boolean;
  observer?: UserSyncObserver;
  logger?: Logger;
}

export type SyncOutcome = 'synced' | 'unchanged';

const HASH_VERSION = 'v1';

/** A stable hash of what is written to Stream: sha256 over canonical JSON, base64url. */
export function profileHash(user: StreamUserInput): string {
  const teams = [...new Set(user.teams)].sort();
  const canonical = JSON.stringify([HASH_VERSION, user.id, user.name ?? null, user.image ?? null, user.role, teams]);
  return createHash('sha256').update(canonical).digest('base64url');
}

function toStreamUser(user: StreamUserInput, manageTeams: boolean): { id: string; role: string; name?: string; image?: string; teams?: string[] } {
  const out: { id: string; role: string; name?: string; image?: string; teams?: string[] } = { id: user.id, role: user.role };
  if (user.name !== undefined) out.name = user.name;
  if (user.image !== undefined) out.image = user.image;
  if (manageTeams || user.teams.length > 0) out.teams = [...new Set(user.teams)];
  return out;
}

export class StreamUserSync {
  readonly #client: StreamServerClient;
  readonly #store: SyncStore;
  readonly #ttlSeconds: number;
  readonly #retryAfter: number;
  readonly #manageTeams: boolean;
  readonly #observer: UserSyncObserver;
  readonly #logger: Logger | undefined;
  readonly #guard: StreamCallGuard;
  /** Upserts on token requests, one in flight per user, so a burst for one user makes one call. */
  readonly #lanes = new UserLanes();
  readonly #checkRemoved: boolean;

  constructor(options: StreamUserSyncOptions) {
    this.#client = options.client;
    this.#store = options.store;
    const ttl = options.profileTtlSeconds ?? 3600;
    if (!Number.isFinite(ttl) || ttl < 0) throw new RangeError('profileTtlSeconds must be 0 or more');
    this.#ttlSeconds = ttl;
    this.#retryAfter = options.defaultRetryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
    this.#manageTeams = options.manageTeams ?? false;
    this.#observer = options.observer ?? {};
    this.#logger = options.logger;
    this.#guard = options.guard ?? new StreamCallGuard(options.logger !== undefined ? { logger: options.logger } : {});
    this.#checkRemoved = options.checkRemoved ?? true;
  }

  /** The cap and breaker every call goes through. */
  get guard(): StreamCallGuard {
    return this.#guard;
  }

  /** Whether a `user.deleted` webhook removed this user. Throws `SyncStoreUnavailableError`. */
  async isRemoved(userId: string): Promise<boolean> {
    try {
      return await this.#store.isRemoved(userId);
    } catch (error) {
      throw new SyncStoreUnavailableError('the sync store did not answer', error);
    }
  }

  /**
   * Before a token is issued: refuse removed users, then upsert the user
   * unless the cached profile hash says Stream already has this profile.
   *
   * @throws UserRemovedError the user was deleted at the identity provider (answer 403)
   * @throws StreamUnavailableError / StreamRejectedError the upsert failed
   * @throws SyncStoreUnavailableError the removed-user list could not be read
   */
  async syncOnIssue(user: StreamUserInput): Promise<SyncOutcome> {
    const [removed, cached] = await Promise.all([
      this.#checkRemoved ? this.isRemoved(user.id) : false,
      this.#store.getProfileHash(user.id).catch((error: unknown) => {
        this.#logger?.warn({ err: error }, 'profile cache read failed; upserting');
        return null;
      }),
    ]);
    if (removed) throw new UserRemovedError(user.id);
    const hash = profileHash(user);
    if (cached === hash) {
      this.#observer.profileCache?.('hit');
      return 'unchanged';
    }
    this.#observer.profileCache?.('miss');

    await this.#lanes.run(user.id, hash, () => this.#upsertAndCache(user, hash));
    return 'synced';
  }

  async #upsertAndCache(user: StreamUserInput, hash: string): Promise<void> {
    await this.#call('upsert_user', () => this.#client.upsertUser(toStreamUser(user, this.#manageTeams)));
    if (this.#ttlSeconds > 0) {
      await this.#store.setProfileHash(user.id, hash, this.#ttlSeconds).catch((error: unknown) => {
        this.#logger?.warn({ err: error }, 'profile cache write failed');
      });
    }
  }

  /**
   * Revoke every Stream token of this user issued before `before`. A user
   * Stream does not know has no tokens to revoke: that counts as done.
   */
  async revokeTokens(userId: string, before: Date): Promise<void> {
    await this.#call('revoke_tokens', () => this.#client.revokeUserToken(userId, before), { notFoundIsDone: true });
  }

  /**
   * The identity provider deleted the user. In every mode the user is marked
   * removed (refused tokens) and its cached hash is dropped; then
   *   - `deactivate`: Stream deactivates the user (reversible; messages kept),
   *   - `delete`: Stream soft-deletes the user (Stream's default: the user is
   *     hidden, its messages stay; not `hard_delete`),
   *   - `none`: Stream is not called.
   * A user Stream does not know counts as done, so a redelivery is harmless.
   */
  async onUserDeleted(userId: string, mode: UserDeletedMode): Promise<void> {
    try {
      await this.#store.markRemoved(userId);
      await this.#store.forget(userId);
    } catch (error) {
      throw new SyncStoreUnavailableError('the sync store did not answer', error);
    }
    if (mode === 'deactivate') {
      await this.#call('deactivate_user', () => this.#client.deactivateUser(userId, { mark_messages_deleted: false }), {
        notFoundIsDone: true,
        alreadyGoneIsDone: true,
      });
    } else if (mode === 'delete') {
      await this.#call('delete_user', () => this.#client.deleteUser(userId, { mark_messages_deleted: false, hard_delete: false }), {
        notFoundIsDone: true,
        alreadyGoneIsDone: true,
      });
    }
  }

  /**
   * A user was created or updated at the identity provider: lift any removal
   * mark and upsert. The cached hash is dropped rather than set, because the
   * next token request derives the profile from the session's own claims,
   * which may say more than the webhook did.
   */
  async onUserUpserted(user: StreamUserInput): Promise<void> {
    try {
      await this.#store.clearRemoved(user.id);
    } catch (error) {
      throw new SyncStoreUnavailableError('the sync store did not answer', error);
    }
    await this.#call('upsert_user', () => this.#client.upsertUser(toStreamUser(user, this.#manageTeams)));
    await this.#forgetQuietly(user.id);
  }

  /**
   * An organization membership changed: set the recomputed role (and teams)
   * with a partial update, leaving the rest of the Stream user alone, and drop
   * the cached hash so the next token request writes the full profile. A user
   * Stream does not know yet is left for its first token request.
   */
  async onMembershipChanged(change: MembershipChange): Promise<void> {
    await this.#forgetQuietly(change.userId);
    const set: { role: string; teams?: string[] } = { role: change.role };
    if (change.teams !== undefined) set.teams = [...new Set(change.teams)];
    await this.#call('partial_update_user', () => this.#client.partialUpdateUser({ id: change.userId, set }), {
      notFoundIsDone: true,
    });
    await this.#forgetQuietly(change.userId);
  }

  async #forgetQuietly(userId: string): Promise<void> {
    try {
      await this.#store.forget(userId);
    } catch (error) {
      this.#logger?.warn({ err: error }, 'profile cache delete failed');
    }
  }

  async #call(operation: StreamOperation, fn: () => Promise<unknown>, options: CallOptions = {}): Promise<void> {
    let done: 'success' | 'not_found';
    try {
      done = await this.#guard.run(operation, () => this.#attempt(operation, fn, options));
    } catch (error) {
      if (error instanceof StreamUnavailableError && error.refusedBy !== null) {
        // Not logged per call: the breaker logs when it opens and closes, and metrics count these.
        this.#observer.streamCallRefused?.(operation, error.refusedBy);
        throw error;
      }
      const outcome: StreamCallOutcome = error instanceof StreamUnavailableError ? 'unavailable' : error instanceof StreamRejectedError ? 'rejected' : 'error';
      this.#observer.streamCall?.(operation, outcome);
      this.#logger?.warn({ operation, outcome, err: error }, 'Stream call failed');
      throw error;
    }
    this.#observer.streamCall?.(operation, done);
  }

  /** One SDK call; throws the classified error, so the guard can tell Stream's faults from its refusals. */
  async #attempt(operation: StreamOperation, fn: () => Promise<unknown>, options: CallOptions): Promise<'success' | 'not_found'> {
    try {
      await fn();
      return 'success';
    } catch (error) {
      if (options.notFoundIsDone === true && isStreamNotFound(error)) return 'not_found';
      if (options.alreadyGoneIsDone === true && isAlreadyGone(error)) return 'success';
      throw classifyStreamError(operation, error, this.#retryAfter);
    }
  }
}

interface CallOptions {
  notFoundIsDone?: boolean;
  alreadyGoneIsDone?: boolean;
}

/** Deactivating a deactivated user, or deleting a deleted one. */
function isAlreadyGone(error: unknown): boolean {
  const response = (error as { response?: { status?: unknown; data?: { message?: unknown } } } | null)?.response;
  if (response === undefined || typeof response.status !== 'number' || response.status >= 500) return false;
  const message = typeof response.data?.message === 'string' ? response.data.message : '';
  return /already (been )?(deactivated|deleted)/i.test(message);
}
