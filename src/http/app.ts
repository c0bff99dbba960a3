import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import { StreamChat } from 'stream-chat';
import type { ServiceConfig } from '../config/types.js';
import { TokenExchange } from '../exchange/token-exchange.js';
import { loadOrCreateDevIssuer } from '../identity/dev-issuer.js';
import { SessionTokenError } from '../identity/errors.js';
import { SessionVerifier } from '../identity/session-verifier.js';
import type { IssuerOptions } from '../identity/types.js';
import { compilePolicy } from '../policy/index.js';
import { closeRedis, createRedisClient, REDIS_START_WAIT_MS, waitForRedis, type RedisClient } from '../state/redis.js';
import { createRedisBreaker } from '../state/redis-breaker.js';
import { redisHealthOf } from '../state/redis-health.js';
import { MemorySyncStore, RedisSyncStore, type SyncStore } from '../state/sync-store.js';
import { createClerkWebhookHandlers } from '../clerk-webhooks/handlers.js';
import { StreamTokenMinter } from '../stream/token-minter.js';
import { StreamCallGuard, StreamUserSync, type StreamServerClient } from '../stream/user-sync.js';
import { bearerToken } from './bearer.js';
import { clientErrorHandler } from './client-errors.js';
import { installDrain } from './drain.js';
import './fastify-augment.js';
import { createLogger, standardOutput } from './logging.js';
import { ServiceMetrics } from './metrics.js';
import type { Registry } from 'prom-client';
import type { MetricsExposition } from '../cluster/metrics.js';
import { ProblemError } from '../errors/problems.js';
import { problemHandler } from './problem-mapping.js';
import { RateLimits } from './rate-limits.js';
import { securityHeaders } from './security-headers.js';
import { serverOptions } from './server-options.js';
import { clerkWebhooksPlugin } from '../clerk-webhooks/route.js';
import { devRoutes } from './routes/dev.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { tokenRoutes } from './routes/token.js';

/** Things a test or an embedding program may supply instead of the defaults. */
export interface AppDependencies {
  /** Log sink; standard output by default. */
  logDestination?: DestinationStream;
  /** A ready logger (overrides `logDestination`). */
  logger?: Logger;
  /** Used for JWKS and OIDC discovery fetches. */
  fetch?: typeof fetch;
  /** Clock in milliseconds. */
  now?: () => number;
  /** A Stream server client to use instead of `new StreamChat(key, secret, …)`. */
  streamClient?: StreamServerClient;
  /** Shared state to use instead of the one `REDIS_URL` selects. */
  syncStore?: SyncStore;
  /**
   * What `/metrics` serves, given this app's registry; the registry's own text by default. A
   * `WEB_CONCURRENCY` worker passes `clusterMetricsText`, so a scrape sees every worker.
   */
  metricsExposition?: (registry: Registry) => MetricsExposition;
}


declare module 'fastify' {
  interface FastifyInstance {
    /** This app's metrics registry, for a separate `METRICS_PORT` listener. */
    serviceMetrics: ServiceMetrics;
    /** What `/metrics` serves (see `AppDependencies.metricsExposition`), for that listener too. */
    metricsExposition: () => Promise<string>;
  }
}

/** Requests carry at most an empty JSON object. */
export const BODY_LIMIT_BYTES = 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PROBE_ROUTES = ['/healthz', '/readyz', '/metrics'];

/**
 * Builds the whole service as a Fastify instance without opening a port, so
 * tests drive it with `app.inject` and `serve` calls `listen` on it.
 */
