import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IssuerKeyStatus } from '../identity/types.js';
import type { StreamCallGuardStatus } from '../stream/call-guard.js';
import type { UserSyncObserver } from '../stream/user-sync.js';
import { BREAKER_STATE_VALUE, type BreakerObserver } from '../state/redis-breaker.js';
import type { RedisHealth } from '../state/redis-health.js';

const PREFIX = 'stream_token_service_';

export interface ServiceMetricsOptions {
  /** Read at scrape time for key age and staleness. */
  issuerStatus: () => IssuerKeyStatus[];
  /** Read at scrape time for Stream calls in flight, queued, and the breaker; absent without Stream. */
  streamGuardStatus?: () => StreamCallGuardStatus | null;
  /** Process metrics (CPU, memory, event loop lag). On by default. */
  processMetrics?: boolean;
}

/**
 * Every metric the service exports, on a registry of its own (never the
 * process-wide default), so two apps in one process, as in tests, never share
 * counts.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: `${PREFIX}http_requests_total`,
    help: 'Requests by route, method, status and outcome code (ok or a problem code).',
    labelNames: ['route', 'method', 'status', 'code'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Time from request to response, by route.',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly verificationFailures = new Counter({
    name: `${PREFIX}verification_failures_total`,
    help: 'Session tokens refused, by reason (the problem code).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly jwksFetches = new Counter({
    name: `${PREFIX}jwks_fetches_total`,
    help: 'JWKS and discovery fetches by issuer and outcome.',
    labelNames: ['issuer', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly streamCalls = new Counter({
    name: `${PREFIX}stream_api_calls_total`,
    help: "Calls to Stream's API by operation and outcome.",
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly streamCallsRefused = new Counter({
    name: `${PREFIX}stream_api_calls_refused_total`,
    help: "Calls to Stream's API not made, by operation and reason (breaker_open, queue_timeout); they fail as Stream being unavailable.",
    labelNames: ['operation', 'reason'] as const,
    registers: [this.registry],
  });

  readonly tokensIssuedWithoutSync = new Counter({
    name: `${PREFIX}tokens_issued_without_sync_total`,
    help: 'Tokens issued although the Stream user sync failed (STREAM_SYNC_FAILURE=open).',
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: `${PREFIX}rate_limited_total`,
    help: 'Requests refused by a rate limit, by scope (ip or user).',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });

  readonly rateLimitStoreErrors = new Counter({
    name: `${PREFIX}rate_limit_store_errors_total`,
    help: 'Rate-limit checks that could not reach the store, by the action taken (allow or deny).',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });

  readonly redisBreakerState = new Gauge({
    name: `${PREFIX}redis_breaker_state`,
    help: 'The circuit breaker around Redis: 0 closed (Redis is asked), 1 half-open (a probe is under way), 2 open (it is not).',
    registers: [this.registry],
  });

  readonly redisCommandFailures = new Counter({
    name: `${PREFIX}redis_command_failures_total`,
    help: 'Redis commands that failed, by kind: timeout, error, or breaker_open (not sent while the breaker is open).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  /** Feeds the two series above from the Redis breaker. */
  readonly redisBreakerObserver: BreakerObserver = {
    state: (state) => this.redisBreakerState.set(BREAKER_STATE_VALUE[state]),
    failure: (kind) => this.redisCommandFailures.inc({ kind }),
  };

  /** `stream_token_service_redis_nodes{state}`: connections up and known, read at scrape time. */
  watchRedis(health: () => RedisHealth): void {
    new Gauge({
      name: `${PREFIX}redis_nodes`,
      help: "Redis connections: connected (up now) and known (a cluster's nodes; 1 otherwise).",
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const { nodes } = health();
        this.set({ state: 'connected' }, nodes.connected);
        this.set({ state: 'known' }, nodes.known);
      },
    });
  }

  readonly webhooks = new Counter({
    name: `${PREFIX}webhooks_total`,
    help: 'Webhook deliveries by event type and outcome.',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly corsRefusals = new Counter({
    name: `${PREFIX}cors_refusals_total`,
    help: 'Browser preflights refused (403 origin_not_allowed) because their origin is not in CORS_ORIGINS.',
    registers: [this.registry],
  });

  readonly connectionsDropped = new Counter({
    name: `${PREFIX}http_connections_dropped_total`,
    help: 'Connections closed as they arrived because HTTP_MAX_CONNECTIONS were already open.',
    registers: [this.registry],
  });

  readonly #requestCounters = new Map<string, { inc(): void }>();
  readonly #durationHistograms = new Map<string, { observe(value: number): void }>();

  /** Counts one answered request; labelled children are looked up once and kept (a handful of routes and codes). */
  recordRequest(route: string, method: string, status: number, code: string, seconds: number): void {
    const key = `${route} ${method} ${status} ${code}`;
    let counter = this.#requestCounters.get(key);
    if (counter === undefined) {
      counter = this.requests.labels({ route, method, status, code });
      // Unmatched routes and odd methods could mint labels without end; past the cap they are counted uncached.
      if (this.#requestCounters.size < 1000) this.#requestCounters.set(key, counter);
    }
    counter.inc();
    let histogram = this.#durationHistograms.get(route);
    if (histogram === undefined) {
      histogram = this.requestDuration.labels({ route });
      if (this.#durationHistograms.size < 100) this.#durationHistograms.set(route, histogram);
    }
    histogram.observe(seconds);
  }

  /** Counts every call to Stream's API, and every call the guard refused. */
  streamCallObserver(): UserSyncObserver {
    return {
      streamCall: (operation, outcome) => this.streamCalls.inc({ operation, outcome }),
      streamCallRefused: (operation, reason) => this.streamCallsRefused.inc({ operation, reason }),
    };
  }

  constructor(options: ServiceMetricsOptions) {
    // Read from the same status /readyz shows, so the two never disagree.
    const issuerGauge = (name: string, help: string, value: (status: IssuerKeyStatus) => number | null): void => {
      const gauge = new Gauge({
        name: `${PREFIX}${name}`,
        help,
        labelNames: ['issuer'] as const,
        registers: [this.registry],
        collect() {
          gauge.reset();
          for (const status of options.issuerStatus()) {
            const sample = value(status);
            if (sample !== null) gauge.set({ issuer: status.issuer }, sample);
          }
        },
      });
    };
    issuerGauge(
      'jwks_key_age_seconds',
      'Seconds since the signing keys in use were fetched, by issuer (0 for static keys; no sample while an issuer has none).',
      (s) => s.keyAgeSeconds,
    );
    issuerGauge(
      'jwks_keys_stale',
      "1 when an issuer's keys could not be refreshed (or the refresh is overdue) and the last good ones are in use, else 0; 0 too while none are loaded (see jwks_keys_loaded).",
      (s) => (s.stale ? 1 : 0),
    );
    issuerGauge(
      'jwks_keys_loaded',
      'Signing keys usable, by issuer: 0 while none have loaded yet, or after they were dropped past JWKS_MAX_STALE_SECONDS.',
      (s) => s.keyCount,
    );
    const guard = options.streamGuardStatus;
    if (guard !== undefined) streamGuardGauges(this.registry, guard);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }
}

function streamGuardGauges(registry: Registry, status: () => StreamCallGuardStatus | null): void {
  const inFlight = new Gauge({
    name: `${PREFIX}stream_api_in_flight`,
    help: "Calls to Stream's API under way (at most STREAM_API_MAX_CONCURRENCY).",
    registers: [registry],
    collect() {
      inFlight.set(status()?.inFlight ?? 0);
    },
  });
  const queued = new Gauge({
    name: `${PREFIX}stream_api_queued`,
    help: "Calls to Stream's API waiting for a free slot (each at most STREAM_API_QUEUE_TIMEOUT_MS).",
    registers: [registry],
    collect() {
      queued.set(status()?.queued ?? 0);
    },
  });
  const breaker = new Gauge({
    name: `${PREFIX}stream_breaker_state`,
    help: "Breaker on calls to Stream's API: 0 closed (calls go through), 1 half-open (one trial call under way), 2 open (calls fail at once).",
    registers: [registry],
    collect() {
      breaker.set(BREAKER_STATE_VALUE[status()?.breaker ?? 'closed']);
    },
  });
}
