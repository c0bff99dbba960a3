import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { ProblemError } from '../errors/problems.js';
import { isRecord } from '../shared/is-record.js';

/** preValidation for routes whose request carries nothing but the bearer header: an empty body or `{}`. */
export function requireEmptyBody(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const body = request.body;
  if (body === undefined || (isRecord(body) && Object.keys(body).length === 0)) {
    done();
    return;
  }
  done(
    new ProblemError({
      code: 'invalid_request',
      detail: 'The body must be empty or {}: the user comes only from the session token.',
    }),
  );
}
