import type { FastifyPluginAsync } from 'fastify';
import type { IssuerKeyStatus } from '../../identity/types.js';

export interface HealthRoutesOptions {
  /** Whether every issuer's keys have loaded and are usable. */
  isReady: () => boolean;
  issuerStatus: () => IssuerKeyStatus[];
}

/** Liveness and readiness for orchestrators: /healthz says the process answers; /readyz says it can verify tokens. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, options) => {
  app.get('/healthz', async (request) => {
    request.outcome = 'ok';
    return { status: 'ok' };
  });

  app.get('/readyz', async (request, reply) => {
    const ready = options.isReady();
    request.outcome = ready ? 'ok' : 'not_ready';
    // /readyz is reachable by anyone who reaches the service: fetch errors are shown only in their public wording.
    const issuers = options.issuerStatus().map(({ publicError, lastError, ...status }) => ({ ...status, lastError: lastError === null ? null : (publicError ?? 'the keys could not be loaded') }));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', issuers });
  });
};
