import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';

/** Beside this module in src/ and in dist/ alike (the build copies it). */
const ASSETS = new URL('./playground/', import.meta.url);

/** The tags of index.html that load the style and the script, as a browser opening the file would. */
const STYLE_TAG = '<link rel="stylesheet" href="playground.css">';
const SCRIPT_TAG = '<script src="playground.js"></script>';

export interface PlaygroundPage {
  html: string;
  csp: string;
}

function sha256Source(bytes: Buffer): string {
  return `'sha256-${createHash('sha256').update(bytes).digest('base64')}'`;
}

function inline(html: string, tag: string, element: string, content: Buffer): string {
  const parts = html.split(tag);
  if (parts.length !== 2) throw new Error(`the dev playground's index.html must hold ${tag} once`);
  return parts.join(`<${element}>${content.toString('utf8')}</${element}>`);
}

/**
 * The page with its style and script inline, so it loads nothing, and a
 * policy that allows exactly those two by the hashes of their bytes. It may
 * call any http(s) origin, because the service it talks to is chosen in the page.
 */
export function readPlaygroundPage(): PlaygroundPage {
  const style = readFileSync(new URL('playground.css', ASSETS));
  const script = readFileSync(new URL('playground.js', ASSETS));
  const page = readFileSync(new URL('index.html', ASSETS), 'utf8');
  const html = inline(inline(page, STYLE_TAG, 'style', style), SCRIPT_TAG, 'script', script);
  const csp = [
    "default-src 'none'",
    `script-src ${sha256Source(script)}`,
    `style-src ${sha256Source(style)}`,
    "connect-src 'self' http: https:",
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

/**
 * `GET /` of the dev plugin (so `/dev/`): a page to sign a dev session token,
 * exchange it, and see both tokens decoded. Registered only with the dev
 * routes; its files are read once, when they are.
 */
export const devPlaygroundRoutes: FastifyPluginAsync = async (app) => {
  const page = readPlaygroundPage();
  app.get('/', async (request, reply) => {
    request.outcome = 'ok';
    return reply
      .header('content-security-policy', page.csp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .type('text/html; charset=utf-8')
      .send(page.html);
  });
};
