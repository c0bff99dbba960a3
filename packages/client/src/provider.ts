import { unsignedDevToken } from './dev-token.js';
import { StreamTokenError } from './errors.js';
import { defaultFetch, requestOnce, resolveTokenEndpoint, type FetchLike } from './fetch-token.js';

export interface RetryOptions {
  /** Retries after the first attempt; 0 turns retrying off. Default 3. */
  retries?: number;
  /** First backoff step in milliseconds; doubles per retry. Default 500. */
  baseDelayMs?: number;
  /**
   * Longest wait between attempts in milliseconds. Default 10000. A `Retry-After`
   * longer than this is not waited out: the provider throws at once (the error's
   * `retryAfterMs` says how long the service asked for).
   */
  maxDelayMs?: number;
  /** Waits between attempts; `setTimeout` by default. Tests pass a fake. */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1); `Math.random` by default. */
  random?: () => number;
  /** Clock in milliseconds for `Retry-After` dates; `Date.now` by default. */
  now?: () => number;
}

export interface DevFallbackOptions {
  /** The user the unsigned development token is for. */
  userId: string;
}

export interface TokenProviderOptions {
  /** The service's base URL (`https://chat-auth.example.com`) or the full `.../stream/token` URL. */
  endpoint: string;
  /**
   * Returns the identity provider's current session token, or nothing when the
   * user is signed out (Clerk: `() => getToken()`). Called before every attempt,
   * so a retry never sends a stale token. Nothing (`null`, `undefined`, `''`)
   * fails at once with `missing_token`; a throw is retried like a network error
   * and then fails with `auth_token_failed`.
   */
  getAuthToken: () => Promise<string | null | undefined> | string | null | undefined;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** Retrying of network errors, 5xx, 429 and a throwing `getAuthToken`. */
  retry?: RetryOptions;
  /** Per-attempt time limit in milliseconds; a timeout counts as a network error. Default 15000; 0 turns it off. */
  timeoutMs?: number;
  /**
   * DEVELOPMENT ONLY. When set and the service cannot be reached at all (network
   * errors on every attempt), the provider returns the unsigned
   * `StreamChat.devToken(userId)` instead of failing; Stream accepts it only
   * when the app has "Disable Auth Checks" on. Never used for an answer from the
   * service (401, 403, 429, 5xx). Pass it only in development builds, e.g.
   * `devFallback: __DEV__ ? { userId } : undefined`.
   */
  devFallback?: DevFallbackOptions | undefined;
}

/** What `chatClient.connectUser(user, tokenProvider)` expects. */
export type TokenProvider = () => Promise<string>;

const DEFAULT_RETRIES = 3;
const DEFAULT_BASE_DELAY_MS = 500;
const DEFAULT_MAX_DELAY_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 15_000;

function nonNegative(value: number | undefined, fallback: number, name: string, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new TypeError(`${name} must be a non-negative ${integer ? 'integer' : 'number'}`);
  }
  return value;
}

function isRetryable(error: StreamTokenError): boolean {
  // A throwing getAuthToken is usually transient too (Clerk's getToken throws while offline).
  if (error.code === 'network_error' || error.code === 'auth_token_failed') return true;
  return error.status !== undefined && (error.status === 429 || error.status >= 500);
}

/**
 * A token provider for `stream-chat`: each call gets a fresh Stream token from
 * the service with the current session token.
 *
 * - Concurrent calls share one request.
 * - Network errors, 5xx, 429 and a throwing `getAuthToken` are retried with
 *   capped exponential backoff and jitter, never sooner than `Retry-After`.
 * - 401 and 403 are never retried: they throw a `StreamTokenError` with the
 *   service's `status`, `code` and `requestId`.
 * - No session token from `getAuthToken` throws `missing_token` without a request.
 */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  const url = resolveTokenEndpoint(options.endpoint);
  if (typeof options.getAuthToken !== 'function') {
    throw new TypeError('getAuthToken must be a function returning the session token, e.g. () => getToken()');
  }
  const devFallback = options.devFallback;
  if (devFallback !== undefined && (typeof devFallback.userId !== 'string' || devFallback.userId === '')) {
    throw new TypeError('devFallback.userId must be the user id');
  }
  const retry = options.retry ?? {};
  const retries = nonNegative(retry.retries, DEFAULT_RETRIES, 'retry.retries', true);
  const baseDelayMs = nonNegative(retry.baseDelayMs, DEFAULT_BASE_DELAY_MS, 'retry.baseDelayMs');
  const maxDelayMs = nonNegative(retry.maxDelayMs, DEFAULT_MAX_DELAY_MS, 'retry.maxDelayMs');
  const timeoutMs = nonNegative(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs');
  const sleep = retry.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = retry.random ?? Math.random;
  const now = retry.now ?? (() => Date.now());
  const fetchImpl = options.fetch ?? defaultFetch();
  const getAuthToken = options.getAuthToken;

  /** Half the capped exponential step plus up to half again at random. */
  const backoff = (retryIndex: number): number => {
    const step = Math.min(maxDelayMs, baseDelayMs * 2 ** retryIndex);
    return Math.round(step / 2 + random() * (step / 2));
  };

  const authToken = async (): Promise<string> => {
    let token: string | null | undefined;
    try {
      token = await getAuthToken();
    } catch (error) {
      throw new StreamTokenError({ code: 'auth_token_failed', message: 'getAuthToken failed; see the cause.', cause: error });
    }
    if (typeof token !== 'string' || token === '') {
      throw new StreamTokenError({ code: 'missing_token', message: 'No session token: the user is signed out, so there is no Stream token to get.' });
    }
    return token;
  };

  const run = async (): Promise<string> => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const sessionToken = await authToken();
        const result = await requestOnce({ url, authToken: sessionToken, fetch: fetchImpl, ...(timeoutMs > 0 ? { timeoutMs } : {}), now });
        return result.token;
      } catch (error) {
        if (!(error instanceof StreamTokenError)) throw error;
        const last = attempt >= retries || !isRetryable(error) || (error.retryAfterMs !== undefined && error.retryAfterMs > maxDelayMs);
        if (last) {
          if (devFallback !== undefined && error.code === 'network_error') {
            if (typeof console !== 'undefined') {
              console.warn(
                `[stream-token-service] ${error.message} -- using an unsigned development token for "${devFallback.userId}" (devFallback, development only).`,
              );
            }
            return unsignedDevToken(devFallback.userId);
          }
          throw error;
        }
        await sleep(Math.max(backoff(attempt), error.retryAfterMs ?? 0));
      }
    }
  };

  let inFlight: Promise<string> | null = null;
  return () => {
    if (inFlight !== null) return inFlight;
    const current = run().finally(() => {
      if (inFlight === current) inFlight = null;
    });
    inFlight = current;
    return current;
  };
}
