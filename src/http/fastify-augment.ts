import type { VerifiedSession } from '../identity/types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The problem code, or `ok`, that this request ended with; logged and counted. */
    outcome: string | null;
    /** Fields the request's log line carries besides the usual ones (see `ProblemInit.logFields`). */
    logFields: Readonly<Record<string, unknown>> | null;
    /** The verified user id, once known. Never taken from the request body. */
    userId: string | null;
    /** The verified session, on routes that authenticate. */
    session: VerifiedSession | null;
  }
}

export {};
