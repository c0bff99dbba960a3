import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { problemBody } from '../errors/problems.js';
import { clientErrorProblem } from './problem-mapping.js';

export interface ClientErrorOptions {
  /** Headers every answer carries (security headers, cache control). */
  headers: Readonly<Record<string, string>>;
  log: { debug(obj: object, msg?: string): void };
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refused (malformed, headers too large,
 * too slow) gets a problem like every other error, then the connection is closed. Only Node's error
 * code is logged: the error also holds the raw bytes received, credentials included.
 */
export function clientErrorHandler(options: ClientErrorOptions): (err: NodeJS.ErrnoException, socket: Socket) => void {
  const fixedHeaders = Object.entries({ ...options.headers, 'content-type': 'application/problem+json; charset=utf-8', connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (err, socket) => {
    // A reset connection is already gone; there is no one to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const problem = clientErrorProblem(err.code);
    const requestId = randomUUID();
    options.log.debug({ reqId: requestId, status: problem.status, code: problem.code, reason: err.code ?? 'unknown' }, 'request refused by the HTTP parser');
    // Writing into a response already under way on this connection would corrupt it for the client.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (socket.writable && inFlight?.headersSent !== true) {
      const body = JSON.stringify(problemBody(problem, requestId));
      socket.write(
        `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}\r\n${fixedHeaders}x-request-id: ${requestId}\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
