import type { FastifyInstance } from 'fastify';
import type { ServiceConfig } from './config/types.js';
import { buildHttpApp, buildMetricsApp } from './http/app.js';
import { createService, type AppDependencies, type Service } from './service.js';

export type { AppDependencies } from './service.js';

/** What `serve` listens with: the app, and the `METRICS_PORT` listener when one is configured. */
export interface Server {
  app: FastifyInstance;
  /** Closed with `app`. */
  metricsApp: FastifyInstance | null;
}

/**
 * Builds the whole service as a Fastify instance without opening a port, so
 * tests drive it with `app.inject`; `serve` uses {@link buildServer}.
 */
export async function buildApp(config: ServiceConfig, deps: AppDependencies = {}): Promise<FastifyInstance> {
  return withService(createService(config, deps), buildHttpApp);
}

/** The service's parts (src/service.ts) and the HTTP apps that serve them, the `METRICS_PORT` listener included. */
export async function buildServer(config: ServiceConfig, deps: AppDependencies = {}): Promise<Server> {
  return withService(createService(config, deps), async (service) => {
    const app = await buildHttpApp(service);
    if (config.metrics.port === null) return { app, metricsApp: null };
    const metricsApp = await buildMetricsApp(service);
    app.addHook('onClose', async () => {
      await metricsApp.close();
    });
    return { app, metricsApp };
  });
}

/** Runs `build`; when it fails, closes what the service already opened (Redis, key refresh timers), which nothing else would. */
async function withService<T>(service: Service, build: (service: Service) => Promise<T>): Promise<T> {
  try {
    return await build(service);
  } catch (err) {
    await service.close().catch(() => undefined);
    throw err;
  }
}