export async function buildApp(config: ServiceConfig, deps: AppDependencies = {}): Promise<FastifyInstance> {
  const logTarget = deps.logDestination ?? standardOutput();
  const secrets = [config.stream.apiSecret.reveal(), config.clerk.secretKey?.reveal() ?? '', config.clerk.webhookSecret?.reveal() ?? '', config.redisUrl?.reveal() ?? ''];
  const logger = deps.logger ?? createLogger({ level: config.log.level, destination: logTarget, secrets });
  // The per-request line has fixed fields that are safe by construction, so it skips path redaction
  // (a measurable share of the request's cost); the line scrubber still runs.
  const requestLogger = deps.logger ?? createLogger({ level: config.log.level, destination: logTarget, secrets, redactPaths: false });
  const now = deps.now;

  // With TLS files the service speaks HTTPS itself; without, it expects a TLS-terminating proxy.
  const tls = config.http.tls !== null ? { cert: readFileSync(config.http.tls.certFile), key: readFileSync(config.http.tls.keyFile) } : null;
  const requestLog = new RequestLog({ disableRequestLogging: true });
  const everyAnswer = { ...securityHeaders({ hsts: config.http.tls !== null }), 'cache-control': 'no-store' };
  const app = Fastify({
    ...serverOptions(config.http, tls),
    loggerInstance: logger,
    // One line per request (and its metrics), instead of Fastify's two; see RequestLog below.
    logController: requestLog,
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
    clientErrorHandler: clientErrorHandler({ headers: everyAnswer, log: logger }),
  }) as unknown as FastifyInstance;

  app.decorateRequest('outcome', null);
  app.decorateRequest('userId', null);
  app.decorateRequest('session', null);

  // An empty body with a JSON content type counts as no body; anything else goes through Fastify's own
  // parser, which also refuses prototype-poisoning keys.
  const defaultJsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') {
      done(null, undefined);
      return;
    }
    defaultJsonParser(request, body as string, done);
  });

  // Identity
  const issuers: IssuerOptions[] = [...config.identity.issuers];
  const devIssuer = config.devMode
    ? loadOrCreateDevIssuer({ directory: config.dev.directory, issuer: config.dev.issuer, ...(now ? { now } : {}) })
    : null;
  if (devIssuer !== null) issuers.push({ ...devIssuer.issuerOptions, ...(config.dev.userIdPrefix !== undefined ? { userIdPrefix: config.dev.userIdPrefix } : {}) });
  for (const issuer of config.identity.anyAudience) {
    app.log.warn({ issuer }, 'OIDC issuer configured with "audience": "*": every token it mints for any app or API is accepted');
  }
  // Read at scrape time only, by when the verifier and the Stream user sync below exist.
  const metrics = new ServiceMetrics({ issuerStatus: () => verifier.status(), streamGuardStatus: () => streamUsers?.guard.status() ?? null });
  const verifier = new SessionVerifier({
    issuers,
    keySetTiming: config.identity.keySetTiming,
    clockSkewSeconds: config.identity.clockSkewSeconds,
    batch: true,
    logger: app.log,
    observer: { jwksFetch: (issuer, outcome) => metrics.jwksFetches.inc({ issuer, outcome }) },
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(now ? { now } : {}),
  });
  app.decorate('serviceMetrics', metrics);
  const exposition = deps.metricsExposition?.(metrics.registry);
  const metricsExposition = exposition?.render ?? (() => metrics.registry.metrics());
  app.decorate('metricsExposition', metricsExposition);
  if (exposition?.close !== undefined) app.addHook('onClose', async () => exposition.close?.());

  // Fastify calls requestCompleted on every finished response; doing the line and the metrics there
  // costs no onResponse hook (a hook runner per request, measured at a sixth of the token route).
  requestLog.write = (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const code = request.outcome ?? (reply.statusCode < 400 ? 'ok' : 'error');
    const ms = reply.elapsedTime;
    metrics.recordRequest(route, request.method, reply.statusCode, code, ms / 1000);
    requestLogger.info(
      { reqId: request.id, method: request.method, route, status: reply.statusCode, code, userId: request.userId ?? undefined, ms: Math.round(ms * 100) / 100 },
      'request',
    );
  };

  // Shared state
  const redis: RedisClient | null = deps.syncStore === undefined && config.redisUrl !== null ? createRedisClient(config.redisUrl.reveal(), { logger: app.log }) : null;
  const breaker = redis !== null ? createRedisBreaker(redis, { logger: app.log, observer: metrics.redisBreakerObserver }) : null;
  const store: SyncStore = deps.syncStore ?? (redis !== null ? new RedisSyncStore({ client: redis, breaker }) : new MemorySyncStore());

  // Stream
  const policy = compilePolicy({ ...(config.policy.document !== null ? { document: config.policy.document } : {}), roleMap: config.policy.roleMap });
  const minter = new StreamTokenMinter({ apiSecret: config.stream.apiSecret.reveal(), ttlSeconds: config.stream.tokenTtlSeconds, ...(now ? { now } : {}) });
  const hasStream = !config.stream.placeholderCredentials || config.stream.baseUrl !== null || deps.streamClient !== undefined;
  const streamUsers: StreamUserSync | null = hasStream
    ? new StreamUserSync({
        client:
          deps.streamClient ??
          new StreamChat(config.stream.apiKey, config.stream.apiSecret.reveal(), {
            timeout: config.stream.timeoutMs,
            ...(config.stream.baseUrl !== null ? { baseURL: config.stream.baseUrl } : {}),
          }),
        store,
        profileTtlSeconds: config.sync.ttlSeconds,
        checkRemoved: false,
        // With teams from the policy, an empty list is written too, so leaving the last organization clears it.
        manageTeams: policy.teams !== null,
        guard: new StreamCallGuard({ maxConcurrency: config.stream.maxConcurrency, queueTimeoutMs: config.stream.queueTimeoutMs, logger: app.log, ...(now ? { breaker: { now } } : {}) }),
        observer: metrics.streamCallObserver(),
        logger: app.log,
      })
    : null;
  const exchange = new TokenExchange({
    minter,
    apiKey: config.stream.apiKey,
    policy,
    store,
    removedOnStoreError: config.removedUsers.onStoreError,
    streamUsers,
    syncOnIssue: config.sync.enabled,
    failureMode: config.sync.failureMode,
    onIssuedWithoutSync: () => metrics.tokensIssuedWithoutSync.inc(),
    logger: app.log,
    ...(now ? { now } : {}),
  });

  // Cross-cutting hooks. Callback style and as few as possible: each hook is paid on every request.
  const limits = new RateLimits({
    perIpPerMinute: config.rateLimit.perIpPerMinute,
    perUserPerMinute: config.rateLimit.perUserPerMinute,
    onStoreError: config.rateLimit.onStoreError,
    redis,
    breaker,
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
  // The path is not echoed: it may carry a token someone pasted into a URL.
  app.setNotFoundHandler((_request, reply) => reply.send(new ProblemError({ code: 'not_found', detail: 'No such route. See /healthz, /readyz and POST /stream/token.' })));

  // Without CORS_ORIGINS no origin is allowed, so the plugin (a hook on every request) is left out.
  if (config.http.corsOrigins.length > 0) {
    const allowedOrigins = new Set(config.http.corsOrigins);
    await app.register(cors, {
      // Exact matches only; `null` (sandboxed frames, file://) and unknown origins get no CORS headers.
      origin: (origin, callback) => callback(null, origin !== undefined && allowedOrigins.has(origin)),
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'],
      maxAge: 600,
    });
  }

  app.addHook('onReady', async () => {
    await Promise.all([verifier.start(), redis !== null ? waitForRedis(redis, REDIS_START_WAIT_MS) : null]);
  });
  app.addHook('onClose', async () => {
    verifier.close();
    if (redis !== null) await closeRedis(redis);
  });

  const redisRequired = config.rateLimit.onStoreError === 'deny' || config.removedUsers.onStoreError === 'deny';
  const redisHealth = redis !== null && breaker !== null ? redisHealthOf(redis, config.redisUrl!.reveal(), breaker, redisRequired) : undefined;
  if (redisHealth !== undefined) metrics.watchRedis(redisHealth);
  await app.register(healthRoutes, { isReady: () => verifier.isReady(), stopping: () => drain.stopping, issuerStatus: () => verifier.status(), ...(redisHealth ? { redis: redisHealth } : {}) });
  if (config.metrics.port === null) await app.register(metricsRoutes, { metrics, render: metricsExposition });
  await app.register(tokenRoutes, {
    exchange,
    // Verify first, then count the request against the verified user's limit.
    authenticate: async (request, reply) => {
      const session = await verifier.verify(bearerToken(request.headers.authorization));
      request.session = session;
      request.userId = session.userId;
      const pending = limits.checkNow('user', session.userId, request, reply);
      if (pending !== undefined) await pending;
    },
  });
  if (config.clerk.webhookSecret !== null) {
    if (streamUsers === null) {
      app.log.warn('CLERK_WEBHOOK_SECRET is set but there is no Stream to apply webhooks to (placeholder credentials): /webhooks/clerk is off');
    } else {
      await app.register(clerkWebhooksPlugin, {
        secret: config.clerk.webhookSecret.reveal(),
        store,
        logger: app.log,
        observer: { webhook: (type, outcome) => metrics.webhooks.inc({ type, outcome }) },
        handlers: createClerkWebhookHandlers({
          sync: {
            onUserUpserted: (user) => streamUsers.onUserUpserted(user),
            onUserDeleted: (userId, mode) => streamUsers.onUserDeleted(userId, mode),
            onMembershipChanged: (change) => streamUsers.onMembershipChanged(change),
            // Minted tokens carry a backdated iat; shift the cutoff the same way.
            revokeTokens: (userId, before) => streamUsers.revokeTokens(userId, minter.revocationCutoff(before.getTime())),
          },
          policy,
          onUserDeleted: config.sync.onUserDeleted,
          userIdPrefix: config.identity.issuers.find((issuer) => issuer.kind === 'clerk')?.userIdPrefix ?? '',
          events: store,
        }),
        ...(now ? { now } : {}),
      });
    }
  }
  if (devIssuer !== null) await app.register(devRoutes, { prefix: '/dev', devIssuer });

  return app;
}

/** Writes the one line per request and its metrics when Fastify reports a finished response. */
class RequestLog extends LogController {
  write: (request: FastifyRequest, reply: FastifyReply) => void = () => undefined;

  override requestCompleted(_error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    this.write(request, reply);
  }
}
