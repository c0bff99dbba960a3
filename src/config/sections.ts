/**
 * One builder per part of the configuration, each reading its variables
 * through the table and recording problems on the shared reader. `loadConfig`
 * calls them in the order their facts depend on each other.
 */

import { loadOrCreateDevStreamCredentials } from '../dev/dev-credentials.js';
import { devModeProblems } from '../dev/dev-mode.js';
import { loadPolicyFile, parseRoleMap, PolicyFileError, type PolicyDocument } from '../policy/index.js';
import { readIssuers } from './issuers.js';
import { isLoopbackUrl, type VariableReader } from './reader.js';
import { Secret } from './secret.js';
import { readTrustProxy } from './trust-proxy.js';
import type { ServiceConfig } from './types.js';

type Section<K extends keyof ServiceConfig> = ServiceConfig[K];

/** `NODE_ENV` and `DEV_MODE` (or `--dev`), which change the defaults and rules of everything else. */
export function readMode(read: VariableReader, forceDevMode: boolean): { production: boolean; devMode: boolean } {
  // `Production` or `PRODUCTION` is still production: dev mode must never slip through on a spelling.
  const production = (read.string('NODE_ENV') ?? '').toLowerCase() === 'production';
  const devMode = forceDevMode || read.boolean('DEV_MODE');
  if (devMode && production) {
    read.problem(
      'DEV_MODE',
      'dev mode cannot run with NODE_ENV=production: its issuer signs tokens for any user id',
      'unset DEV_MODE (and do not pass --dev) in production, or unset NODE_ENV=production on a development machine',
    );
  }
  return { production, devMode };
}

export function readHttp(read: VariableReader, cwd: string): Section<'http'> {
  const certFile = read.path('TLS_CERT_FILE', cwd);
  const keyFile = read.path('TLS_KEY_FILE', cwd);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    read.problem(certFile === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE', 'TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  }
  const corsOrigins = read.list('CORS_ORIGINS');
  for (const origin of corsOrigins) {
    if (!isExactOrigin(origin)) read.problem('CORS_ORIGINS', `"${origin}" is not an exact origin`);
  }
  return {
    host: read.text('HOST'),
    port: read.integer('PORT'),
    trustProxy: readTrustProxy(read),
    corsOrigins,
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : null,
    // No load balancer to wait for in dev mode: Ctrl-C stops at once there (the table's dev default).
    shutdownDelaySeconds: read.integer('SHUTDOWN_DELAY_SECONDS'),
    shutdownGraceSeconds: read.integer('SHUTDOWN_GRACE_SECONDS'),
    maxConnections: read.integer('HTTP_MAX_CONNECTIONS'),
    requestTimeoutMs: read.integer('HTTP_REQUEST_TIMEOUT_MS'),
    connectionTimeoutMs: read.integer('HTTP_CONNECTION_TIMEOUT_MS'),
  };
}

export function readLog(read: VariableReader): Section<'log'> {
  return { level: read.choice('LOG_LEVEL') };
}

/** Where dev mode keeps its files, and the issuer its tokens name, which the port decides. */
export function readDev(read: VariableReader, cwd: string, port: number): Section<'dev'> {
  return {
    directory: read.path('DEV_DIRECTORY', cwd),
    issuer: `http://localhost:${port}/dev`,
    allowNetwork: read.boolean('DEV_MODE_ALLOW_NETWORK'),
  };
}

