import type { FastifyPluginAsync } from 'fastify';
import type { DevIssuer } from './dev-issuer.js';
import { devPlaygroundRoutes } from './playground.js';

export interface DevRoutesOptions {
  devIssuer: DevIssuer;
}

const USER_ID_PATTERN = '^[A-Za-z0-9@_-]{1,255}$';

/**
 * The development issuer's public face, registered only in dev mode: its JWKS
 * (like Clerk's `/.well-known/jwks.json`), its discovery document (which
 * names the issuer), and a route that signs a session
 * token for any user id. Tokens it signs go through the same verification as
 * any provider's; nothing here skips a check. `GET /` is the dev playground
 * page (playground.ts).
 */
export const devRoutes: FastifyPluginAsync<DevRoutesOptions> = async (app, { devIssuer }) => {
  await app.register(devPlaygroundRoutes);

  app.get('/.well-known/jwks.json', async (request) => {
    request.outcome = 'ok';
    return devIssuer.jwks;
  });

  // The issuer its tokens must name, which the port decides: `dev-token --url` asks for it here.
  app.get('/.well-known/openid-configuration', async (request) => {
    request.outcome = 'ok';
    return { issuer: devIssuer.issuer, jwks_uri: `${devIssuer.issuer}/.well-known/jwks.json` };
  });

  app.post<{ Body: { user_id: string; claims?: Record<string, unknown> } }>(
    '/token',
    {
      bodyLimit: 16 * 1024,
      schema: {
        body: {
          type: 'object',
          required: ['user_id'],
          additionalProperties: false,
          properties: {
            user_id: { type: 'string', pattern: USER_ID_PATTERN },
            claims: { type: 'object' },
          },
        },
      },
    },
    async (request) => {
      request.outcome = 'ok';
      return { token: devIssuer.sign(request.body.user_id, request.body.claims ?? {}) };
    },
  );
};

/** `GET /` in dev mode: the playground is where someone opening the service in a browser wants to be. */
export const devRootRedirect: FastifyPluginAsync = async (app) => {
  app.get('/', async (request, reply) => {
    request.outcome = 'ok';
    return reply.redirect('/dev/', 302);
  });
};
