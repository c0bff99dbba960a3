/**
 * Fixed-window request counters for the rate limits.
 *
 * A counter store counts one hit on `key` in the window of `windowMs` that
 * began with the key's first hit, and says where the key stands:
 *
 *   incr(key, windowMs) → { current, ttlMs }
 *
 * `current` counts the hits in the window, this one included; `ttlMs` is
 * what is left of the window. The memory store answers synchronously, the
 * Redis one with a promise.
 */

import type { RedisBreaker } from './redis-breaker.js';
import type { RedisClient } from './redis.js';
import { SyncStoreUnavailableError } from '../stream/sync-errors.js';

export interface WindowCount {
  /** Hits in the current window, this one included. */
  current: number;
  /** Milliseconds left in the current window. */
  ttlMs: number;
}

export interface WindowCounterStore {
  incr(key: string, windowMs: number): WindowCount | Promise<WindowCount>;
}

interface Window {
  count: number;
  startedAt: number;
}

/**
 * Counters in process memory, at most `maxKeys` of them. A key whose window
 * restarts moves to the end of the map, so the map stays ordered by window
 * start and the key dropped when it is full is the one whose window began
 * first (most likely over already). A flood of distinct keys can only reset
 * counts, never grow memory.
 */
export class MemoryWindowCounters implements WindowCounterStore {
  readonly #windows = new Map<string, Window>();
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(maxKeys: number, now: () => number = Date.now) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be a positive integer');
    this.#maxKeys = maxKeys;
    this.#now = now;
  }

  get size(): number {
    return this.#windows.size;
  }

  incr(key: string, windowMs: number): WindowCount {
    const now = this.#now();
    const window = this.#windows.get(key);
    if (window !== undefined && now - window.startedAt < windowMs) {
      window.count += 1;
      return { current: window.count, ttlMs: window.startedAt + windowMs - now };
    }
    if (window !== undefined) this.#windows.delete(key);
    else if (this.#windows.size >= this.#maxKeys) this.#windows.delete(this.#windows.keys().next().value as string);
    this.#windows.set(key, { count: 1, startedAt: now });
    return { current: 1, ttlMs: windowMs };
  }
}

// One round trip, one key (so a Redis Cluster takes it): count, and start the window's expiry on the
// first hit, or when the key somehow has none.
const WINDOW_INCR_LUA = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}
`;
const COMMAND = 'stsWindowIncr';

type WithWindowIncr = { [COMMAND](key: string, windowMs: number): Promise<[number, number]> };

export interface RedisWindowCountersOptions {
  client: RedisClient;
  /** The client's breaker; without it every command is sent. */
  breaker?: RedisBreaker | null;
  /** Prefix of every key. Default `sts:ratelimit:`. */
  keyPrefix?: string;
}

/** Counters shared by every instance through Redis (`<prefix><key>`, expiring with the window). */
export class RedisWindowCounters implements WindowCounterStore {
  readonly #client: RedisClient & WithWindowIncr;
  readonly #breaker: RedisBreaker | null;
  readonly #prefix: string;

  constructor(options: RedisWindowCountersOptions) {
    const client = options.client as RedisClient & Partial<WithWindowIncr>;
    if (typeof client[COMMAND] !== 'function') client.defineCommand(COMMAND, { numberOfKeys: 1, lua: WINDOW_INCR_LUA });
    this.#client = client as RedisClient & WithWindowIncr;
    this.#breaker = options.breaker ?? null;
    this.#prefix = options.keyPrefix ?? 'sts:ratelimit:';
  }

  /**
   * Counts one hit. `optional`: skip Redis while its last command failed (see `RedisBreaker`).
   * Rejects with `SyncStoreUnavailableError` when Redis is not asked or does not answer.
   */
  incr(key: string, windowMs: number, options: { optional?: boolean } = {}): Promise<WindowCount> {
    const command = (): Promise<WindowCount> =>
      this.#client[COMMAND](this.#prefix + key, windowMs).then(([current, ttlMs]) => ({ current: Number(current), ttlMs: Number(ttlMs) }));
    if (this.#breaker !== null) return this.#breaker.run(command, options);
    return command().catch((error: unknown) => {
      throw new SyncStoreUnavailableError('Redis did not answer', error);
    });
  }
}
