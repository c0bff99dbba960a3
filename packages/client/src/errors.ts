/**
 * Codes a {@link StreamTokenError} can carry.
 *
 * When the service answered with a problem document, `code` is the service's
 * stable problem code (see docs/errors.md), e.g. `token_expired`, `forbidden`,
 * `rate_limited`. The client adds its own codes for failures that never reached
 * a problem answer:
 *
 * - `missing_token`: `getAuthToken` gave no session token (the user is signed
 *   out); no request was sent. The service uses the same code for a request
 *   without a credential.
 * - `auth_token_failed`: `getAuthToken` kept throwing; the last error is the `cause`.
 * - `network_error`: the request failed or timed out before an answer arrived.
 * - `aborted`: the caller's `signal` aborted the request.
 * - `http_error`: an error status without a problem document (e.g. a proxy's 502 page).
 * - `invalid_response`: a success status whose body is not a token response.
 */
export type StreamTokenErrorCode =
  | 'missing_token'
  | 'auth_token_failed'
  | 'network_error'
  | 'aborted'
  | 'http_error'
  | 'invalid_response'
  | 'malformed_token'
  | 'unsupported_token_type'
  | 'invalid_signature'
  | 'unknown_key'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'unauthorized_party'
  | 'invalid_subject'
  | 'session_pending'
  | 'impersonation_not_allowed'
  | 'keys_unavailable'
  | 'invalid_request'
  | 'forbidden'
  | 'not_found'
  | 'rate_limited'
  | 'upstream_unavailable'
  | 'internal'
  // Codes a newer service may add; branch on the ones you know.
  | (string & {});

export interface StreamTokenErrorInit {
  code: StreamTokenErrorCode;
  message: string;
  /** HTTP status of the answer; absent when no answer arrived. */
  status?: number;
  /** The service's request id (`request_id`, or the `x-request-id` header). */
  requestId?: string;
  /** The problem document's `title`. */
  title?: string;
  /** The problem document's `detail`. */
  detail?: string;
  /** How long the service asked to wait (`Retry-After`), in milliseconds. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * The one error type the client throws. `status` and `code` say what happened;
 * `requestId` finds the request in the service's logs.
 */
export class StreamTokenError extends Error {
  override readonly name = 'StreamTokenError';
  readonly code: StreamTokenErrorCode;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly title: string | undefined;
  readonly detail: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(init: StreamTokenErrorInit) {
    super(init.message, init.cause !== undefined ? { cause: init.cause } : undefined);
    // Engines without the `cause` option of `Error` (older Hermes) still get it.
    if (init.cause !== undefined && this.cause === undefined) this.cause = init.cause;
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.title = init.title;
    this.detail = init.detail;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/**
 * The {@link StreamTokenError} behind `error`, if any. `stream-chat` wraps
 * whatever a token provider throws (`new Error('Call to tokenProvider failed
 * ...', { cause })`), so this follows the `cause` chain.
 */
export function findStreamTokenError(error: unknown): StreamTokenError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== null && current !== undefined; depth += 1) {
    if (current instanceof StreamTokenError) return current;
    if (typeof current !== 'object') return undefined;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
