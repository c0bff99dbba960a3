import { createRequire } from 'node:module';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StoreErrorAction } from '../config/types.js';
import type { RedisClient } from '../state/redis.js';
import type { ServiceMetrics } from './metrics.js';
import { ProblemError } from './problem.js';

export interface RateLimitsOptions {
  perIpPerMinute: number;
  perUserPerMinute: number;
  /** What to do when the shared store cannot be reached. */
  onStoreError: StoreErrorAction;
  /** Shared counters across instances; in-process counters when null. */
  redis: RedisClient | null;
  metrics: ServiceMetrics;
}

/** The counter interface of `@fastify/rate-limit`'s stores (LocalStore, RedisStore). */
interface CounterStore {
  incr(key: string, callback: (err: Error | null, result: { current: number; ttl: number } | null) => void, timeWindowMs: number, max: number): void;
}
type StoreConstructor = new (continueExceeding: boolean, exponentialBackoff: boolean, ...rest: unknown[]) => CounterStore;

// The stores are the plugin's own (its LRU for memory, its Lua script for Redis); they are driven
// directly so the hot path runs without the plugin's per-call promises, and synchronously in memory.
const require = createRequire(import.meta.url);
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as StoreConstructor;
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as StoreConstructor;

const WINDOW_MS = 60_000;
/** Bounds the in-process counters (LRU) so a flood of distinct IPs or users cannot grow memory. */
const LOCAL_CACHE_ENTRIES = 20_000;
const STORE_KEY_PREFIX = 'sts:ratelimit:';

export type LimitScope = 'ip' | 'user';

/**
 * Fixed one-minute windows per client IP (every request, before any
 * verification work) and per verified user (token and revoke routes), on
 * `@fastify/rate-limit`'s memory or Redis store. A refusal is a 429 problem
 * with Retry-After and the IETF RateLimit headers.
 */
export class RateLimits {
  readonly #store: CounterStore;
  readonly #options: RateLimitsOptions;

  constructor(options: RateLimitsOptions) {
    this.#options = options;
    this.#store = options.redis !== null ? new RedisStore(false, false, options.redis, STORE_KEY_PREFIX) : new LocalStore(false, false, LOCAL_CACHE_ENTRIES);
  }

  /**
   * Counts one request for the scope's key and calls back with the problem to answer, if any.
   * The memory store answers synchronously.
   */
  check(scope: LimitScope, key: string, request: FastifyRequest, reply: FastifyReply, done: (problem?: ProblemError) => void): void {
    const max = scope === 'ip' ? this.#options.perIpPerMinute : this.#options.perUserPerMinute;
    this.#store.incr(
      `${scope}:${key}`,
      (err, result) => {
        if (err !== null || result === null) {
          done(this.#storeFailed(scope, err, request));
          return;
        }
        const resetSeconds = Math.max(1, Math.ceil(result.ttl / 1000));
        const exceeded = result.current > max;
        // Every user-limited answer says where the caller stands; per-IP counts only show once exceeded.
        if (scope === 'user' || exceeded) {
          reply.header('ratelimit-limit', max);
          reply.header('ratelimit-remaining', Math.max(0, max - result.current));
          reply.header('ratelimit-reset', resetSeconds);
        }
        if (!exceeded) {
          done();
          return;
        }
        this.#options.metrics.rateLimited.inc({ scope });
        done(
          new ProblemError({
            code: 'rate_limited',
            detail: scope === 'ip' ? 'Too many requests from this address.' : 'Too many token requests for this user.',
            retryAfterSeconds: resetSeconds,
          }),
        );
      },
      WINDOW_MS,
      max,
    );
  }

  /**
   * `check` for async code without a promise when the store answers at once (memory): returns
   * undefined when allowed, throws the problem when refused, or returns a promise (Redis).
   */
  checkNow(scope: LimitScope, key: string, request: FastifyRequest, reply: FastifyReply): Promise<void> | undefined {
    let settled = false;
    let refusal: ProblemError | undefined;
    let resolveLater: (() => void) | undefined;
    let rejectLater: ((problem: ProblemError) => void) | undefined;
    this.check(scope, key, request, reply, (problem) => {
      if (resolveLater !== undefined && rejectLater !== undefined) {
        if (problem === undefined) resolveLater();
        else rejectLater(problem);
        return;
      }
      settled = true;
      refusal = problem;
    });
    if (settled) {
      if (refusal !== undefined) throw refusal;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      resolveLater = resolve;
      rejectLater = reject;
    });
  }

  #storeFailed(scope: LimitScope, err: Error | null, request: FastifyRequest): ProblemError | undefined {
    const action = this.#options.onStoreError;
    this.#options.metrics.rateLimitStoreErrors.inc({ action });
    request.log.warn({ reqId: request.id, scope, action, err: { message: err?.message ?? 'no result' } }, 'rate-limit store unavailable');
    if (action === 'allow') return undefined;
    return new ProblemError({ code: 'rate_limited', status: 503, detail: 'Rate limits cannot be checked right now.', retryAfterSeconds: 5 });
  }
}
