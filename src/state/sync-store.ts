/**
 * Small pieces of state the user sync and the Clerk webhooks keep between
 * requests: a per-user profile hash (so an unchanged profile is not sent to
 * Stream again), the users removed by a `user.deleted` webhook (refused
 * tokens from then on), the webhook ids already applied (replay guard), and
 * the order of each user's identity-provider events (see user-event-order.ts).
 *
 * `MemorySyncStore` serves a single instance; `RedisSyncStore` is used when
 * `REDIS_URL` is set, so every instance sees the same state, and keeps a
 * little of it in memory for when Redis cannot be reached.
 */

import { BoundedTtlMap } from './bounded-ttl-map.js';
import { SyncStoreUnavailableError } from '../stream/sync-errors.js';
import type { RedisBreaker } from './redis-breaker.js';
import type { RedisClient } from './redis.js';
import { eventOrder, nextRecord, RECORD_USER_EVENT_SCRIPT, recordsDeletion, type UserEventStamp } from './user-event-order.js';

export interface SyncStore {
  /** The cached profile hash, or `null` when absent or expired. */
  getProfileHash(userId: string): Promise<string | null>;
  setProfileHash(userId: string, hash: string, ttlSeconds: number): Promise<void>;
  /** Drop the cached profile hash, so the next token request upserts again. */
  forget(userId: string): Promise<void>;

  markRemoved(userId: string): Promise<void>;
  clearRemoved(userId: string): Promise<void>;
  /** Marked removed, or the last user event applied for it (`recordUserEvent`) was a deletion. */
  isRemoved(userId: string): Promise<boolean>;
  /**
   * Whether this process applied or read a removal of the user recently, without asking a shared
   * store: the answer used when `isRemoved` cannot be (REMOVED_USERS_ON_STORE_ERROR=allow).
   * Stores that cannot fail leave it out.
   */
  removedLocally?(userId: string): boolean;

  /**
   * Records an identity-provider event for the user unless it is older than
   * the last one applied (see user-event-order.ts): `true` when the event is to
   * be applied, `false` when it is stale. Atomic across instances.
   */
  recordUserEvent(userId: string, event: UserEventStamp): Promise<boolean>;

  /** `true` the first time an id is claimed within `ttlSeconds`, `false` after. Atomic across instances. */
  claimWebhookId(id: string, ttlSeconds: number): Promise<boolean>;
  /** Give a claim back, so a redelivery of the same webhook is applied (used when applying it failed). */
  releaseWebhookId(id: string): Promise<void>;
}

/**
 * How long a removed-user mark lives unless configured. It must outlast the
 * longest-lived session token the service accepts; the identity provider
 * stops issuing tokens to a deleted user, so the mark only has to cover those
 * already issued.
 */
export const DEFAULT_REMOVED_TTL_SECONDS = 30 * 24 * 3600;

// ---------------------------------------------------------------------------
// In memory

export { BoundedTtlMap } from './bounded-ttl-map.js';

export interface MemorySyncStoreOptions {
  /** Most profile hashes kept (least recently used dropped first, roughly). Default 50,000. */
  maxProfiles?: number;
  /** Most removed-user marks kept. Default 100,000. */
  maxRemoved?: number;
  /** Most webhook ids remembered. Default 20,000. */
  maxWebhookIds?: number;
  /** Most per-user event records kept. Default 100,000. */
  maxUserEvents?: number;
  /** How long a removed-user mark (and a user's event record) lives. Default {@link DEFAULT_REMOVED_TTL_SECONDS}; 0 keeps it until evicted. */
  removedTtlSeconds?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Single-instance store. Bounded: each list has a size cap and entries expire. */
export class MemorySyncStore implements SyncStore {
  readonly #hashes: BoundedTtlMap<string>;
  readonly #removed: BoundedTtlMap<true>;
  readonly #webhooks: BoundedTtlMap<true>;
  readonly #userEvents: BoundedTtlMap<number>;
  readonly #removedTtlSeconds: number;

  constructor(options: MemorySyncStoreOptions = {}) {
    const now = options.now ?? Date.now;
    this.#hashes = new BoundedTtlMap(options.maxProfiles ?? 50_000, now);
    this.#removed = new BoundedTtlMap(options.maxRemoved ?? 100_000, now);
    this.#webhooks = new BoundedTtlMap(options.maxWebhookIds ?? 20_000, now);
    this.#userEvents = new BoundedTtlMap(options.maxUserEvents ?? 100_000, now);
    this.#removedTtlSeconds = options.removedTtlSeconds ?? DEFAULT_REMOVED_TTL_SECONDS;
  }