/** Stream's key and secret; without them, dev mode (only) makes placeholders. */
export function readStream(read: VariableReader, devDirectory: string, production: boolean): Section<'stream'> {
  let apiKey = read.string('STREAM_API_KEY');
  let apiSecret = read.string('STREAM_API_SECRET');
  let placeholderCredentials = false;
  if ((apiKey === undefined) !== (apiSecret === undefined)) {
    read.problem(apiKey === undefined ? 'STREAM_API_KEY' : 'STREAM_API_SECRET', 'STREAM_API_KEY and STREAM_API_SECRET must be set together');
  } else if (apiKey === undefined || apiSecret === undefined) {
    if (read.devMode && !production) {
      ({ apiKey, apiSecret } = loadOrCreateDevStreamCredentials(devDirectory));
      placeholderCredentials = true;
    } else {
      read.problem(
        'STREAM_API_KEY',
        'is required (with STREAM_API_SECRET) to sign Stream Chat tokens',
        'set STREAM_API_KEY and STREAM_API_SECRET (or STREAM_API_SECRET_FILE) from the Stream dashboard; for a local try-out run `npm run dev` instead',
      );
    }
  }
  const maxTtl = read.integer('STREAM_TOKEN_MAX_TTL_SECONDS');
  const baseUrl = read.url('STREAM_API_BASE_URL');
  return {
    apiKey: apiKey ?? '',
    apiSecret: new Secret(apiSecret ?? ''),
    placeholderCredentials,
    tokenTtlSeconds: Math.min(read.integer('STREAM_TOKEN_TTL_SECONDS'), maxTtl),
    baseUrl: baseUrl ?? null,
    timeoutMs: read.integer('STREAM_API_TIMEOUT_MS'),
    maxConcurrency: read.integer('STREAM_API_MAX_CONCURRENCY'),
    queueTimeoutMs: read.integer('STREAM_API_QUEUE_TIMEOUT_MS'),
  };
}

/** The settings that name an issuer or its keys (a secret given as a file included). */
const ISSUER_SETTINGS: ReadonlySet<string> = new Set([
  'CLERK_JWT_ISSUER',
  'CLERK_FRONTEND_API',
  'CLERK_PUBLISHABLE_KEY',
  'CLERK_JWKS_URL',
  'CLERK_JWT_KEY',
  'CLERK_JWT_KEY_FILE',
  'OIDC_ISSUERS',
]);

/** Key-set timing and every issuer; refused when none could ever accept a token. */
export function readIdentity(read: VariableReader, devIssuer: string | null): { identity: Section<'identity'>; devUserIdPrefix: string | undefined } {
  const clockSkewSeconds = read.integer('CLOCK_SKEW_SECONDS');
  const keySetTiming = {
    cacheTtlSeconds: read.integer('JWKS_CACHE_TTL_SECONDS'),
    cooldownSeconds: read.integer('JWKS_COOLDOWN_SECONDS'),
    maxStaleSeconds: read.integer('JWKS_MAX_STALE_SECONDS'),
    fetchTimeoutMs: read.integer('JWKS_FETCH_TIMEOUT_MS'),
    fetchWaitMs: read.integer('JWKS_FETCH_WAIT_MS'),
  };
  const { issuers, anyAudience, devUserIdPrefix } = readIssuers(read, devIssuer);
  // A problem in a setting that names an issuer already says why there is none; other settings' problems do not.
  if (issuers.length === 0 && devIssuer === null && !read.hasProblem((v) => ISSUER_SETTINGS.has(v))) {
    read.problem(
      'CLERK_JWT_ISSUER',
      'no identity provider is configured, so no session token could ever be accepted',
      'set CLERK_JWT_ISSUER, CLERK_FRONTEND_API or CLERK_PUBLISHABLE_KEY for Clerk, and/or OIDC_ISSUERS for other providers',
    );
  }
  return { identity: { issuers, keySetTiming, clockSkewSeconds, anyAudience }, devUserIdPrefix };
}

/** Dev mode's refusals (dev-mode.ts), from the facts the other sections settled. */
export function checkDevMode(read: VariableReader, config: Pick<ServiceConfig, 'http' | 'stream' | 'identity' | 'dev'>): void {
  const localStream = config.stream.baseUrl !== null && isLoopbackUrl(config.stream.baseUrl);
  const problems = devModeProblems({
    host: config.http.host,
    realStreamCredentials: !config.stream.placeholderCredentials && !localStream,
    otherIssuers: config.identity.issuers.length,
    allowNetwork: config.dev.allowNetwork,
  });
  for (const p of problems) read.problem('DEV_MODE', p.message, p.fix);
}

