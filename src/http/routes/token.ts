import type { FastifyPluginAsync } from 'fastify';
import type { TokenExchange } from '../../exchange/token-exchange.js';
import type { Authenticate } from '../authenticate.js';
import { requireEmptyBody } from '../empty-body.js';

export interface TokenRoutesOptions {
  exchange: TokenExchange;
  /** Verifies the bearer session token (sets `request.session`) and applies the per-user limit. */
  authenticate: Authenticate;
}

/** The body of a 200 from `POST /stream/token`, as the route declares it (and serialises with it). */
export const tokenResponseSchema = {
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

const revokeResponseSchema = {
  type: 'object',
  required: ['user_id', 'revoked_before'],
  properties: { user_id: { type: 'string' }, revoked_before: { type: 'string' } },
} as const;

/** The token exchange and "sign out everywhere", both for the caller's own verified user only. */
export const tokenRoutes: FastifyPluginAsync<TokenRoutesOptions> = async (app, { exchange, authenticate }) => {
  const guarded = { preValidation: requireEmptyBody, preHandler: authenticate };

  app.post('/stream/token', { ...guarded, schema: { response: { 200: tokenResponseSchema } } }, async (request) => {
    const issued = await exchange.issue(request.session!);
    request.outcome = 'ok';
    return issued;
  });

  app.post('/stream/revoke', { ...guarded, schema: { response: { 200: revokeResponseSchema } } }, async (request) => {
    const revoked = await exchange.revoke(request.session!);
    request.outcome = 'ok';
    return revoked;
  });
};
