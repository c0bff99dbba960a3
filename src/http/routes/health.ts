import type { FastifyPluginAsync } from 'fastify';
import type { IssuerKeyStatus } from '../../identity/types.js';
import type { RedisHealth } from '../../state/redis-health.js';

export interface HealthRoutesOptions {
  /** Whether every issuer's keys have loaded and are usable. */
  isReady: () => boolean;
  /** Whether the service has been told to stop: it is then never ready, so traffic moves elsewhere first. */
  stopping: () => boolean;
  issuerStatus: () => IssuerKeyStatus[];
  /** The shared state's health, when `REDIS_URL` is set. */
  redis?: () => RedisHealth;
}

/** Liveness and readiness for orchestrators: /healthz says the process answers; /readyz says it can verify tokens and is not stopping. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, options) => {
  app.get('/healthz', async (request) => {
    request.outcome = 'ok';
    return { status: 'ok' };
  });

  app.get('/readyz', async (request, reply) => {
    const redis = options.redis?.();
    // Redis counts only when a `deny` setting makes requests fail without it; otherwise they are served meanwhile.
    const redisReady = redis === undefined || !redis.required || redis.breaker === 'closed';
    const state = options.stopping() ? 'shutting_down' : options.isReady() && redisReady ? 'ready' : 'not_ready';
    request.outcome = state === 'ready' ? 'ok' : state;
    // /readyz is reachable by anyone who reaches the service: fetch errors are shown only in their public wording.
    const issuers = options
      .issuerStatus()
      .map(({ publicError, lastError, ...status }) => ({ ...status, lastError: lastError === null ? null : (publicError ?? 'the keys could not be loaded') }));
    return reply.code(state === 'ready' ? 200 : 503).send({ status: state, issuers, ...(redis !== undefined ? { redis } : {}) });
  });
};
