import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SessionVerifier } from '../identity/session-verifier.js';
import { bearerToken } from './bearer.js';
import type { RateLimits } from './rate-limits.js';

export type Authenticate = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * The preHandler of routes that act for the caller: the bearer session token
 * is verified, the verified session and user id are set on the request, and
 * only then is the request counted against that user's limit. A refusal is
 * thrown (a `SessionTokenError` or a problem) for the error handler to answer.
 */
export function authenticator(verifier: Pick<SessionVerifier, 'verify'>, limits: Pick<RateLimits, 'checkNow'>): Authenticate {
  return async (request, reply) => {
    const session = await verifier.verify(bearerToken(request.headers.authorization));
    request.session = session;
    request.userId = session.userId;
    // The memory store answers without a promise; only Redis is awaited.
    const pending = limits.checkNow('user', session.userId, request, reply);
    if (pending !== undefined) await pending;
  };
}
