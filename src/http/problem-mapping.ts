import type { FastifyError } from 'fastify';
import { SessionTokenError } from '../identity/errors.js';
import { ProblemError } from '../errors/problems.js';

/** Maps anything thrown on the request path to a safe problem; only unexpected errors are logged with detail. */
export function toProblem(error: FastifyError | Error, reqId: string, log: { error(obj: object, msg?: string): void }): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof SessionTokenError) {
    return new ProblemError({
      code: error.code,
      detail: error.message,
      ...(error.code === 'keys_unavailable' ? { retryAfterSeconds: 5 } : {}),
    });
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) {
    return new ProblemError({ code: 'invalid_request', detail: `The request ${fastifyError.validationContext ?? 'body'} is not valid: ${fastifyError.message}` });
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProblemError({ code: 'invalid_request', status: 413, detail: 'The body is larger than allowed.' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError({ code: 'invalid_request', status: 415, detail: 'Send no body, or a JSON body with Content-Type: application/json.' });
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
  log.error({ reqId, err: { type: error.name, message: error.message, stack: error.stack } }, 'unexpected error');
  return new ProblemError({ code: 'internal', detail: 'Something went wrong; the request id identifies it in the logs.' });
}
