import { readFileSync } from 'node:fs';
import { loadPolicyFile, parseRoleMap, PolicyFileError, type PolicyDocument } from '../policy/index.js';
import { loadOrCreateDevStreamCredentials } from '../dev/dev-credentials.js';
import { resolveSecretFiles, type Environment } from './environment.js';
import { ConfigError, type ConfigProblem } from './problems.js';
import { Secret } from './secret.js';
import { devModeProblems } from '../dev/dev-mode.js';
import { readIssuers } from './issuers.js';
import { isLoopbackUrl, VariableReader } from './reader.js';
import { readTrustProxy } from './trust-proxy.js';
import type { ServiceConfig } from './types.js';

export interface LoadConfigOptions {
  env: Environment;
  /** Base for relative paths (`.dev/`, `POLICY_FILE`). */
  cwd: string;
  /** Forces dev mode on (the `--dev` flag of `serve`), as `DEV_MODE=true` would. */
  devMode?: boolean;
  /** Reads the files that `<NAME>_FILE` secret variables name. */
  readFile?: (path: string) => string;
}

/**
 * Reads every variable once, validates all of them, and either returns the
 * typed configuration or throws one `ConfigError` listing every problem with
 * its fix, so an operator fixes the whole file in one pass.
 */
export function loadConfig(options: LoadConfigOptions): ServiceConfig {
  const problems: ConfigProblem[] = [];
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const env = resolveSecretFiles(options.env, readFile, problems);
  const modeReader = new VariableReader(env, problems);

  // `Production` or `PRODUCTION` is still production: dev mode must never slip through on a spelling.
  const production = (modeReader.string('NODE_ENV') ?? '').toLowerCase() === 'production';
  const devMode = options.devMode === true || modeReader.boolean('DEV_MODE');
  const read = modeReader.forMode(devMode);
  if (devMode && production) {
    problems.push({
      variable: 'DEV_MODE',
      message: 'dev mode cannot run with NODE_ENV=production: its issuer signs tokens for any user id',
      fix: 'unset DEV_MODE (and do not pass --dev) in production, or unset NODE_ENV=production on a development machine',
    });
  }

  const port = read.integer('PORT');
  const host = read.text('HOST');
  const devDirectory = read.path('DEV_DIRECTORY', options.cwd);
  const devIssuer = `http://localhost:${port}/dev`;

  // Stream credentials
  let apiKey = read.string('STREAM_API_KEY');
  let apiSecret = read.string('STREAM_API_SECRET');
  let placeholderCredentials = false;
  if ((apiKey === undefined) !== (apiSecret === undefined)) {
    read.problem(apiKey === undefined ? 'STREAM_API_KEY' : 'STREAM_API_SECRET', 'STREAM_API_KEY and STREAM_API_SECRET must be set together');
  } else if (apiKey === undefined || apiSecret === undefined) {
    if (devMode && !production) {
      const placeholder = loadOrCreateDevStreamCredentials(devDirectory);
      apiKey = placeholder.apiKey;
      apiSecret = placeholder.apiSecret;
      placeholderCredentials = true;
    } else {
      problems.push({
        variable: 'STREAM_API_KEY',
        message: 'is required (with STREAM_API_SECRET) to sign Stream Chat tokens',
        fix: 'set STREAM_API_KEY and STREAM_API_SECRET (or STREAM_API_SECRET_FILE) from the Stream dashboard; for a local try-out run `npm run dev` instead',
      });
    }
  }
  const maxTtl = read.integer('STREAM_TOKEN_MAX_TTL_SECONDS');
  const ttl = Math.min(read.integer('STREAM_TOKEN_TTL_SECONDS'), maxTtl);
  const streamBaseUrl = read.url('STREAM_API_BASE_URL');
  const streamTimeoutMs = read.integer('STREAM_API_TIMEOUT_MS');
  const streamMaxConcurrency = read.integer('STREAM_API_MAX_CONCURRENCY');
  const streamQueueTimeoutMs = read.integer('STREAM_API_QUEUE_TIMEOUT_MS');

  // Identity
  const clockSkewSeconds = read.integer('CLOCK_SKEW_SECONDS');
  const keySetTiming = {
    cacheTtlSeconds: read.integer('JWKS_CACHE_TTL_SECONDS'),
    cooldownSeconds: read.integer('JWKS_COOLDOWN_SECONDS'),
    maxStaleSeconds: read.integer('JWKS_MAX_STALE_SECONDS'),
    fetchTimeoutMs: read.integer('JWKS_FETCH_TIMEOUT_MS'),
    fetchWaitMs: read.integer('JWKS_FETCH_WAIT_MS'),
  };
  const identity = readIssuers(read, devMode ? devIssuer : null);
  const { issuers } = identity;
  if (issuers.length === 0 && !devMode && !problems.some((p) => p.variable.startsWith('CLERK_') || p.variable === 'OIDC_ISSUERS')) {
    problems.push({
      variable: 'CLERK_JWT_ISSUER',
      message: 'no identity provider is configured, so no session token could ever be accepted',
      fix: 'set CLERK_JWT_ISSUER, CLERK_FRONTEND_API or CLERK_PUBLISHABLE_KEY for Clerk, and/or OIDC_ISSUERS for other providers',
    });
  }

  // Sync and policy
  const syncEnabled = read.boolean('STREAM_SYNC_USERS', !placeholderCredentials);
  const sync = {
    enabled: syncEnabled,
    ttlSeconds: read.integer('STREAM_SYNC_TTL_SECONDS'),
    failureMode: read.choice('STREAM_SYNC_FAILURE'),
    onUserDeleted: read.choice('STREAM_ON_USER_DELETED'),
  };
  const roleMapSource = read.text('STREAM_ROLE_MAP');
  const roleMap = parseRoleMap(roleMapSource);
  for (const message of roleMap.problems) {
    read.problem('STREAM_ROLE_MAP', message);
  }
  const policyFile = read.path('POLICY_FILE', options.cwd) ?? null;
  let policyDocument: PolicyDocument | null = null;
  if (policyFile !== null) {
    try {
      policyDocument = loadPolicyFile(policyFile);
    } catch (err) {
      if (!(err instanceof PolicyFileError)) throw err;
      for (const message of err.problems) {
        read.problem('POLICY_FILE', message);
      }
    }
  }

  // HTTP
  const tlsCert = read.path('TLS_CERT_FILE', options.cwd);
  const tlsKey = read.path('TLS_KEY_FILE', options.cwd);
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    read.problem(tlsCert === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE', 'TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  }
  const corsOrigins = read.list('CORS_ORIGINS');
  for (const origin of corsOrigins) {
    if (!isExactOrigin(origin)) read.problem('CORS_ORIGINS', `"${origin}" is not an exact origin`);
  }

  const allowNetwork = read.boolean('DEV_MODE_ALLOW_NETWORK');
  if (devMode && !production) {
    const localStream = streamBaseUrl !== undefined && isLoopbackUrl(streamBaseUrl);
    problems.push(...devModeProblems({ host, realStreamCredentials: !placeholderCredentials && !localStream, otherIssuers: issuers.length, allowNetwork }));
  }
  const webConcurrency = read.integer('WEB_CONCURRENCY');
  const redisUrl = secretOrNull(read.redisUrl('REDIS_URL'));
  const webhookSecret = secretOrNull(read.string('CLERK_WEBHOOK_SECRET'));
  if (webConcurrency > 1 && redisUrl === null && webhookSecret !== null) {
    problems.push({
      variable: 'WEB_CONCURRENCY',
      message: 'with CLERK_WEBHOOK_SECRET and no REDIS_URL, each worker keeps its own webhook replay guard and deleted-user list: a delivery would apply once per worker, and a deleted user would be refused by one worker only',
      fix: 'set REDIS_URL so the workers share that state, or run one process per instance (WEB_CONCURRENCY=1)',
    });
  }

  const config: ServiceConfig = {
    production,
    devMode,
    http: {
      host,
      port,
      trustProxy: readTrustProxy(read),
      corsOrigins,
      tls: tlsCert !== undefined && tlsKey !== undefined ? { certFile: tlsCert, keyFile: tlsKey } : null,
      // No load balancer to wait for in dev mode: Ctrl-C stops at once there (the table's dev default).
      shutdownDelaySeconds: read.integer('SHUTDOWN_DELAY_SECONDS'),
      shutdownGraceSeconds: read.integer('SHUTDOWN_GRACE_SECONDS'),
      maxConnections: read.integer('HTTP_MAX_CONNECTIONS'),
      requestTimeoutMs: read.integer('HTTP_REQUEST_TIMEOUT_MS'),
      connectionTimeoutMs: read.integer('HTTP_CONNECTION_TIMEOUT_MS'),
    },
    log: { level: read.choice('LOG_LEVEL') },
    stream: {
      apiKey: apiKey ?? '',
      apiSecret: new Secret(apiSecret ?? ''),
      placeholderCredentials,
      tokenTtlSeconds: ttl,
      baseUrl: streamBaseUrl ?? null,
      timeoutMs: streamTimeoutMs,
      maxConcurrency: streamMaxConcurrency,
      queueTimeoutMs: streamQueueTimeoutMs,
    },
    identity: { issuers, keySetTiming, clockSkewSeconds, anyAudience: identity.anyAudience },
    clerk: {
      secretKey: secretOrNull(read.string('CLERK_SECRET_KEY') ?? read.string('CLERK_API_KEY')),
      apiUrl: read.url('CLERK_API_URL'),
      webhookSecret,
    },
    dev: {
      directory: devDirectory,
      issuer: devIssuer,
      allowNetwork,
      ...(identity.devUserIdPrefix !== undefined ? { userIdPrefix: identity.devUserIdPrefix } : {}),
    },
    sync,
    policy: {
      roleMapSource: roleMapSource ?? null,
      roleMap: roleMap.map,
      policyFile,
      document: policyDocument,
    },
    rateLimit: {
      // Behind a proxy that is not trusted, every request shares one address; one instance can serve
      // more than a million a minute, so the ceiling stays well above that.
      perIpPerMinute: read.integer('RATE_LIMIT_PER_IP'),
      perUserPerMinute: read.integer('RATE_LIMIT_PER_USER'),
      onStoreError: read.choice('RATE_LIMIT_ON_STORE_ERROR'),
    },
    removedUsers: { onStoreError: read.choice('REMOVED_USERS_ON_STORE_ERROR') },
    redisUrl,
    metrics: { port: read.optionalInteger('METRICS_PORT') },
    webConcurrency,
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
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


