import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { PLAYGROUND_SCRIPT, PLAYGROUND_STYLE, renderPlaygroundPage } from './playground-page.js';

function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * The playground loads nothing: its only script and style are the inline ones,
 * allowed by hash. It may call any http(s) origin, because the service it talks
 * to is chosen in the page.
 */
export const PLAYGROUND_CSP = [
  "default-src 'none'",
  `script-src ${sha256Source(PLAYGROUND_SCRIPT)}`,
  `style-src ${sha256Source(PLAYGROUND_STYLE)}`,
  "connect-src 'self' http: https:",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = renderPlaygroundPage();

/**
 * `GET /` of the dev plugin (so `/dev/`): a page to sign a dev session token,
 * exchange it, and see both tokens decoded. Registered only with the dev routes.
 */
export const devPlaygroundRoutes: FastifyPluginAsync = async (app) => {
  app.get('/', async (request, reply) => {
    request.outcome = 'ok';
    return reply
      .header('content-security-policy', PLAYGROUND_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .type('text/html; charset=utf-8')
      .send(PAGE);
  });
};
