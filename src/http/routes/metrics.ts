import type { FastifyPluginAsync } from 'fastify';
import type { ServiceMetrics } from '../metrics.js';
import { ProblemError } from '../../errors/problems.js';

export interface MetricsRoutesOptions {
  metrics: ServiceMetrics;
  /**
   * The exposition to serve; this process's own registry by default. Under
   * `WEB_CONCURRENCY`, every worker's together (see `clusterMetricsText`).
   */
  render?: () => Promise<string>;
}

/** Prometheus exposition at GET /metrics. */
export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, { metrics, render }) => {
  const exposition = render ?? (() => metrics.registry.metrics());
  app.get('/metrics', async (request, reply) => {
    let text: string;
    try {
      text = await exposition();
    } catch (err) {
      request.log.warn({ reqId: request.id, err }, 'metrics could not be gathered');
      throw new ProblemError({
        code: 'metrics_unavailable',
        detail: 'Metrics could not be gathered from the workers; try again shortly.',
        retryAfterSeconds: 5,
      });
    }
    request.outcome = 'ok';
    return reply.type(metrics.registry.contentType).send(text);
  });
};
