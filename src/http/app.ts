import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import type { ServiceConfig } from '../config/types.js';
import { TokenExchange } from '../exchange/token-exchange.js';
import { loadOrCreateDevIssuer } from '../identity/dev-issuer.js';
import { SessionTokenError } from '../identity/errors.js';
import { SessionVerifier } from '../identity/session-verifier.js';
import type { IssuerOptions } from '../identity/types.js';
import { StreamTokenMinter } from '../stream/token-minter.js';
import './fastify-augment.js';
import { createLogger } from './logging.js';
import { ProblemError, sendProblem } from './problem.js';
import { devRoutes } from './routes/dev.js';
import { healthRoutes } from './routes/health.js';
import { tokenRoutes } from './routes/token.js';

/** Things a test or an embedding program may supply instead of the defaults. */
export interface AppDependencies {
  /** Log sink; standard output by default. */
  logDestination?: DestinationStream;
  /** A ready logger (overrides `logDestination`). */
  logger?: Logger;
  /** Used for JWKS and OIDC discovery fetches. */
  fetch?: typeof fetch;
  /** Clock in milliseconds. */
  now?: () => number;
}

/** Requests carry at most an empty JSON object. */
export const BODY_LIMIT_BYTES = 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Builds the whole service as a Fastify instance without opening a port, so
 * tests drive it with `app.inject` and `serve` calls `listen` on it.
 */
export async function buildApp(config: ServiceConfig, deps: AppDependencies = {}): Promise<FastifyInstance> {
  const logger =
    deps.logger ??
    createLogger({
      level: config.log.level,
      ...(deps.logDestination !== undefined ? { destination: deps.logDestination } : {}),
      secrets: [config.stream.apiSecret.reveal(), config.clerk.secretKey?.reveal() ?? '', config.clerk.webhookSecret?.reveal() ?? ''],
    });

  // With TLS files the service speaks HTTPS itself; without, it expects a TLS-terminating proxy.
  const https = config.http.tls !== null ? { https: { cert: readFileSync(config.http.tls.certFile), key: readFileSync(config.http.tls.keyFile) } } : {};
  const app = Fastify({
    ...https,
    loggerInstance: logger,
    disableRequestLogging: true,
    bodyLimit: BODY_LIMIT_BYTES,
    // proxy-addr semantics: a hop count or a list of trusted addresses; false ignores X-Forwarded-For.
    trustProxy: config.http.trustProxy as boolean | string[],
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;

  app.decorateRequest('outcome', null);
  app.decorateRequest('userId', null);

  // An empty body with a JSON content type counts as no body; anything else goes through Fastify's own
  // parser, which also refuses prototype-poisoning keys.
  const defaultJsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') {
      done(null, undefined);
      return;
    }
    defaultJsonParser(request, body as string, done);
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('cache-control', 'no-store');
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        code: request.outcome ?? (reply.statusCode < 400 ? 'ok' : 'error'),
        userId: request.userId ?? undefined,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request',
    );
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => sendProblem(reply, toProblem(error, request.log)));
  // The path is not echoed: it may carry a token someone pasted into a URL.
  app.setNotFoundHandler((_request, reply) => sendProblem(reply, new ProblemError({ code: 'not_found', detail: 'No such route. See /healthz, /readyz and POST /stream/token.' })));

  const issuers: IssuerOptions[] = [...config.identity.issuers];
  const devIssuer = config.devMode
    ? loadOrCreateDevIssuer({ directory: config.dev.directory, issuer: config.dev.issuer, ...(deps.now ? { now: deps.now } : {}) })
    : null;
  if (devIssuer !== null) issuers.push(devIssuer.issuerOptions);

  const verifier = new SessionVerifier({
    issuers,
    keySetTiming: config.identity.keySetTiming,
    clockSkewSeconds: config.identity.clockSkewSeconds,
    logger: app.log,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  app.addHook('onReady', async () => {
    await verifier.start();
  });
  app.addHook('onClose', async () => {
    verifier.close();
  });

  const minter = new StreamTokenMinter({
    apiSecret: config.stream.apiSecret.reveal(),
    ttlSeconds: config.stream.tokenTtlSeconds,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const exchange = new TokenExchange({ verifier, minter, apiKey: config.stream.apiKey, ...(deps.now ? { now: deps.now } : {}) });

  await app.register(healthRoutes, { isReady: () => verifier.isReady(), issuerStatus: () => verifier.status() });
  await app.register(tokenRoutes, { exchange });
  if (devIssuer !== null) await app.register(devRoutes, { prefix: '/dev', devIssuer });

  return app;
}

/** Maps anything thrown on the request path to a safe problem; only unexpected errors are logged with detail. */
function toProblem(error: FastifyError | Error, log: { error(obj: object, msg?: string): void }): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof SessionTokenError) {
    return new ProblemError({
      code: error.code,
      detail: error.message,
      ...(error.code === 'keys_unavailable' ? { retryAfterSeconds: 5 } : {}),
    });
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) {
    return new ProblemError({ code: 'invalid_request', detail: `The request ${fastifyError.validationContext ?? 'body'} is not valid: ${fastifyError.message}` });
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProblemError({ code: 'invalid_request', status: 413, detail: `The body is larger than allowed.` });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError({ code: 'invalid_request', status: 415, detail: 'Send no body, or a JSON body with Content-Type: application/json.' });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ProblemError({ code: 'invalid_request', detail: 'The body is not valid JSON.' });
    default:
      break;
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ProblemError({ code: 'invalid_request', status, detail: 'The request could not be read.' });
  }
  log.error({ err: { type: error.name, message: error.message, stack: error.stack } }, 'unexpected error');
  return new ProblemError({ code: 'internal', detail: 'Something went wrong; the request id identifies it in the logs.' });
}
