import type { FastifyPluginAsync } from 'fastify';
import type { ServiceMetrics } from '../metrics.js';

export interface MetricsRoutesOptions {
  metrics: ServiceMetrics;
}

/** Prometheus exposition at GET /metrics. */
export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, { metrics }) => {
  app.get('/metrics', async (request, reply) => {
    request.outcome = 'ok';
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
};
