import type { FastifyReply } from 'fastify';
import { problemBody, type ProblemError } from '../errors/problems.js';

export { ProblemError } from '../errors/problems.js';

/** Writes the problem, with the authentication challenge RFC 6750 asks of a 401. */
export function sendProblem(reply: FastifyReply, problem: ProblemError): FastifyReply {
  const body = problemBody(problem, reply.request.id);
  if (problem.status === 401) {
    reply.header(
      'www-authenticate',
      problem.code === 'missing_token'
        ? 'Bearer realm="stream-token-service"'
        : `Bearer realm="stream-token-service", error="invalid_token", error_description="${problem.code}"`,
    );
  }
  if (problem.retryAfterSeconds !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(problem.retryAfterSeconds))));
  if (problem.headers !== undefined) reply.headers(problem.headers);
  reply.request.outcome = problem.code;
  if (problem.logFields !== undefined) reply.request.logFields = problem.logFields;
  return reply.code(problem.status).type('application/problem+json').send(body);
}
