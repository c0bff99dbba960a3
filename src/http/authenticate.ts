import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SessionVerifier } from '../identity/session-verifier.js';
import { bearerToken } from './bearer.js';
import { ProblemError } from './problem.js';

/**
 * preHandler that verifies the bearer session token and records the
 * session and user id on the request. Everything after it trusts only
 * `request.session`.
 */
export function sessionAuthenticator(verifier: Pick<SessionVerifier, 'verify'>) {
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const session = await verifier.verify(bearerToken(request.headers.authorization));
    request.session = session;
    request.userId = session.userId;
  };
}

/** preValidation for routes whose request carries nothing but the bearer header: an empty body or `{}`. */
export async function requireEmptyBody(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const body = request.body;
  if (body === undefined) return;
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0) return;
  throw new ProblemError({
    code: 'invalid_request',
    detail: 'The body must be empty or {}: the user comes only from the session token.',
  });
}