  /** Entry counts, for tests and diagnostics. */
  get sizes(): { profiles: number; removed: number; webhookIds: number; userEvents: number } {
    return { profiles: this.#hashes.size, removed: this.#removed.size, webhookIds: this.#webhooks.size, userEvents: this.#userEvents.size };
  }

  async getProfileHash(userId: string): Promise<string | null> {
    return this.#hashes.get(userId) ?? null;
  }

  async setProfileHash(userId: string, hash: string, ttlSeconds: number): Promise<void> {
    if (!(ttlSeconds > 0)) {
      this.#hashes.delete(userId);
      return;
    }
    this.#hashes.set(userId, hash, ttlSeconds);
  }

  async forget(userId: string): Promise<void> {
    this.#hashes.delete(userId);
  }

  async markRemoved(userId: string): Promise<void> {
    this.#removed.set(userId, true, this.#removedTtlSeconds);
  }

  async clearRemoved(userId: string): Promise<void> {
    this.#removed.delete(userId);
  }

  async isRemoved(userId: string): Promise<boolean> {
    return this.#removed.has(userId) || recordsDeletion(this.#userEvents.get(userId) ?? null);
  }

  async claimWebhookId(id: string, ttlSeconds: number): Promise<boolean> {
    return this.#webhooks.setIfAbsent(id, true, Math.max(1, ttlSeconds));
  }

  async releaseWebhookId(id: string): Promise<void> {
    this.#webhooks.delete(id);
  }

  // User event order: compared and set in one synchronous step, so concurrent deliveries cannot interleave.
  async recordUserEvent(userId: string, event: UserEventStamp): Promise<boolean> {
    const current = this.#userEvents.get(userId) ?? null;
    const next = nextRecord(current, event);
    if (next === null) return false;
    if (next !== current) this.#userEvents.set(userId, next, this.#removedTtlSeconds);
    return true;
  }
}

// ---------------------------------------------------------------------------
// Redis

export interface RedisSyncStoreOptions {
  /** An ioredis client from `createRedisClient`; the store never closes it. */
  client: RedisClient;
  /** The client's breaker: commands fail at once while it is open. Without it every command is sent. */
  breaker?: RedisBreaker | null;
  /** Prefix of every key, so several services can share a Redis. Default `sts:`. */
  keyPrefix?: string;
  /** How long a removed-user mark (and a user's event record) lives. Default {@link DEFAULT_REMOVED_TTL_SECONDS}; 0 keeps it forever. */
  removedTtlSeconds?: number;
  /** How long this process remembers a removal it applied or read. Default {@link RECENT_REMOVAL_SECONDS}. */
  recentRemovalSeconds?: number;
  /** Most recent removals, and most profile hashes written by this process, kept in memory. Default 50,000 each. */
  maxLocalEntries?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** How long a removal stays in the process's own memory, to be refused while Redis is unreachable. */
export const RECENT_REMOVAL_SECONDS = 24 * 3600;

/**
 * Shared store. Keys (with the default prefix):
 *   sts:profile:<userId>  profile hash, expires after the sync TTL
 *   sts:removed:<userId>  removed-user mark
 *   sts:webhook:<id>      applied webhook id, `SET NX EX`
 *   sts:user-event:<userId>  order of the last user event applied, same expiry as removed
 *
 * While Redis cannot be reached (a failure, or the breaker open), profile
 * hashes are read from and written to the process's memory only (hashes this
 * process wrote), so a Redis outage does not turn every token request into an
 * upsert; `isRemoved` fails, and `removedLocally` answers from the removals
 * this process applied or read within `recentRemovalSeconds`. Every other
 * operation fails with `SyncStoreUnavailableError`.
 */
export class RedisSyncStore implements SyncStore {
  readonly #client: RedisClient;
  readonly #breaker: RedisBreaker | null;
  readonly #prefix: string;
  readonly #removedTtlSeconds: number;
  readonly #recentRemovalSeconds: number;
  readonly #recentRemovals: BoundedTtlMap<true>;
  readonly #localHashes: BoundedTtlMap<string>;

