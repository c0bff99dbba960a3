import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IssuerKeyStatus } from '../identity/types.js';

const PREFIX = 'stream_token_service_';

export interface ServiceMetricsOptions {
  /** Read at scrape time for key age and staleness. */
  issuerStatus: () => IssuerKeyStatus[];
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
    help: 'Calls to Stream\'s API by operation and outcome.',
    labelNames: ['operation', 'outcome'] as const,
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

  readonly webhooks = new Counter({
    name: `${PREFIX}webhooks_total`,
    help: 'Webhook deliveries by event type and outcome.',
    labelNames: ['type', 'outcome'] as const,
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

  constructor(options: ServiceMetricsOptions) {
    const keyAge = new Gauge({
      name: `${PREFIX}jwks_key_age_seconds`,
      help: 'Seconds since the signing keys in use were fetched, by issuer (0 for static keys; -1 when none are loaded).',
      labelNames: ['issuer'] as const,
      registers: [this.registry],
      collect() {
        for (const s of options.issuerStatus()) keyAge.set({ issuer: s.issuer }, s.keyAgeSeconds ?? -1);
      },
    });
    const stale = new Gauge({
      name: `${PREFIX}jwks_keys_stale`,
      help: '1 when an issuer\'s keys could not be refreshed and the last good ones are in use (or none are usable), else 0.',
      labelNames: ['issuer'] as const,
      registers: [this.registry],
      collect() {
        for (const s of options.issuerStatus()) stale.set({ issuer: s.issuer }, s.stale || !s.ready ? 1 : 0);
      },
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }
}