export function readClerkApi(read: VariableReader): Section<'clerk'> {
  for (const name of ['CLERK_SECRET_KEY', 'CLERK_API_KEY'] as const) read.misplacedClerkCredential(name, 'secret key', read.string(name));
  read.misplacedClerkCredential('CLERK_WEBHOOK_SECRET', 'webhook signing secret', read.string('CLERK_WEBHOOK_SECRET'));
  return {
    secretKey: secretOrNull(read.string('CLERK_SECRET_KEY') ?? read.string('CLERK_API_KEY')),
    apiUrl: read.url('CLERK_API_URL'),
    webhookSecret: secretOrNull(read.string('CLERK_WEBHOOK_SECRET')),
  };
}

/** Sync is on by default, but not with placeholder credentials: the real Stream would refuse every call. */
export function readSync(read: VariableReader, placeholderCredentials: boolean): Section<'sync'> {
  return {
    enabled: read.boolean('STREAM_SYNC_USERS', !placeholderCredentials),
    ttlSeconds: read.integer('STREAM_SYNC_TTL_SECONDS'),
    failureMode: read.choice('STREAM_SYNC_FAILURE'),
    onUserDeleted: read.choice('STREAM_ON_USER_DELETED'),
  };
}

export function readPolicy(read: VariableReader, cwd: string): Section<'policy'> {
  const roleMapSource = read.text('STREAM_ROLE_MAP');
  const roleMap = parseRoleMap(roleMapSource);
  for (const message of roleMap.problems) read.problem('STREAM_ROLE_MAP', message);
  const policyFile = read.path('POLICY_FILE', cwd);
  let document: PolicyDocument | null = null;
  if (policyFile !== undefined) {
    try {
      document = loadPolicyFile(policyFile);
    } catch (err) {
      if (!(err instanceof PolicyFileError)) throw err;
      for (const message of err.problems) read.problem('POLICY_FILE', message);
    }
  }
  return { roleMapSource: roleMapSource ?? null, roleMap: roleMap.map, policyFile: policyFile ?? null, document };
}

export function readRateLimits(read: VariableReader): Section<'rateLimit'> {
  return {
    // Behind a proxy that is not trusted, every request shares one address; one instance can serve
    // more than a million a minute, so the ceiling stays well above that.
    perIpPerMinute: read.integer('RATE_LIMIT_PER_IP'),
    perUserPerMinute: read.integer('RATE_LIMIT_PER_USER'),
    onStoreError: read.choice('RATE_LIMIT_ON_STORE_ERROR'),
  };
}

export function readRemovedUsers(read: VariableReader): Section<'removedUsers'> {
  return { onStoreError: read.choice('REMOVED_USERS_ON_STORE_ERROR') };
}

export function readRedis(read: VariableReader): Section<'redisUrl'> {
  return secretOrNull(read.redisUrl('REDIS_URL'));
}

export function readMetrics(read: VariableReader): Section<'metrics'> {
  return { port: read.optionalInteger('METRICS_PORT') };
}

/** Workers share webhook replay guards and removals only through Redis. */
export function readWebConcurrency(read: VariableReader, shared: Pick<ServiceConfig, 'redisUrl' | 'clerk'>): number {
  const webConcurrency = read.integer('WEB_CONCURRENCY');
  if (webConcurrency > 1 && shared.redisUrl === null && shared.clerk.webhookSecret !== null) {
    read.problem(
      'WEB_CONCURRENCY',
      'with CLERK_WEBHOOK_SECRET and no REDIS_URL, each worker keeps its own webhook replay guard and deleted-user list: a delivery would apply once per worker, and a deleted user would be refused by one worker only',
      'set REDIS_URL so the workers share that state, or run one process per instance (WEB_CONCURRENCY=1)',
    );
  }
  return webConcurrency;
}

function secretOrNull(value: string | undefined): Secret | null {
  return value === undefined ? null : new Secret(value);
}

function isExactOrigin(origin: string): boolean {
  try {
    const parsed = new URL(origin);
    return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.origin === origin;
  } catch {
    return false;
  }
}
