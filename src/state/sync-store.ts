/**
 * Small pieces of state the user sync and the Clerk webhooks keep between
 * requests: a per-user profile hash (so an unchanged profile is not sent to
 * Stream again), the users removed by a `user.deleted` webhook (refused
 * tokens from then on), the webhook ids already applied (replay guard), and
 * the order of each user's identity-provider events (see user-event-order.ts).
 *
 * `MemorySyncStore` serves a single instance; `RedisSyncStore` is used when
 * `REDIS_URL` is set, so every instance sees the same state.
 */

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

interface Entry<V> {
  value: V;
  /** Epoch milliseconds; `Infinity` for no expiry. */
  expiresAt: number;
}

/**
 * A size-capped map with per-entry expiry, evicting roughly least recently
 * used first, in O(1) per operation: entries live in two generations; when
 * the current one is full it becomes the previous one and the old previous
 * one is dropped whole. Reading an entry of the previous generation moves it
 * to the current one. At most `maxEntries` entries are held, so memory stays
 * flat however many distinct keys go through it.
 */
export class BoundedTtlMap<V> {
  #current = new Map<string, Entry<V>>();
  #previous = new Map<string, Entry<V>>();
  readonly #generationSize: number;
  readonly #now: () => number;

  constructor(maxEntries: number, now: () => number = Date.now) {
    if (!Number.isInteger(maxEntries) || maxEntries < 2) throw new RangeError('maxEntries must be an integer of at least 2');
    this.#generationSize = Math.floor(maxEntries / 2);
    this.#now = now;
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  get(key: string): V | undefined {
    let entry = this.#current.get(key);
    if (entry === undefined) {
      entry = this.#previous.get(key);
      if (entry === undefined) return undefined;
      this.#previous.delete(key);
      if (entry.expiresAt <= this.#now()) return undefined;
      this.#insert(key, entry);
      return entry.value;
    }
    if (entry.expiresAt <= this.#now()) {
      this.#current.delete(key);
      return undefined;
    }
    return entry.value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Store a value; `ttlSeconds <= 0` or non-finite means no expiry. */
  set(key: string, value: V, ttlSeconds: number): void {
    const expiresAt = Number.isFinite(ttlSeconds) && ttlSeconds > 0 ? this.#now() + ttlSeconds * 1000 : Infinity;
    this.#previous.delete(key);
    this.#insert(key, { value, expiresAt });
  }

  /** Store only when absent or expired; `true` when stored. */
  setIfAbsent(key: string, value: V, ttlSeconds: number): boolean {
    if (this.get(key) !== undefined) return false;
    this.set(key, value, ttlSeconds);
    return true;
  }

  delete(key: string): void {
    this.#current.delete(key);
    this.#previous.delete(key);
  }

  clear(): void {
    this.#current.clear();
    this.#previous.clear();
  }

  #insert(key: string, entry: Entry<V>): void {
    const isNew = !this.#current.has(key);
    this.#current.set(key, entry);
    if (isNew && this.#current.size >= this.#generationSize) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
  }
}

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
  /** Prefix of every key, so several services can share a Redis. Default `sts:`. */
  keyPrefix?: string;
  /** How long a removed-user mark (and a user's event record) lives. Default {@link DEFAULT_REMOVED_TTL_SECONDS}; 0 keeps it forever. */
  removedTtlSeconds?: number;
}

/**
 * Shared store. Keys (with the default prefix):
 *   sts:profile:<userId>  profile hash, expires after the sync TTL
 *   sts:removed:<userId>  removed-user mark
 *   sts:webhook:<id>      applied webhook id, `SET NX EX`
 *   sts:user-event:<userId>  order of the last user event applied, same expiry as removed
 */
export class RedisSyncStore implements SyncStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #removedTtlSeconds: number;

  constructor(options: RedisSyncStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.keyPrefix ?? 'sts:';
    this.#removedTtlSeconds = options.removedTtlSeconds ?? DEFAULT_REMOVED_TTL_SECONDS;
  }

  get keyPrefix(): string {
    return this.#prefix;
  }

  #key(kind: 'profile' | 'removed' | 'webhook' | 'user-event', id: string): string {
    return `${this.#prefix}${kind}:${id}`;
  }

  async getProfileHash(userId: string): Promise<string | null> {
    return this.#client.get(this.#key('profile', userId));
  }

  async setProfileHash(userId: string, hash: string, ttlSeconds: number): Promise<void> {
    const key = this.#key('profile', userId);
    if (!(ttlSeconds > 0)) {
      await this.#client.del(key);
      return;
    }
    await this.#client.set(key, hash, 'EX', Math.ceil(ttlSeconds));
  }

  async forget(userId: string): Promise<void> {
    await this.#client.del(this.#key('profile', userId));
  }

  async markRemoved(userId: string): Promise<void> {
    const key = this.#key('removed', userId);
    if (this.#removedTtlSeconds > 0) await this.#client.set(key, '1', 'EX', Math.ceil(this.#removedTtlSeconds));
    else await this.#client.set(key, '1');
  }

  async clearRemoved(userId: string): Promise<void> {
    await this.#client.del(this.#key('removed', userId));
  }

  async isRemoved(userId: string): Promise<boolean> {
    // Two single-key reads, not one multi-key command: the keys may live in different cluster slots.
    const [marked, record] = await Promise.all([this.#client.exists(this.#key('removed', userId)), this.#client.get(this.#key('user-event', userId))]);
    return marked === 1 || recordsDeletion(record === null ? null : Number(record));
  }

  async claimWebhookId(id: string, ttlSeconds: number): Promise<boolean> {
    const result = await this.#client.set(this.#key('webhook', id), '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX');
    return result === 'OK';
  }

  async releaseWebhookId(id: string): Promise<void> {
    await this.#client.del(this.#key('webhook', id));
  }

  // User event order: one key per user, compared and set by one Lua script so concurrent deliveries cannot interleave.
  async recordUserEvent(userId: string, event: UserEventStamp): Promise<boolean> {
    const ttl = this.#removedTtlSeconds > 0 ? Math.ceil(this.#removedTtlSeconds) : 0;
    const applied = await this.#client.eval(RECORD_USER_EVENT_SCRIPT, 1, this.#key('user-event', userId), String(eventOrder(event)), event.kind, String(ttl));
    return applied === 1;
  }
}
