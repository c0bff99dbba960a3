import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../errors/problems.js';
import { AccessDeniedError, StreamNotConfiguredError } from '../exchange/errors.js';
import { SessionTokenError } from '../identity/errors.js';
import { StreamRejectedError, StreamUnavailableError, SyncStoreUnavailableError, UserRemovedError } from '../stream/sync-errors.js';
import { sendProblem } from './problem.js';

/** Where the mapping reports what an operator must see: an unexpected error, or Stream refusing a call. */
export interface ProblemLog {
  error(obj: object, msg?: string): void;
}

/** What the route that failed allows, for problems that state it. */
export interface RouteLimits {
  /** The largest body the route accepts, bytes. */
  bodyLimit?: number;
}

/** A 4xx from Stream is this service's configuration (unknown role, teams not enabled), not the caller's: retry much later. */
const STREAM_REJECTED_RETRY_SECONDS = 30;

/**
 * Turns anything thrown on the request path, on any route, into the problem
 * that answers it: the same failure gets the same answer everywhere. Only
 * unexpected errors, and Stream refusing a call, are logged with detail.
 */
export function toProblem(error: unknown, reqId: string, log: ProblemLog, route: RouteLimits = {}): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof SessionTokenError) {
    return new ProblemError({
      code: error.code,
      detail: error.message,
      ...(error.code === 'keys_unavailable' ? { retryAfterSeconds: 5 } : {}),
      ...(error.logFields !== undefined ? { logFields: error.logFields } : {}),
    });
  }
  const domain = domainProblem(error, reqId, log);
  if (domain !== null) return domain;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) {
    return new ProblemError({
      code: 'invalid_request',
      detail: `The request ${fastifyError.validationContext ?? 'body'} is not valid: ${fastifyError.message}`,
    });
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProblemError({
        code: 'body_too_large',
        detail:
          route.bodyLimit !== undefined
            ? `The body is larger than the ${route.bodyLimit} bytes this route accepts.`
            : 'The body is larger than this route accepts.',
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError({ code: 'unsupported_media_type', detail: 'Send no body, or a JSON body with Content-Type: application/json.' });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ProblemError({ code: 'invalid_request', detail: 'The body is not valid JSON.' });
    default:
      break;
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ProblemError({ code: 'invalid_request', status, detail: 'The request could not be read.' });
  }
  log.error({ reqId, err: error }, 'unexpected error');
  return new ProblemError({ code: 'internal', detail: 'Something went wrong; the request id identifies it in the logs.' });
}

/** The answer to a failure of the exchange, of Stream or of the shared state; null for any other error. */
function domainProblem(error: unknown, reqId: string, log: ProblemLog): ProblemError | null {
  if (error instanceof AccessDeniedError) return new ProblemError({ code: 'forbidden', detail: error.message });
  if (error instanceof UserRemovedError) return new ProblemError({ code: 'forbidden', detail: 'This user was deleted and may not use chat.' });
  if (error instanceof StreamUnavailableError) {
    return new ProblemError({
      code: 'upstream_unavailable',
      detail: 'Stream could not be reached; try again shortly.',
      retryAfterSeconds: error.retryAfterSeconds,
    });
  }
  if (error instanceof SyncStoreUnavailableError) {
    return new ProblemError({
      code: 'upstream_unavailable',
      detail: 'User state could not be checked or saved; try again shortly.',
      retryAfterSeconds: error.retryAfterSeconds,
    });
  }
  if (error instanceof StreamRejectedError) {
    log.error({ reqId, operation: error.operation, status: error.status, streamCode: error.streamCode, message: error.message }, 'Stream refused a call');
    return new ProblemError({
      code: 'upstream_unavailable',
      detail: 'Stream refused to update this user; the operator has been told in the logs.',
      retryAfterSeconds: STREAM_REJECTED_RETRY_SECONDS,
    });
  }
  if (error instanceof StreamNotConfiguredError)
    return new ProblemError({ code: 'upstream_unavailable', detail: error.message, retryAfterSeconds: error.retryAfterSeconds });
  return null;
}

/** What a request Node's HTTP parser refused gets, by the error code Node reports. */
export function clientErrorProblem(code: string | undefined): ProblemError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ProblemError({ code: 'invalid_request', status: 431, detail: 'The request headers are larger than allowed.' });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ProblemError({ code: 'invalid_request', status: 408, detail: 'The request did not arrive in time.' });
    default:
      return new ProblemError({ code: 'invalid_request', detail: 'The request is not valid HTTP.' });
  }
}

/** Fastify's error handler: every error becomes a problem; `observe` sees each error and its answer first. */
export function problemHandler(observe?: (error: unknown, problem: ProblemError) => void) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const problem = toProblem(error, request.id, request.log, { bodyLimit: request.routeOptions.bodyLimit });
    observe?.(error, problem);
    return sendProblem(reply, problem);
  };
}
