import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { clerkWebhooksPlugin } from '../clerk-webhooks/route.js';
import type { ServiceConfig } from '../config/types.js';
import { SessionTokenError } from '../identity/errors.js';
import type { Service } from '../service.js';
import { authenticator } from './authenticate.js';
import { clientErrorHandler } from './client-errors.js';
import { installDrain } from './drain.js';
import './fastify-augment.js';
import { problemHandler } from './problem-mapping.js';
import { RateLimits } from './rate-limits.js';
import { RequestLog } from './request-log.js';
import { securityHeaders } from './security-headers.js';
import { serverOptions } from './server-options.js';
import { devRootRedirect, devRoutes } from '../dev/routes.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { tokenRoutes } from './routes/token.js';
import { unmatchedHandler } from './unmatched.js';

/** Requests carry at most an empty JSON object. */
export const BODY_LIMIT_BYTES = 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PROBE_ROUTES = ['/healthz', '/readyz', '/metrics'];

/**
 * The service's HTTP face, built from its ready parts without opening a
 * port: tests drive it with `app.inject`, `serve` calls `listen` on it. The
 * app starts the parts when it is ready and closes them when it closes.
 */
export async function buildHttpApp(service: Service): Promise<FastifyInstance> {
  const { config, metrics, verifier } = service;
  // With TLS files the service speaks HTTPS itself; without, it expects a TLS-terminating proxy.
  const tls = config.http.tls !== null ? { cert: readFileSync(config.http.tls.certFile), key: readFileSync(config.http.tls.keyFile) } : null;
  const everyAnswer = { ...securityHeaders({ hsts: config.http.tls !== null }), 'cache-control': 'no-store' };
  const app = Fastify({
    ...serverOptions(config.http, tls),
    loggerInstance: service.logger,
    logController: new RequestLog({ logger: service.requestLogger, metrics }),
    // No child logger per request: lines that concern a request carry its reqId explicitly.
    childLoggerFactory: (parent) => parent,
    bodyLimit: BODY_LIMIT_BYTES,
    // proxy-addr semantics: a hop count or a list of trusted addresses; false ignores X-Forwarded-For.
    trustProxy: config.http.trustProxy as boolean | string[],
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    // A request refused while closing gets a problem (see the onRequest hook), not Fastify's own 503.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    clientErrorHandler: clientErrorHandler({ headers: everyAnswer, log: service.logger }),
  }) as unknown as FastifyInstance;

  app.decorateRequest('outcome', null);
  app.decorateRequest('userId', null);
  app.decorateRequest('session', null);
  app.decorateRequest('logFields', null);
  jsonBodiesOnly(app);

  // Cross-cutting hooks. Callback style and as few as possible: each hook is paid on every request.
  const limits = new RateLimits({
    perIpPerMinute: config.rateLimit.perIpPerMinute,
    perUserPerMinute: config.rateLimit.perUserPerMinute,
    onStoreError: config.rateLimit.onStoreError,
    shared: service.limitCounters,
    metrics,
  });
  const unlimited = new Set(PROBE_ROUTES);
  // Readiness, Connection: close and quiet connections while stopping, and the connection cap.
  const drain = installDrain(app, { maxConnections: config.http.maxConnections, onDrop: () => metrics.connectionsDropped.inc() });
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(everyAnswer);
    reply.header('x-request-id', request.id);
    if (drain.refusing) return done(drain.refusal());
    if (unlimited.has(request.routeOptions.url ?? '')) {
      done();
      return;
    }
    limits.check('ip', request.ip, request, reply, done);
  });

  app.setErrorHandler(
    problemHandler((error) => {
      if (error instanceof SessionTokenError) metrics.verificationFailures.inc({ reason: error.code });
    }),
  );
  app.setNotFoundHandler(
    unmatchedHandler({
      corsOrigins: config.http.corsOrigins,
      onCorsRefusal: () => metrics.corsRefusals.inc(),
      hasRoute: (method, url) => app.hasRoute({ method, url }),
    }),
  );
  await allowCorsOrigins(app, config.http.corsOrigins);

  app.addHook('onReady', () => service.start());
  app.addHook('onClose', () => service.close());

  await app.register(healthRoutes, {
    isReady: () => verifier.isReady(),
    stopping: () => drain.stopping,
    issuerStatus: () => verifier.status(),
    ...(service.redisHealth !== null ? { redis: service.redisHealth } : {}),
  });
  if (config.metrics.port === null) await app.register(metricsRoutes, { metrics, render: service.renderMetrics });
  await app.register(tokenRoutes, { exchange: service.exchange, authenticate: authenticator(verifier, limits) });
  if (service.clerkWebhooks !== null) await app.register(clerkWebhooksPlugin, service.clerkWebhooks);
  if (service.devIssuer !== null) {
    await app.register(devRoutes, { prefix: '/dev', devIssuer: service.devIssuer });
    await app.register(devRootRedirect);
  }
  return app;
}

/** `METRICS_PORT`: `/metrics` alone, on a listener of its own for a scrape network that never sees public traffic. */
export async function buildMetricsApp(service: Service): Promise<FastifyInstance> {
  const app = Fastify({
    ...serverOptions(service.config.http, null),
    loggerInstance: service.logger,
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  app.decorateRequest('outcome', null);
  app.setErrorHandler(problemHandler());
  await app.register(metricsRoutes, { metrics: service.metrics, render: service.renderMetrics });
  return app;
}

/**
 * JSON is the one media type read: text/plain, Fastify's other default, goes, so every other type is
 * 415 alike (a route may add its own parser, as the webhook route does). An empty body with a JSON
 * content type counts as no body; anything else goes through Fastify's own parser, which also refuses
 * prototype-poisoning keys.
 */
function jsonBodiesOnly(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain');
  const defaultJsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') {
      done(null, undefined);
      return;
    }
    void defaultJsonParser(request, body as string, done);
  });
}

/** Without CORS_ORIGINS no origin is allowed, so the plugin (a hook on every request) is left out. */
async function allowCorsOrigins(app: FastifyInstance, origins: ServiceConfig['http']['corsOrigins']): Promise<void> {
  if (origins.length === 0) return;
  const allowedOrigins = new Set(origins);
  await app.register(cors, {
    // Exact matches only; `null` (sandboxed frames, file://) and unknown origins get no CORS headers,
    // and their preflights go on to the not-found handler, which refuses them (unmatched.ts).
    origin: (origin, callback) => callback(null, origin !== undefined && allowedOrigins.has(origin)),
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'],
    maxAge: 600,
  });
}
