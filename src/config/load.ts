import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { AsymmetricAlgorithm, IssuerOptions } from '../identity/types.js';
import { parsePolicyText, parseRoleMap, PolicyFileError, policyFormatFor, type PolicyDocument } from '../policy/index.js';
import { loadOrCreateDevStreamCredentials } from './dev-credentials.js';
import { resolveSecretFiles, type Environment } from './environment.js';
import { ConfigError, type ConfigProblem } from './problems.js';
import { Secret } from './secret.js';
import type { OidcIssuerEntry, ServiceConfig } from './types.js';

export interface LoadConfigOptions {
  env: Environment;
  /** Base for relative paths (`.dev/`, `POLICY_FILE`). */
  cwd: string;
  /** Forces dev mode on (the `--dev` flag of `serve`), as `DEV_MODE=true` would. */
  devMode?: boolean;
  readFile?: (path: string) => string;
}

/** Highest RATE_LIMIT_PER_IP and RATE_LIMIT_PER_USER accepted, requests a minute. */
export const MAX_RATE_LIMIT_PER_MINUTE = 100_000_000;

const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
] as const satisfies readonly AsymmetricAlgorithm[];

const oidcIssuersSchema = z.array(
  z.strictObject({
    issuer: z.string().url(),
    jwks_uri: z.string().url().optional(),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).optional(),
    user_id_claim: z.string().min(1).optional(),
  }),
);

/**
 * Reads every variable once, validates all of them, and either returns the
 * typed configuration or throws one `ConfigError` listing every problem with
 * its fix, so an operator fixes the whole file in one pass.
 */
