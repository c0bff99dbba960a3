import type { FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../errors/problems.js';

/** Longest origin a log line shows: the header is the sender's to choose. */
const MAX_ORIGIN_SHOWN = 200;

/** Methods a route may answer, in the order `Allow` lists them. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export interface UnmatchedOptions {
  /** `CORS_ORIGINS`, named beside a refused origin in the log. */
  corsOrigins: readonly string[];
  /** Counts a refused preflight. */
  onCorsRefusal: () => void;
  /** Whether a route answers `method` at `path` (Fastify's `hasRoute`). */
  hasRoute: (method: string, path: string) => boolean;
}

/** The methods the route at the request's path answers; none for a path no route has. */
function allowedMethods(request: FastifyRequest, hasRoute: UnmatchedOptions['hasRoute']): string[] {
  const path = request.url.split('?', 1)[0] as string;
  // Only literal paths: the router would read ":" and "*" as parameters and wildcards.
  if (!path.startsWith('/') || /[:*]/.test(path)) return [];
  return METHODS.filter((method) => hasRoute(method, path));
}

/** A browser's CORS preflight: OPTIONS with the origin and the method it asks about. */
function isPreflight(request: FastifyRequest): request is FastifyRequest & { headers: { origin: string } } {
  return request.method === 'OPTIONS' && typeof request.headers.origin === 'string' && request.headers['access-control-request-method'] !== undefined;
}

/**
 * The not-found handler: what a request that no route answers gets. A CORS
 * preflight arrives here when its origin is not allowed (the CORS plugin
 * answers the others; without CORS_ORIGINS there is no plugin): 403
 * `origin_not_allowed` with no CORS headers, so the browser refuses the call,
 * and the log line names the origin and the setting. A path a route has,
 * asked with another method: 405 with `Allow`. Anything else is a 404 that
 * does not echo the path: it may carry a token someone pasted into a URL.
 */
export function unmatchedHandler(options: UnmatchedOptions): (request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  const allowed = new Set(options.corsOrigins);
  return (request, reply) => {
    if (isPreflight(request) && !allowed.has(request.headers.origin)) {
      options.onCorsRefusal();
      const origin = request.headers.origin;
      return reply.send(
        new ProblemError({
          code: 'origin_not_allowed',
          detail: 'Browsers on this origin may not call the service: it is not listed in CORS_ORIGINS.',
          logFields: {
            origin: origin.length <= MAX_ORIGIN_SHOWN ? origin : `${origin.slice(0, MAX_ORIGIN_SHOWN)}…`,
            setting: 'CORS_ORIGINS',
            allowedOrigins: options.corsOrigins,
          },
        }),
      );
    }
    const allow = allowedMethods(request, options.hasRoute);
    if (allow.length > 0) {
      return reply.send(
        new ProblemError({
          code: 'invalid_request',
          status: 405,
          detail: `This route answers only ${allow.join(' and ')}.`,
          headers: { allow: allow.join(', ') },
        }),
      );
    }
    return reply.send(new ProblemError({ code: 'not_found', detail: 'No such route. See /healthz, /readyz and POST /stream/token.' }));
  };
}
