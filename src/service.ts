/**
 * The composition root: every part of the service, built once from the
 * validated configuration. Nothing here speaks HTTP; src/http/app.ts builds
 * the Fastify app from these parts, and src/server.ts joins the two.
 */

import type { DestinationStream, Logger } from 'pino';
import type { Registry } from 'prom-client';
import { StreamChat } from 'stream-chat';
import { createClerkWebhookHandlers } from './clerk-webhooks/handlers.js';
import type { ClerkWebhookPluginOptions } from './clerk-webhooks/route.js';
import type { MetricsExposition } from './cluster/metrics.js';
import type { ServiceConfig } from './config/types.js';
import { TokenExchange } from './exchange/token-exchange.js';
import { createLogger, serializeError, standardOutput } from './http/logging.js';
import { ServiceMetrics } from './http/metrics.js';
import { loadOrCreateDevIssuer, type DevIssuer } from './dev/dev-issuer.js';
import { SessionVerifier } from './identity/session-verifier.js';
import type { IssuerOptions } from './identity/types.js';
import { compilePolicy, type CompiledPolicy } from './policy/index.js';
import { closeRedis, createRedisClient, REDIS_START_WAIT_MS, waitForRedis, type RedisClient } from './state/redis.js';
import { createRedisBreaker, type RedisBreaker } from './state/redis-breaker.js';
import { redisHealthOf, type RedisHealth } from './state/redis-health.js';
import { MemorySyncStore, RedisSyncStore, type SyncStore } from './state/sync-store.js';
import { RedisWindowCounters } from './state/window-counters.js';
import { StreamTokenMinter } from './stream/token-minter.js';
import { StreamCallGuard, StreamUserSync, type StreamServerClient } from './stream/user-sync.js';

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

/** The parts of the service, ready to serve. */
export interface Service {
  readonly config: ServiceConfig;
  readonly logger: Logger;
  /** For the one line per request: its fields are fixed and safe, so it skips path redaction (the scrubber still runs). */
  readonly requestLogger: Logger;
  readonly metrics: ServiceMetrics;
  /** What `/metrics` serves. */
  readonly renderMetrics: () => Promise<string>;
  readonly verifier: SessionVerifier;
  readonly exchange: TokenExchange;
  /** The rate limits' counters shared through Redis; null when they count in this process. */
  readonly limitCounters: RedisWindowCounters | null;
  /** The shared state's health, when `REDIS_URL` is set. */
  readonly redisHealth: (() => RedisHealth) | null;
  /** `POST /webhooks/clerk`, when `CLERK_WEBHOOK_SECRET` is set and there is a Stream to apply webhooks to. */
  readonly clerkWebhooks: ClerkWebhookPluginOptions | null;
  /** The development issuer, in dev mode. */
  readonly devIssuer: DevIssuer | null;
  /** Loads every issuer's keys and waits (briefly) for Redis. */
  start(): Promise<void>;
  /** Lets go of timers, connections and the metrics exposition. */
  close(): Promise<void>;
}

export function createService(config: ServiceConfig, deps: AppDependencies = {}): Service {
  const { now } = deps;
  const { logger, requestLogger } = loggers(config, deps);

  const devIssuer = config.devMode ? loadOrCreateDevIssuer({ directory: config.dev.directory, issuer: config.dev.issuer, ...(now ? { now } : {}) }) : null;
  const issuers: IssuerOptions[] = [...config.identity.issuers];
  if (devIssuer !== null)
    issuers.push({ ...devIssuer.issuerOptions, ...(config.dev.userIdPrefix !== undefined ? { userIdPrefix: config.dev.userIdPrefix } : {}) });
  for (const issuer of config.identity.anyAudience) {
    logger.warn({ issuer }, 'OIDC issuer configured with "audience": "*": every token it mints for any app or API is accepted');
  }
  // Read at scrape time only, by when the verifier and the Stream user sync below exist.
  const metrics = new ServiceMetrics({ issuerStatus: () => verifier.status(), streamGuardStatus: () => streamUsers?.guard.status() ?? null });
  const verifier = new SessionVerifier({
    issuers,
    keySetTiming: config.identity.keySetTiming,
    clockSkewSeconds: config.identity.clockSkewSeconds,
    batch: true,
    logger,
    observer: { jwksFetch: (issuer, outcome) => metrics.jwksFetches.inc({ issuer, outcome }) },
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(now ? { now } : {}),
  });
  const exposition = deps.metricsExposition?.(metrics.registry);

  const { redis, breaker, store } = sharedState(config, deps, logger, metrics);
  const policy = compilePolicy({ ...(config.policy.document !== null ? { document: config.policy.document } : {}), roleMap: config.policy.roleMap });
  const minter = new StreamTokenMinter({ apiSecret: config.stream.apiSecret.reveal(), ttlSeconds: config.stream.tokenTtlSeconds, ...(now ? { now } : {}) });
  const streamUsers = streamUserSync(config, deps, { store, policy, logger, metrics });
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
    logger,
    ...(now ? { now } : {}),
  });

  let clerkWebhooks: ClerkWebhookPluginOptions | null = null;
  if (config.clerk.webhookSecret !== null && streamUsers === null) {
    logger.warn('CLERK_WEBHOOK_SECRET is set but there is no Stream to apply webhooks to (placeholder credentials): /webhooks/clerk is off');
  } else if (config.clerk.webhookSecret !== null && streamUsers !== null) {
    clerkWebhooks = {
      secret: config.clerk.webhookSecret.reveal(),
      store,
      logger,
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
    };
  }

  const redisRequired = config.rateLimit.onStoreError === 'deny' || config.removedUsers.onStoreError === 'deny';
  const redisHealth = redis !== null && breaker !== null ? redisHealthOf(redis, config.redisUrl!.reveal(), breaker, redisRequired) : null;
  if (redisHealth !== null) metrics.watchRedis(redisHealth);

  return {
    config,
    logger,
    requestLogger,
    metrics,
    renderMetrics: exposition !== undefined ? () => exposition.render() : () => metrics.registry.metrics(),
    verifier,
    exchange,
    limitCounters: redis !== null ? new RedisWindowCounters({ client: redis, breaker }) : null,
    redisHealth,
    clerkWebhooks,
    devIssuer,
    async start() {
      await Promise.all([verifier.start(), redis !== null ? waitForRedis(redis, REDIS_START_WAIT_MS) : null]);
    },
    async close() {
      exposition?.close?.();
      verifier.close();
      if (redis !== null) await closeRedis(redis);
    },
  };
}

