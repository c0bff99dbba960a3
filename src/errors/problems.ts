import type { SessionTokenErrorCode } from '../identity/errors.js';

/**
 * Stable problem codes: the `code` member of every error response and the
 * `code` label of request metrics. Apps branch on these; never rename one.
 */
export type ProblemCode =
  | SessionTokenErrorCode
  | 'invalid_request'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'forbidden'
  | 'origin_not_allowed'
  | 'not_found'
  | 'rate_limited'
  | 'upstream_unavailable'
  | 'invalid_webhook'
  | 'metrics_unavailable'
  | 'shutting_down'
  | 'internal';

const TITLES: Record<ProblemCode, string> = {
  missing_token: 'No session token was sent',
  malformed_token: 'The session token is malformed',
  unsupported_token_type: 'This kind of token is not accepted',
  invalid_signature: 'The session token signature is not valid',
  unknown_key: 'The session token is signed with an unknown key',
  token_expired: 'The session token has expired',
  token_not_yet_valid: 'The session token is not valid yet',
  invalid_issuer: 'The session token comes from an issuer that is not trusted',
  invalid_audience: 'The session token is meant for another audience',
  unauthorized_party: 'The session token was issued to an application that is not allowed',
  invalid_subject: 'The session token does not name a valid user',
  session_pending: 'The session is not fully signed in yet',
  impersonation_not_allowed: 'Impersonated sessions are not allowed',
  keys_unavailable: "The identity provider's signing keys are not available",
  invalid_request: 'The request is not valid',
  body_too_large: 'The request body is too large',
  unsupported_media_type: 'The request body is of a type this service does not read',
  forbidden: 'This user may not use chat',
  origin_not_allowed: 'This origin may not call the service from a browser',
  not_found: 'Not found',
  rate_limited: 'Too many requests',
  upstream_unavailable: 'Stream is not available',
  invalid_webhook: 'The webhook could not be verified',
  metrics_unavailable: 'Metrics could not be gathered from the workers',
  shutting_down: 'The service is shutting down',
  internal: 'Internal error',
};

const STATUS: Partial<Record<ProblemCode, number>> = {
  missing_token: 401,
  malformed_token: 401,
  unsupported_token_type: 401,
  invalid_signature: 401,
  unknown_key: 401,
  token_expired: 401,
  token_not_yet_valid: 401,
  invalid_issuer: 401,
  invalid_audience: 401,
  unauthorized_party: 401,
  invalid_subject: 401,
  session_pending: 401,
  impersonation_not_allowed: 403,
  keys_unavailable: 503,
  invalid_request: 400,
  body_too_large: 413,
  unsupported_media_type: 415,
  forbidden: 403,
  origin_not_allowed: 403,
  not_found: 404,
  rate_limited: 429,
  upstream_unavailable: 503,
  invalid_webhook: 400,
  metrics_unavailable: 503,
  shutting_down: 503,
  internal: 500,
};

/** Statuses a code is also sent with, besides its usual one (docs/errors.md lists every one). */
const OTHER_STATUSES: Partial<Record<ProblemCode, readonly number[]>> = {
  // A route asked with another method; a request Node's parser found too slow or its headers too large.
  invalid_request: [405, 408, 431],
  // The shared counters cannot be reached and RATE_LIMIT_ON_STORE_ERROR=deny.
  rate_limited: [503],
};

/** Every problem code, in the order of the table above. */
export const PROBLEM_CODES = Object.keys(TITLES) as ProblemCode[];

/** The statuses `code` may be sent with: its usual one first. */
export function statusesOf(code: ProblemCode): number[] {
  return [statusOf(code), ...(OTHER_STATUSES[code] ?? [])];
}

export interface ProblemInit {
  code: ProblemCode;
  /** Overrides the code's usual status with another of {@link statusesOf}. */
  status?: number;
  detail?: string;
  /** Seconds, sent as `Retry-After`. */
  retryAfterSeconds?: number;
  headers?: Record<string, string>;
  /** Added to the request's log line, never sent: what the operator needs to see both sides of a mismatch. */
  logFields?: Readonly<Record<string, unknown>>;
}

/** An error that becomes an RFC 9457 problem response. Its text is always safe to send. */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly code: ProblemCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly logFields: Readonly<Record<string, unknown>> | undefined;

  constructor(init: ProblemInit) {
    super(init.detail ?? TITLES[init.code]);
    this.code = init.code;
    this.status = init.status ?? statusOf(init.code);
    this.detail = init.detail;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.headers = init.headers;
    this.logFields = init.logFields;
  }
}

export function statusOf(code: ProblemCode): number {
  return STATUS[code] ?? 500;
}

export function titleOf(code: ProblemCode): string {
  return TITLES[code];
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: ProblemCode;
  request_id: string;
}

/** The RFC 9457 `type` of a problem: a URN per code, stable like the code itself. */
export function problemType(code: ProblemCode): string {
  return `urn:stream-token-service:problem:${code}`;
}

/** The RFC 9457 body of a problem. */
export function problemBody(problem: ProblemError, requestId: string): ProblemBody {
  return {
    type: problemType(problem.code),
    title: titleOf(problem.code),
    status: problem.status,
    ...(problem.detail !== undefined ? { detail: problem.detail } : {}),
    code: problem.code,
    request_id: requestId,
  };
}
