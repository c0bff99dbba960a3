import type { FastifyPluginAsync } from 'fastify';
import type { TokenExchange } from '../../exchange/token-exchange.js';
import { bearerToken } from '../bearer.js';
import { ProblemError } from '../problem.js';

export interface TokenRoutesOptions {
  exchange: TokenExchange;
}

const tokenResponseSchema = {
  type: 'object',
  required: ['token', 'user_id', 'api_key', 'expires_in', 'expires_at'],
  properties: {
    token: { type: 'string' },
    user_id: { type: 'string' },
    api_key: { type: 'string' },
    expires_in: { type: 'integer' },
    expires_at: { type: 'string' },
  },
} as const;

/** A token request carries nothing but the bearer header: an empty body or `{}`. */
function assertEmptyBody(body: unknown): void {
  if (body === undefined) return;
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0) return;
  throw new ProblemError({
    code: 'invalid_request',
    detail: 'The body must be empty or {}: the user comes only from the session token.',
  });
}

export const tokenRoutes: FastifyPluginAsync<TokenRoutesOptions> = async (app, { exchange }) => {
  app.post('/stream/token', { schema: { response: { 200: tokenResponseSchema } } }, async (request) => {
    const sessionToken = bearerToken(request.headers.authorization);
    assertEmptyBody(request.body);
    const issued = await exchange.issue(sessionToken, (userId) => {
      request.userId = userId;
    });
    request.outcome = 'ok';
    return issued;
  });
};
