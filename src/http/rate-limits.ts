import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
  /** Routes that are never limited (probes and scrapes). */
  exemptRoutes: readonly string[];
}

export interface RateLimits {
  /** preHandler for routes that know the verified user: counts per user id. */
  perUser: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;
type LimitResult = Awaited<ReturnType<Limiter>>;

const WINDOW_MS = 60_000;
/** Bounds the in-process counters (LRU) so a flood of distinct IPs or users cannot grow memory. */
const LOCAL_CACHE_ENTRIES = 20_000;

/**
 * Two fixed-window limits on `@fastify/rate-limit`'s stores: per client IP
 * on every request, before any verification work, and per verified user on
 * the token and revoke routes. Answers carry the IETF RateLimit headers; a
 * refusal is a 429 problem with Retry-After.
 */
export async function registerRateLimits(app: FastifyInstance, options: RateLimitsOptions): Promise<RateLimits> {
  await app.register(rateLimit, {
    global: false,
    enableDraftSpec: true,
    nameSpace: 'sts:ratelimit:',
    cache: LOCAL_CACHE_ENTRIES,
    ...(options.redis !== null ? { redis: options.redis } : {}),
  });
  const perIp = app.createRateLimit({
    max: options.perIpPerMinute,
    timeWindow: WINDOW_MS,
    keyGenerator: (request) => `ip:${request.ip}`,
    skipOnError: false,
  });
  const perUser = app.createRateLimit({
    max: options.perUserPerMinute,
    timeWindow: WINDOW_MS,
    keyGenerator: (request) => `user:${request.userId ?? ''}`,
    skipOnError: false,
  });
  const exempt = new Set(options.exemptRoutes);

  const enforce = async (limiter: Limiter, scope: 'ip' | 'user', request: FastifyRequest, reply: FastifyReply) => {
    let result: LimitResult;
    try {
      result = await limiter(request);
    } catch (err) {
      options.metrics.rateLimitStoreErrors.inc({ action: options.onStoreError });
      request.log.warn({ scope, action: options.onStoreError, err: { message: (err as Error).message } }, 'rate-limit store unavailable');
      if (options.onStoreError === 'allow') return;
      throw new ProblemError({ code: 'rate_limited', status: 503, detail: 'Rate limits cannot be checked right now.', retryAfterSeconds: 5 });
    }
    if (result.isAllowed) return;
    reply.header('ratelimit-limit', result.max);
    reply.header('ratelimit-remaining', result.remaining);
    reply.header('ratelimit-reset', result.ttlInSeconds);
    if (result.isExceeded) {
      options.metrics.rateLimited.inc({ scope });
      throw new ProblemError({
        code: 'rate_limited',
        detail: scope === 'ip' ? 'Too many requests from this address.' : 'Too many token requests for this user.',
        retryAfterSeconds: Math.max(1, result.ttlInSeconds),
      });
    }
  };

  app.addHook('onRequest', async (request, reply) => {
    if (exempt.has(request.routeOptions.url ?? '')) return;
    await enforce(perIp, 'ip', request, reply);
  });

  return { perUser: (request, reply) => enforce(perUser, 'user', request, reply) };
}