  constructor(options: RedisSyncStoreOptions) {
    this.#client = options.client;
    this.#breaker = options.breaker ?? null;
    this.#prefix = options.keyPrefix ?? 'sts:';
    this.#removedTtlSeconds = options.removedTtlSeconds ?? DEFAULT_REMOVED_TTL_SECONDS;
    this.#recentRemovalSeconds = options.recentRemovalSeconds ?? RECENT_REMOVAL_SECONDS;
    const now = options.now ?? Date.now;
    this.#recentRemovals = new BoundedTtlMap(options.maxLocalEntries ?? 50_000, now);
    this.#localHashes = new BoundedTtlMap(options.maxLocalEntries ?? 50_000, now);
  }

  get keyPrefix(): string {
    return this.#prefix;
  }

  #key(kind: 'profile' | 'removed' | 'webhook' | 'user-event', id: string): string {
    return `${this.#prefix}${kind}:${id}`;
  }

  #run<T>(command: () => Promise<T>, optional = false): Promise<T> {
    if (this.#breaker === null) {
      return command().catch((error: unknown) => {
        throw new SyncStoreUnavailableError('Redis did not answer', error);
      });
    }
    return this.#breaker.run(command, { optional });
  }

  async getProfileHash(userId: string): Promise<string | null> {
    try {
      return await this.#run(() => this.#client.get(this.#key('profile', userId)), true);
    } catch {
      return this.#localHashes.get(userId) ?? null;
    }
  }

  /** Never fails: the hash is a cache, kept in memory when Redis cannot take it. */
  async setProfileHash(userId: string, hash: string, ttlSeconds: number): Promise<void> {
    const key = this.#key('profile', userId);
    try {
      if (!(ttlSeconds > 0)) {
        this.#localHashes.delete(userId);
        await this.#run(() => this.#client.del(key));
        return;
      }
      this.#localHashes.set(userId, hash, ttlSeconds);
      await this.#run(() => this.#client.set(key, hash, 'EX', Math.ceil(ttlSeconds)), true);
    } catch {
      // Counted by the breaker; a missing hash only costs an upsert.
    }
  }

  async forget(userId: string): Promise<void> {
    this.#localHashes.delete(userId);
    await this.#run(() => this.#client.del(this.#key('profile', userId)));
  }

  async markRemoved(userId: string): Promise<void> {
    this.#recentRemovals.set(userId, true, this.#recentRemovalSeconds);
    const key = this.#key('removed', userId);
    if (this.#removedTtlSeconds > 0) await this.#run(() => this.#client.set(key, '1', 'EX', Math.ceil(this.#removedTtlSeconds)));
    else await this.#run(() => this.#client.set(key, '1'));
  }

  async clearRemoved(userId: string): Promise<void> {
    this.#recentRemovals.delete(userId);
    await this.#run(() => this.#client.del(this.#key('removed', userId)));
  }

  async isRemoved(userId: string): Promise<boolean> {
    // Two single-key reads, not one multi-key command: the keys may live in different cluster slots.
    const [marked, record] = await Promise.all([
      this.#run(() => this.#client.exists(this.#key('removed', userId)), true),
      this.#run(() => this.#client.get(this.#key('user-event', userId)), true),
    ]);
    const removed = marked === 1 || recordsDeletion(record === null ? null : Number(record));
    // Redis has the last word; memory only answers while Redis cannot.
    if (removed) this.#recentRemovals.set(userId, true, this.#recentRemovalSeconds);
    else this.#recentRemovals.delete(userId);
    return removed;
  }

  removedLocally(userId: string): boolean {
    return this.#recentRemovals.has(userId);
  }

  async claimWebhookId(id: string, ttlSeconds: number): Promise<boolean> {
    const result = await this.#run(() => this.#client.set(this.#key('webhook', id), '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX'));
    return result === 'OK';
  }

  async releaseWebhookId(id: string): Promise<void> {
    await this.#run(() => this.#client.del(this.#key('webhook', id)));
  }

  // User event order: one key per user, compared and set by one Lua script so concurrent deliveries cannot interleave.
  async recordUserEvent(userId: string, event: UserEventStamp): Promise<boolean> {
    const ttl = this.#removedTtlSeconds > 0 ? Math.ceil(this.#removedTtlSeconds) : 0;
    const applied = await this.#run(() =>
      this.#client.eval(RECORD_USER_EVENT_SCRIPT, 1, this.#key('user-event', userId), String(eventOrder(event)), event.kind, String(ttl)),
    );
    return applied === 1;
  }
}
