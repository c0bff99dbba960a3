import type { KeyObject } from 'node:crypto';
import type { DocumentFailure } from './fetch-json.js';

/**
 * Asymmetric JWS algorithms a session token may be signed with. HMAC and `none` are never accepted.
 * `Ed25519` is RFC 9864's name for EdDSA on that one curve; an allow-list tells the two apart.
 */
export type AsymmetricAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | 'Ed25519';

/** Which checks a token from this issuer goes through beyond the common ones. */
export type IssuerKind = 'clerk' | 'oidc' | 'dev';

/** One trusted issuer of session tokens. Built by the config module; the verifier never reads the environment. */
export interface IssuerOptions {
  kind: IssuerKind;
  /** Exact `iss` value; compared byte for byte (no trailing-slash folding). */
  issuer: string;
  /** Remote JWKS. For `oidc` issuers without it, discovered from `<issuer>/.well-known/openid-configuration`. */
  jwksUri?: string;
  /** Keys known without any network (Clerk's `CLERK_JWT_KEY`, the dev issuer). A token without `kid` may use them. */
  staticKeys?: KeyObject[];
  /** Allow-list of `alg` values. */
  algorithms: AsymmetricAlgorithm[];
  /** When set, `aud` must contain one of these. */
  audience?: string[];
  /** Claim that carries the user id (`sub` unless configured); it must be issuer-assigned and immutable. */
  userIdClaim: string;
  /**
   * Prepended to the user id claim to make the Stream user id. With several
   * issuers, each one's ids live under their own prefix, since a `sub` is
   * unique only within its issuer (RFC 7519 §4.1.2).
   */
  userIdPrefix?: string;
  /** The user id claim must start with this (Clerk's `user_`), which makes it part of the namespace. */
  subjectPrefix?: string;
  /**
   * Clerk and dev: when non-empty, a present `azp` must be one of these. OIDC:
   * when non-empty, the party the token names (`azp`, `client_id`, or an ID
   * token's sole audience) must be one of these.
   */
  authorizedParties: string[];
  /** Clerk and dev: refuse tokens without `azp` (browser-only deployments). */
  requireAuthorizedParty: boolean;
  /** OIDC: accepted `typ` values (e.g. `at+jwt`); when given, `typ` is required. */
  tokenTypes?: string[];
  /** OIDC: accept tokens a client obtained for itself (client credentials). Off by default. */
  allowMachineTokens?: boolean;
  /** Accept impersonated sessions (`act` claim). */
  allowImpersonation: boolean;
}

/** Key-cache timing, shared by every remote key set. */
export interface KeySetTiming {
  /** Background refresh interval. */
  cacheTtlSeconds: number;
  /**
   * Minimum time between a successful fetch and the next one triggered by an
   * unknown `kid`; also the longest retry delay after failed fetches.
   */
  cooldownSeconds: number;
  /** How long the last good keys keep verifying while fetches fail. */
  maxStaleSeconds: number;
  /** Per-fetch timeout. */
  fetchTimeoutMs: number;
  /**
   * Longest time a verification waits for a key fetch it needs (default 1000);
   * the fetch itself goes on, up to `fetchTimeoutMs`, for later requests. 0: never wait.
   */
  fetchWaitMs?: number;
}

/** What the verifier learned from a token it accepted. Everything here is verified. */
export interface VerifiedSession {
  userId: string;
  issuer: string;
  kind: IssuerKind;
  claims: Readonly<Record<string, unknown>>;
  /** `exp`, seconds since the epoch. */
  expiresAt: number;
}

/**
 * Whether an issuer's keys can verify: `no_keys` (none loaded yet, or dropped past the stale
 * limit), `stale` (the last refresh failed, or is overdue, and the last good keys are in use), `fresh`.
 */
export type KeyState = 'no_keys' | 'stale' | 'fresh';

/** Readiness detail of one issuer's keys, shown on /readyz and read by /metrics, so the two agree. */
export interface IssuerKeyStatus {
  issuer: string;
  kind: IssuerKind;
  ready: boolean;
  keyState: KeyState;
  keyCount: number;
  /** Seconds since the keys in use were fetched (0 for static keys); null without keys. */
  keyAgeSeconds: number | null;
  stale: boolean;
  /** What went wrong with the last fetch, for logs and operators: its class, the URL fetched and the cause. */
  lastError: string | null;
  /** The class of that failure, which /readyz shows. */
  lastErrorClass?: DocumentFailure;
  /** The same failure in words fit for a public endpoint: no address, port or error code. */
  publicError?: string;
}

/** Hooks for metrics and logs; every one optional. */
export interface VerifierObserver {
  jwksFetch?(issuer: string, outcome: 'success' | 'error', reason?: string): void;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
