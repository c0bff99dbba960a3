import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ServiceMetrics } from './metrics.js';

export interface RequestLogOptions {
  /** Where the line goes: a logger whose call sites write only fixed, known-safe fields. */
  logger: Pick<Logger, 'info'>;
  metrics: Pick<ServiceMetrics, 'recordRequest'>;
}

/**
 * One line per request, and its metrics, written when Fastify reports a
 * finished response: instead of Fastify's two lines, and without an
 * onResponse hook, whose runner every request would pay for.
 */
export class RequestLog extends LogController {
  readonly #logger: RequestLogOptions['logger'];
  readonly #metrics: RequestLogOptions['metrics'];

  constructor(options: RequestLogOptions) {
    super({ disableRequestLogging: true });
    this.#logger = options.logger;
    this.#metrics = options.metrics;
  }

  override requestCompleted(_error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url ?? 'unmatched';
    const code = request.outcome ?? (reply.statusCode < 400 ? 'ok' : 'error');
    const ms = reply.elapsedTime;
    this.#metrics.recordRequest(route, request.method, reply.statusCode, code, ms / 1000);
    this.#logger.info(
      {
        reqId: request.id,
        method: request.method,
        route,
        status: reply.statusCode,
        code,
        userId: request.userId ?? undefined,
        ms: Math.round(ms * 100) / 100,
        ...request.logFields,
      },
      'request',
    );
  }
}