/** The service's logger, and the one for the per-request line; a supplied logger serves as both. */
function loggers(config: ServiceConfig, deps: AppDependencies): { logger: Logger; requestLogger: Logger } {
  if (deps.logger !== undefined) {
    // A supplied logger gets the safe error serializer too: pino's own would copy a Stream SDK error's request headers.
    const logger = deps.logger.child({}, { serializers: { err: serializeError } });
    return { logger, requestLogger: logger };
  }
  const destination = deps.logDestination ?? standardOutput();
  const secrets = [
    config.stream.apiSecret.reveal(),
    config.clerk.secretKey?.reveal() ?? '',
    config.clerk.webhookSecret?.reveal() ?? '',
    config.redisUrl?.reveal() ?? '',
  ];
  return {
    logger: createLogger({ level: config.log.level, destination, secrets }),
    requestLogger: createLogger({ level: config.log.level, destination, secrets, redactPaths: false }),
  };
}

/** Redis when `REDIS_URL` is set (and no store is supplied), with its breaker; the sync store on it, or in memory. */
function sharedState(
  config: ServiceConfig,
  deps: AppDependencies,
  logger: Logger,
  metrics: ServiceMetrics,
): { redis: RedisClient | null; breaker: RedisBreaker | null; store: SyncStore } {
  const redis = deps.syncStore === undefined && config.redisUrl !== null ? createRedisClient(config.redisUrl.reveal(), { logger }) : null;
  const breaker = redis !== null ? createRedisBreaker(redis, { logger, observer: metrics.redisBreakerObserver }) : null;
  const store = deps.syncStore ?? (redis !== null ? new RedisSyncStore({ client: redis, breaker }) : new MemorySyncStore());
  return { redis, breaker, store };
}

/** Stream's user operations; null when there is no Stream to talk to (dev mode with placeholder credentials). */
function streamUserSync(
  config: ServiceConfig,
  deps: AppDependencies,
  parts: { store: SyncStore; policy: CompiledPolicy; logger: Logger; metrics: ServiceMetrics },
): StreamUserSync | null {
  const hasStream = !config.stream.placeholderCredentials || config.stream.baseUrl !== null || deps.streamClient !== undefined;
  if (!hasStream) return null;
  const { now } = deps;
  return new StreamUserSync({
    client:
      deps.streamClient ??
      new StreamChat(config.stream.apiKey, config.stream.apiSecret.reveal(), {
        timeout: config.stream.timeoutMs,
        ...(config.stream.baseUrl !== null ? { baseURL: config.stream.baseUrl } : {}),
      }),
    store: parts.store,
    profileTtlSeconds: config.sync.ttlSeconds,
    checkRemoved: false,
    // With teams from the policy, an empty list is written too, so leaving the last organization clears it.
    manageTeams: parts.policy.teams !== null,
    guard: new StreamCallGuard({
      maxConcurrency: config.stream.maxConcurrency,
      queueTimeoutMs: config.stream.queueTimeoutMs,
      logger: parts.logger,
      ...(now ? { breaker: { now } } : {}),
    }),
    observer: parts.metrics.streamCallObserver(),
    logger: parts.logger,
  });
}
