import type { IssuerOptions, KeySetTiming } from '../identity/types.js';
import type { PolicyDocument, RoleMap } from '../policy/index.js';
import type { Secret } from './secret.js';

export type SyncFailureMode = 'closed' | 'open';
export type UserDeletedAction = 'deactivate' | 'delete' | 'none';
export type StoreErrorAction = 'allow' | 'deny';

export type { OidcIssuerEntry } from './issuers.js';

/** The whole validated configuration, read once at start and passed down. */
export interface ServiceConfig {
  /** `NODE_ENV` is `production`, in any letter case. */
  production: boolean;
  devMode: boolean;
  http: {
    host: string;
    port: number;
    /** `TRUST_PROXY`: false, or the proxies' addresses, CIDRs and proxy-addr range names. */
    trustProxy: false | string[];
    corsOrigins: string[];
    tls: { certFile: string; keyFile: string } | null;
    /** `SHUTDOWN_DELAY_SECONDS`: after a signal, how long to keep serving with readiness failing before the drain. */
    shutdownDelaySeconds: number;
    /** `SHUTDOWN_GRACE_SECONDS`: how long the drain may take. */
    shutdownGraceSeconds: number;
    /** `HTTP_MAX_CONNECTIONS`: open connections per process; more are closed as they arrive. */
    maxConnections: number;
    /** `HTTP_REQUEST_TIMEOUT_MS`: the whole request, head and body, must arrive within this. */
    requestTimeoutMs: number;
    /** `HTTP_CONNECTION_TIMEOUT_MS`: a connection on which nothing moves for this long is closed. */
    connectionTimeoutMs: number;
  };
  log: { level: string };
  stream: {
    apiKey: string;
    apiSecret: Secret;
    /** True when dev mode generated the credentials: tokens work only against the local stand-in. */
    placeholderCredentials: boolean;
    tokenTtlSeconds: number;
    baseUrl: string | null;
    timeoutMs: number;
    /** `STREAM_API_MAX_CONCURRENCY`: calls to Stream's API under way at once, per process. */
    maxConcurrency: number;
    /** `STREAM_API_QUEUE_TIMEOUT_MS`: how long a call waits for a free slot before failing as unavailable. */
    queueTimeoutMs: number;
  };
  identity: {
    issuers: IssuerOptions[];
    /** `JWKS_*` timing; every field set, `fetchWaitMs` (`JWKS_FETCH_WAIT_MS`) included. */
    keySetTiming: Required<KeySetTiming>;
    clockSkewSeconds: number;
    /** OIDC issuers configured with `"audience": "*"`: any audience is accepted, and a warning says so at start. */
    anyAudience: string[];
  };
  clerk: {
    secretKey: Secret | null;
    apiUrl: string;
    webhookSecret: Secret | null;
  };
  dev: {
    /** Where the dev issuer's key pair and placeholder Stream credentials live. */
    directory: string;
    /** `iss` of dev session tokens. */
    issuer: string;
    /** `DEV_MODE_ALLOW_NETWORK`: dev mode was allowed beyond loopback, real Stream credentials or real issuers. */
    allowNetwork: boolean;
    /** Prepended to dev user ids when the dev issuer runs beside other issuers. */
    userIdPrefix?: string;
  };
  sync: {
    enabled: boolean;
    ttlSeconds: number;
    failureMode: SyncFailureMode;
    onUserDeleted: UserDeletedAction;
  };
  policy: {
    /** `STREAM_ROLE_MAP` as written. */
    roleMapSource: string | null;
    roleMap: RoleMap;
    /** `POLICY_FILE`, resolved, and its validated content. */
    policyFile: string | null;
    document: PolicyDocument | null;
  };
  rateLimit: {
    perIpPerMinute: number;
    perUserPerMinute: number;
    onStoreError: StoreErrorAction;
  };
  /** `REMOVED_USERS_ON_STORE_ERROR`: issue (allow, consulting this process's recent removals) or 503 (deny) when Redis cannot say. */
  removedUsers: { onStoreError: StoreErrorAction };
  redisUrl: Secret | null;
  metrics: { port: number | null };
  webConcurrency: number;
}
