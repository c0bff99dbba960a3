import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StoreErrorAction } from '../config/types.js';
import { MemoryWindowCounters, type RedisWindowCounters, type WindowCount } from '../state/window-counters.js';
import type { ServiceMetrics } from './metrics.js';
import { ProblemError } from '../errors/problems.js';

export interface RateLimitsOptions {
  perIpPerMinute: number;
  perUserPerMinute: number;
  /** What to do when the shared store cannot be reached. */
  onStoreError: StoreErrorAction;
  /** Counters shared across instances (Redis); in-process counters when null. */
  shared: RedisWindowCounters | null;
  metrics: ServiceMetrics;
}

const WINDOW_MS = 60_000;
/** Bounds the in-process counters so a flood of distinct IPs or users cannot grow memory. */
const LOCAL_CACHE_ENTRIES = 20_000;

export type LimitScope = 'ip' | 'user';

/**
 * Fixed one-minute windows per client IP (every request, before any
 * verification work) and per verified user (token and revoke routes), in
 * memory or in Redis. A refusal is a 429 problem with Retry-After and the
 * IETF RateLimit headers.
 *
 * When Redis cannot be reached, RATE_LIMIT_ON_STORE_ERROR decides: `allow`
 * counts in this process's memory with the same limits, `deny` refuses with
 * a 503. One line is logged when the fallback starts and one when Redis
 * counts again. The user check never waits on Redis after a failed command
 * (`optional`), so a request pays at most one Redis timeout.
 */
export class RateLimits {
  readonly #local = new MemoryWindowCounters(LOCAL_CACHE_ENTRIES);
  readonly #shared: RedisWindowCounters | null;
  readonly #options: RateLimitsOptions;
  #fallingBack = false;

  constructor(options: RateLimitsOptions) {
    this.#options = options;
    this.#shared = options.shared;
  }

  /**
   * Counts one request for the scope's key and calls back with the problem to answer, if any.
   * The memory store answers synchronously.
   */
  check(scope: LimitScope, key: string, request: FastifyRequest, reply: FastifyReply, done: (problem?: ProblemError) => void): void {
    const counterKey = `${scope}:${key}`;
    if (this.#shared === null) {
      done(this.#decide(scope, this.#local.incr(counterKey, WINDOW_MS), reply));
      return;
    }
    this.#shared.incr(counterKey, WINDOW_MS, { optional: scope === 'user' }).then(
      (count) => {
        if (this.#fallingBack) this.#recovered(request);
        done(this.#decide(scope, count, reply));
      },
      (err: unknown) => done(this.#storeFailed(scope, counterKey, err, request, reply)),
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

  /** Sets the headers and answers the refusal, if the count is over the scope's limit. */
  #decide(scope: LimitScope, count: WindowCount, reply: FastifyReply): ProblemError | undefined {
    const max = scope === 'ip' ? this.#options.perIpPerMinute : this.#options.perUserPerMinute;
    const resetSeconds = Math.max(1, Math.ceil(count.ttlMs / 1000));
    const exceeded = count.current > max;
    // Every user-limited answer says where the caller stands; per-IP counts only show once exceeded.
    if (scope === 'user' || exceeded) {
      reply.header('ratelimit-limit', max);
      reply.header('ratelimit-remaining', Math.max(0, max - count.current));
      reply.header('ratelimit-reset', resetSeconds);
    }
    if (!exceeded) return undefined;
    this.#options.metrics.rateLimited.inc({ scope });
    return new ProblemError({
      code: 'rate_limited',
      detail: scope === 'ip' ? 'Too many requests from this address.' : 'Too many token requests for this user.',
      retryAfterSeconds: resetSeconds,
    });
  }

  #storeFailed(scope: LimitScope, counterKey: string, err: unknown, request: FastifyRequest, reply: FastifyReply): ProblemError | undefined {
    const action = this.#options.onStoreError;
    this.#options.metrics.rateLimitStoreErrors.inc({ action });
    if (!this.#fallingBack) {
      this.#fallingBack = true;
      const fallback = action === 'allow' ? 'counting in this process until Redis answers' : 'refusing requests until Redis answers';
      request.log.warn({ reqId: request.id, scope, action, fallback, err }, 'rate-limit store unavailable');
    }
    if (action === 'deny') {
      return new ProblemError({ code: 'rate_limited', status: 503, detail: 'Rate limits cannot be checked right now.', retryAfterSeconds: 5 });
    }
    return this.#decide(scope, this.#local.incr(counterKey, WINDOW_MS), reply);
  }

  #recovered(request: FastifyRequest): void {
    this.#fallingBack = false;
    request.log.info({ reqId: request.id }, 'rate-limit store available again');
  }
}
