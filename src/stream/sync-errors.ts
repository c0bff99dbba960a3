/**
 * Typed failures of calls to Stream's server API, made from the errors the
 * `stream-chat` SDK throws:
 *
 *   - `StreamUnavailableError`: no answer (connection refused or dropped,
 *     timeout), a 5xx, a 429, or a 408. Worth retrying; carries
 *     `retryAfterSeconds`. The token route applies `STREAM_SYNC_FAILURE`.
 *     `refusedBy` says when the call was not made at all (breaker open, no
 *     free slot in time).
 *   - `StreamRejectedError`: any other 4xx. Retrying the same call will not
 *     help (bad credentials, invalid user data).
 *   - `UserRemovedError`: the user was deleted at the identity provider and
 *     is refused tokens.
 *   - `SyncStoreUnavailableError`: the sync store (Redis) did not answer.
 */

import { isRecord } from '../shared/is-record.js';

export const DEFAULT_RETRY_AFTER_SECONDS = 5;
/** Longest `Retry-After` passed on, whatever Stream says. */
export const MAX_RETRY_AFTER_SECONDS = 300;

export type StreamOperation = 'upsert_user' | 'partial_update_user' | 'revoke_tokens' | 'deactivate_user' | 'delete_user';

/** Why a call was refused without calling Stream: `breaker_open`, or `queue_timeout` (no free slot in time). */
export type StreamCallRefusal = 'breaker_open' | 'queue_timeout';

export class StreamUnavailableError extends Error {
  override readonly name = 'StreamUnavailableError';
  readonly operation: StreamOperation;
  /** When a retry makes sense, in whole seconds (≥ 1). */
  readonly retryAfterSeconds: number;
  /** HTTP status when Stream answered (5xx, 429, 408); `null` when it did not. */
  readonly status: number | null;
  /** Set when Stream was not called: the breaker is open, or no slot came free in time. */
  readonly refusedBy: StreamCallRefusal | null;

  constructor(
    operation: StreamOperation,
    message: string,
    options: { retryAfterSeconds: number; status: number | null; cause?: unknown; refusedBy?: StreamCallRefusal },
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.operation = operation;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.status = options.status;
    this.refusedBy = options.refusedBy ?? null;
  }
}

export class StreamRejectedError extends Error {
  override readonly name = 'StreamRejectedError';
  readonly operation: StreamOperation;
  readonly status: number;
  /** Stream's numeric error code (`4` input error, `16` does not exist, ...), when it sent one. */
  readonly streamCode: number | null;

  constructor(operation: StreamOperation, message: string, options: { status: number; streamCode: number | null; cause?: unknown }) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.operation = operation;
    this.status = options.status;
    this.streamCode = options.streamCode;
  }
}

export class UserRemovedError extends Error {
  override readonly name = 'UserRemovedError';
  readonly userId: string;

  constructor(userId: string) {
    super('this user was deleted and may not use chat');
    this.userId = userId;
  }
}

export class SyncStoreUnavailableError extends Error {
  override readonly name = 'SyncStoreUnavailableError';
  readonly retryAfterSeconds: number;

  constructor(message: string, cause?: unknown) {
    super(message, cause !== undefined ? { cause } : undefined);
    this.retryAfterSeconds = DEFAULT_RETRY_AFTER_SECONDS;
  }
}

// ---------------------------------------------------------------------------
// Classification

interface HttpishResponse {
  status?: unknown;
  headers?: unknown;
  data?: unknown;
}

function header(headers: unknown, name: string): string | undefined {
  if (!isRecord(headers)) return undefined;
  const getter = (headers as { get?: unknown }).get;
  let value: unknown;
  if (typeof getter === 'function') {
    try {
      value = (getter as (n: string) => unknown).call(headers, name);
    } catch {
      value = undefined;
    }
  }
  if (value === undefined || value === null) value = headers[name] ?? headers[name.toLowerCase()];
  if (Array.isArray(value)) value = value[0];
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' ? value : undefined;
}

function clampRetry(seconds: number): number {
  if (!Number.isFinite(seconds)) return DEFAULT_RETRY_AFTER_SECONDS;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(seconds)));
}