export function loadConfig(options: LoadConfigOptions): ServiceConfig {
  const problems: ConfigProblem[] = [];
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const env = resolveSecretFiles(options.env, readFile, problems);
  const read = new VariableReader(env, problems);

  const production = env.NODE_ENV === 'production';
  const devMode = options.devMode === true || read.boolean('DEV_MODE', false);
  if (devMode && production) {
    problems.push({
      variable: 'DEV_MODE',
      message: 'dev mode cannot run with NODE_ENV=production: its issuer signs tokens for any user id',
      fix: 'unset DEV_MODE (and do not pass --dev) in production, or unset NODE_ENV=production on a development machine',
    });
  }

  const port = read.integer('PORT', 8080, 0, 65535);
  const host = read.string('HOST') ?? (devMode ? '127.0.0.1' : '0.0.0.0');
  const devDirectory = resolve(options.cwd, read.string('DEV_DIRECTORY') ?? '.dev');
  const devIssuer = `http://localhost:${port}/dev`;

  // Stream credentials
  let apiKey = read.string('STREAM_API_KEY');
  let apiSecret = read.string('STREAM_API_SECRET');
  let placeholderCredentials = false;
  if ((apiKey === undefined) !== (apiSecret === undefined)) {
    problems.push({
      variable: apiKey === undefined ? 'STREAM_API_KEY' : 'STREAM_API_SECRET',
      message: 'STREAM_API_KEY and STREAM_API_SECRET must be set together',
      fix: 'copy both from the Stream dashboard (your app → Overview → Key and Secret)',
    });
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
  const maxTtl = read.integer('STREAM_TOKEN_MAX_TTL_SECONDS', 86400, 60, 31_536_000);
  const ttl = Math.min(read.integer('STREAM_TOKEN_TTL_SECONDS', 3600, 60, 31_536_000), maxTtl);
  const streamBaseUrl = read.url('STREAM_API_BASE_URL', { httpsUnlessLoopback: true });
  const streamTimeoutMs = read.integer('STREAM_API_TIMEOUT_MS', 3000, 100, 60_000);

  // Identity
  const clockSkewSeconds = read.integer('CLOCK_SKEW_SECONDS', 5, 0, 300);
  const keySetTiming = {
    cacheTtlSeconds: read.integer('JWKS_CACHE_TTL_SECONDS', 600, 10, 86_400),
    cooldownSeconds: read.integer('JWKS_COOLDOWN_SECONDS', 30, 1, 3600),
    maxStaleSeconds: read.integer('JWKS_MAX_STALE_SECONDS', 86_400, 0, 604_800),
    fetchTimeoutMs: read.integer('JWKS_FETCH_TIMEOUT_MS', 5000, 100, 60_000),
  };
  const allowImpersonation = read.boolean('ALLOW_IMPERSONATION', false);
  const issuers: IssuerOptions[] = [];
  const clerkIssuer = resolveClerkIssuer(read, problems);
  if (clerkIssuer !== null) {
    const jwksUri = read.url('CLERK_JWKS_URL', { httpsUnlessLoopback: true }) ?? `${clerkIssuer}/.well-known/jwks.json`;
    const pem = read.string('CLERK_JWT_KEY');
    const staticKeys: KeyObject[] = [];
    if (pem !== undefined) {
      try {
        staticKeys.push(createPublicKey(pem.replace(/\\n/g, '\n')));
      } catch {
        problems.push({
          variable: 'CLERK_JWT_KEY',
          message: 'is not a PEM public key',
          fix: 'paste the "PEM Public Key" from Clerk dashboard → API keys → Show JWT public key, or use CLERK_JWT_KEY_FILE',
        });
      }
    }
    issuers.push({
      kind: 'clerk',
      issuer: clerkIssuer,
      // A PEM key makes verification networkless: no JWKS is fetched at all.
      ...(staticKeys.length > 0 ? { staticKeys } : { jwksUri }),
      algorithms: ['RS256'],
      userIdClaim: 'sub',
      authorizedParties: read.list('CLERK_AUTHORIZED_PARTIES'),
      requireAuthorizedParty: read.boolean('CLERK_REQUIRE_AZP', false),
      allowImpersonation,
    });
  } else if (read.string('CLERK_JWKS_URL') !== undefined || read.string('CLERK_JWT_KEY') !== undefined) {
    problems.push({
      variable: 'CLERK_JWT_ISSUER',
      message: 'Clerk keys are configured but not the issuer they sign for',
      fix: 'set CLERK_JWT_ISSUER (e.g. https://your-app.clerk.accounts.dev), CLERK_FRONTEND_API or CLERK_PUBLISHABLE_KEY',
    });
  }
  for (const entry of read.json('OIDC_ISSUERS', oidcIssuersSchema, 'a JSON list such as [{"issuer":"https://example.eu.auth0.com/","audience":"my-api"}]') ?? []) {
    const problem = checkIssuerUrls(entry);
    if (problem !== null) {
      problems.push(problem);
      continue;
    }
    if (issuers.some((i) => i.issuer === entry.issuer)) {
      problems.push({ variable: 'OIDC_ISSUERS', message: `issuer ${entry.issuer} is configured twice`, fix: 'list each issuer once' });
      continue;
    }
    issuers.push({
      kind: 'oidc',
      issuer: entry.issuer,
      ...(entry.jwks_uri !== undefined ? { jwksUri: entry.jwks_uri } : {}),
      algorithms: entry.algorithms ?? ['RS256'],
      ...(entry.audience !== undefined ? { audience: typeof entry.audience === 'string' ? [entry.audience] : entry.audience } : {}),
      userIdClaim: entry.user_id_claim ?? 'sub',
      authorizedParties: [],
      requireAuthorizedParty: false,
      allowImpersonation,
    });
  }
  if (issuers.length === 0 && !devMode) {
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
    ttlSeconds: read.integer('STREAM_SYNC_TTL_SECONDS', 3600, 0, 2_592_000),
    failureMode: read.choice('STREAM_SYNC_FAILURE', ['closed', 'open'] as const, 'closed'),
    onUserDeleted: read.choice('STREAM_ON_USER_DELETED', ['deactivate', 'delete', 'none'] as const, 'deactivate'),
  };
  const roleMapSource = read.string('STREAM_ROLE_MAP');
  const roleMap = parseRoleMap(roleMapSource);
  for (const message of roleMap.problems) {
    problems.push({ variable: 'STREAM_ROLE_MAP', message, fix: 'write it as clerk-role=stream-role pairs, comma-separated, e.g. org:admin=admin,org:moderator=moderator' });
  }
  const policyFileSetting = read.string('POLICY_FILE');
  const policyFile = policyFileSetting !== undefined ? resolve(options.cwd, policyFileSetting) : null;
  let policyDocument: PolicyDocument | null = null;
  if (policyFile !== null) {
    try {
      policyDocument = parsePolicyText(readFile(policyFile), policyFormatFor(policyFile), policyFileSetting);
    } catch (err) {
      const messages = err instanceof PolicyFileError ? err.problems : [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`];
      for (const message of messages) {
        problems.push({ variable: 'POLICY_FILE', message, fix: 'correct the policy file; docs/policy.md describes its format with examples' });
      }
    }
  }

  // HTTP
  const tlsCert = read.string('TLS_CERT_FILE');
  const tlsKey = read.string('TLS_KEY_FILE');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    problems.push({
      variable: tlsCert === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE',
      message: 'TLS_CERT_FILE and TLS_KEY_FILE must be set together',
      fix: 'set both to PEM files, or neither to serve plain HTTP behind a TLS-terminating proxy',
    });
  }
  const corsOrigins = read.list('CORS_ORIGINS');
  for (const origin of corsOrigins) {
    if (!isExactOrigin(origin)) {
      problems.push({
        variable: 'CORS_ORIGINS',
        message: `"${origin}" is not an exact origin`,
        fix: 'list origins as scheme://host[:port] with no path or wildcard, comma-separated, e.g. https://app.example.com,http://localhost:5173',
      });
    }
  }

  const config: ServiceConfig = {
    production,
    devMode,
    http: {
      host,
      port,
      trustProxy: readTrustProxy(read),
      corsOrigins,
      tls: tlsCert !== undefined && tlsKey !== undefined ? { certFile: resolve(options.cwd, tlsCert), keyFile: resolve(options.cwd, tlsKey) } : null,
      shutdownGraceSeconds: read.integer('SHUTDOWN_GRACE_SECONDS', 10, 0, 600),
    },
    log: { level: read.choice('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info') },
    stream: {
      apiKey: apiKey ?? '',
      apiSecret: new Secret(apiSecret ?? ''),
      placeholderCredentials,
      tokenTtlSeconds: ttl,
      baseUrl: streamBaseUrl ?? null,
      timeoutMs: streamTimeoutMs,
    },
    identity: { issuers, keySetTiming, clockSkewSeconds },
    clerk: {
      secretKey: secretOrNull(read.string('CLERK_SECRET_KEY') ?? read.string('CLERK_API_KEY')),
      apiUrl: read.url('CLERK_API_URL', { httpsUnlessLoopback: true }) ?? 'https://api.clerk.com',
      webhookSecret: secretOrNull(read.string('CLERK_WEBHOOK_SECRET')),
    },
    dev: { directory: devDirectory, issuer: devIssuer },
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
      perIpPerMinute: read.integer('RATE_LIMIT_PER_IP', 600, 1, MAX_RATE_LIMIT_PER_MINUTE),
      perUserPerMinute: read.integer('RATE_LIMIT_PER_USER', 30, 1, MAX_RATE_LIMIT_PER_MINUTE),
      onStoreError: read.choice('RATE_LIMIT_ON_STORE_ERROR', ['allow', 'deny'] as const, 'allow'),
    },
    redisUrl: secretOrNull(read.redisUrl('REDIS_URL')),
    metrics: { port: read.optionalInteger('METRICS_PORT', 1, 65535) },
    webConcurrency: read.integer('WEB_CONCURRENCY', 1, 1, 64),
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function secretOrNull(value: string | undefined): Secret | null {
  return value === undefined ? null : new Secret(value);
}

/** Clerk's issuer: explicit, else from the Frontend API host, else decoded from the publishable key. */
function resolveClerkIssuer(read: VariableReader, problems: ConfigProblem[]): string | null {
  const explicit = read.url('CLERK_JWT_ISSUER', { httpsUnlessLoopback: true });
  if (explicit !== undefined) return explicit;
  const frontendApi = read.string('CLERK_FRONTEND_API');
  if (frontendApi !== undefined) {
    const host = frontendApi.replace(/^https:\/\//, '').replace(/\/+$/, '');
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(host)) {
      problems.push({
        variable: 'CLERK_FRONTEND_API',
        message: 'is not a host name',
        fix: 'set it to the Frontend API host from the Clerk dashboard, e.g. your-app.clerk.accounts.dev',
      });
      return null;
    }
    return `https://${host}`;
  }
  const publishableKey = read.string('CLERK_PUBLISHABLE_KEY');
  if (publishableKey !== undefined) {
    const host = frontendApiFromPublishableKey(publishableKey);
    if (host === null) {
      problems.push({
        variable: 'CLERK_PUBLISHABLE_KEY',
        message: 'is not a Clerk publishable key (pk_test_… or pk_live_…)',
        fix: 'copy the publishable key from Clerk dashboard → API keys, or set CLERK_JWT_ISSUER instead',
      });
      return null;
    }
    return `https://${host}`;
  }
  return null;
}

/** `pk_test_<base64("<frontend api host>$")>`, the encoding Clerk's SDKs decode. */
export function frontendApiFromPublishableKey(key: string): string | null {
  const match = /^pk_(test|live)_([A-Za-z0-9+/=_-]+)$/.exec(key);
  if (match === null) return null;
  const decoded = Buffer.from(match[2] as string, 'base64').toString('utf8');
  if (!decoded.endsWith('$')) return null;
  const host = decoded.slice(0, -1);
  return /^[A-Za-z0-9.-]+$/.test(host) ? host : null;
}

function checkIssuerUrls(entry: OidcIssuerEntry): ConfigProblem | null {
  for (const url of [entry.issuer, entry.jwks_uri]) {
    if (url !== undefined && !isHttpsOrLoopback(url)) {
      return {
        variable: 'OIDC_ISSUERS',
        message: `${url} must use https (plain http is allowed only on a loopback address)`,
        fix: 'use the https issuer and JWKS URLs your provider publishes',
      };
    }
  }
  return null;
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function isHttpsOrLoopback(url: string): boolean {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'https:') return true;
    return parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname);
  } catch {
    return false;
  }
}

function isExactOrigin(origin: string): boolean {
  try {
    const parsed = new URL(origin);
    return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.origin === origin;
  } catch {
    return false;
  }
}

function readTrustProxy(read: VariableReader): false | number | string[] {
  const raw = read.string('TRUST_PROXY');
  if (raw === undefined || raw === 'false') return false;
  if (/^\d+$/.test(raw)) return Number(raw);
  const entries = read.list('TRUST_PROXY');
  const bad = entries.filter((e) => isIP(e.split('/')[0] ?? '') === 0 || (e.includes('/') && !/^\d{1,3}$/.test(e.split('/')[1] ?? '')));
  if (bad.length > 0) {
    read.problem('TRUST_PROXY', `"${bad.join(', ')}" is not an IP address or CIDR`, 'set a hop count (e.g. 1) or a comma-separated list of proxy addresses/CIDRs (e.g. 10.0.0.0/8,127.0.0.1)');
    return false;
  }
  return entries;
}

/** Typed readers that record a problem (with its fix) instead of throwing, so all problems are reported at once. */
class VariableReader {
  constructor(
    private readonly env: Environment,
    private readonly problems: ConfigProblem[],
  ) {}

  problem(variable: string, message: string, fix: string): void {
    this.problems.push({ variable, message, fix });
  }

  string(name: string): string | undefined {
    const value = this.env[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.string(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    this.problem(name, `"${value}" is not a boolean`, `set ${name}=true or ${name}=false`);
    return fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    return this.optionalInteger(name, min, max) ?? fallback;
  }

  optionalInteger(name: string, min: number, max: number): number | null {
    const value = this.string(name);
    if (value === undefined) return null;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problem(name, `"${value}" is not a whole number from ${min} to ${max}`, `set ${name} to a whole number from ${min} to ${max}, or unset it for the default`);
      return null;
    }
    return Number(value);
  }

  choice<const T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.string(name);
    if (value === undefined) return fallback;
    if ((choices as readonly string[]).includes(value)) return value as T;
    this.problem(name, `"${value}" is not one of ${choices.join(', ')}`, `set ${name} to one of: ${choices.join(', ')}`);
    return fallback;
  }

  list(name: string): string[] {
    const value = this.string(name);
    if (value === undefined) return [];
    return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }

  url(name: string, options: { httpsUnlessLoopback: boolean }): string | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    if (options.httpsUnlessLoopback && !isHttpsOrLoopback(value)) {
      this.problem(name, `"${value}" is not an https URL (plain http is allowed only on a loopback address)`, `set ${name} to an https:// URL`);
      return undefined;
    }
    return value.replace(/\/+$/, '');
  }

  redisUrl(name: string): string | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    try {
      const parsed = new URL(value);
      if (['redis:', 'rediss:', 'redis+sentinel:', 'redis+cluster:'].includes(parsed.protocol)) return value;
    } catch {
      // reported below
    }
    this.problem(name, 'is not a Redis URL', `set ${name} to redis://[:password@]host:6379[/db], rediss:// for TLS, redis+sentinel://host:26379,host2:26379/mymaster or redis+cluster://host:7000,host2:7001`);
    return undefined;
  }

  json<T>(name: string, schema: z.ZodType<T>, example: string): T | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      this.problem(name, 'is not valid JSON', `set ${name} to ${example}`);
      return undefined;
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      for (const issue of result.error.issues) {
        this.problem(name, `${issue.path.length > 0 ? `[${issue.path.join('.')}] ` : ''}${issue.message}`, `set ${name} to ${example}`);
      }
      return undefined;
    }
    return result.data;
  }
}