/**
 * Seconds until a retry, from `Retry-After` (seconds or HTTP date), else —
 * for a rate-limited answer only, since Stream sends the rate-limit headers
 * on every response — `X-RateLimit-Reset` (epoch seconds), else `fallback`.
 */
export function retryAfterFromHeaders(headers: unknown, now: number = Date.now(), fallback = DEFAULT_RETRY_AFTER_SECONDS, rateLimited = true): number {
  const retryAfter = header(headers, 'retry-after')?.trim();
  if (retryAfter !== undefined && retryAfter !== '') {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return clampRetry(Number(retryAfter));
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return clampRetry((date - now) / 1000);
  }
  const reset = rateLimited ? header(headers, 'x-ratelimit-reset')?.trim() : undefined;
  if (reset !== undefined && /^\d+$/.test(reset)) {
    const resetSeconds = Number(reset);
    // Epoch seconds (Stream) — a small number would be a delta.
    const delta = resetSeconds > 1_000_000_000 ? resetSeconds - now / 1000 : resetSeconds;
    return clampRetry(delta);
  }
  return clampRetry(fallback);
}

/** Stream's error body: `{ code, message, StatusCode, ... }`. */
function streamCodeOf(data: unknown): number | null {
  if (!isRecord(data)) return null;
  return typeof data.code === 'number' ? data.code : null;
}

function streamMessageOf(data: unknown): string | null {
  if (!isRecord(data)) return null;
  return typeof data.message === 'string' ? data.message.slice(0, 300) : null;
}

const NETWORK_CODES = new Set([
  'ECONNABORTED',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_NETWORK',
  'ERR_CANCELED',
  'ERR_BAD_RESPONSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The HTTP response an SDK error carries (`ErrorFromResponse` or an axios error), if any. */
function responseOf(error: unknown): HttpishResponse | null {
  if (!isRecord(error)) return null;
  const response = error.response;
  if (isRecord(response) && typeof response.status === 'number') return response;
  return null;
}

/** Stream's "user does not exist" (code 16, or 404), which a delete or deactivate treats as done. */
export function isStreamNotFound(error: unknown): boolean {
  const response = responseOf(error);
  if (response === null) return false;
  const code = streamCodeOf(response.data);
  if (response.status === 404 || code === 16) return true;
  const message = streamMessageOf(response.data) ?? '';
  return response.status === 400 && /(does not|do not|don't|doesn't) exist|not found|was deleted/i.test(message);
}

/**
 * Turn whatever a Stream SDK call threw into `StreamUnavailableError` or
 * `StreamRejectedError`. Errors that are neither an HTTP answer nor a network
 * failure (programming errors) are returned unchanged.
 */
export function classifyStreamError(operation: StreamOperation, error: unknown, defaultRetryAfterSeconds = DEFAULT_RETRY_AFTER_SECONDS): Error {
  if (error instanceof StreamUnavailableError || error instanceof StreamRejectedError) return error;
  const response = responseOf(error);
  if (response !== null) {
    const status = response.status as number;
    const code = streamCodeOf(response.data);
    const detail = streamMessageOf(response.data);
    const message = `Stream answered ${status} to ${operation}${code !== null ? ` (code ${code})` : ''}${detail ? `: ${detail}` : ''}`;
    if (status === 429 || status === 408 || status >= 500 || code === 9) {
      const rateLimited = status === 429 || code === 9;
      return new StreamUnavailableError(operation, message, {
        status,
        retryAfterSeconds: retryAfterFromHeaders(response.headers, Date.now(), defaultRetryAfterSeconds, rateLimited),
        cause: error,
      });
    }
    return new StreamRejectedError(operation, message, { status, streamCode: code, cause: error });
  }
  if (isRecord(error)) {
    const code = typeof error.code === 'string' ? error.code : undefined;
    const isAxios = error.isAxiosError === true;
    const message = typeof error.message === 'string' ? error.message : '';
    if (isAxios || (code !== undefined && NETWORK_CODES.has(code)) || /socket hang up|timeout|network/i.test(message)) {
      return new StreamUnavailableError(operation, `Stream did not answer ${operation}${code ? ` (${code})` : ''}`, {
        status: null,
        retryAfterSeconds: clampRetry(defaultRetryAfterSeconds),
        cause: error,
      });
    }
  }
  return error instanceof Error ? error : new Error(String(error));
}
