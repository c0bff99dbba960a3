import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { ProblemError } from '../errors/problems.js';

/**
 * serving → stopping (a signal came: readiness fails, everything else goes on) → draining (no new
 * connections; every answer closes its connection; quiet connections are closed) → closed (the app's
 * own close has begun; a request that still arrives is refused).
 */
export type DrainPhase = 'serving' | 'stopping' | 'draining' | 'closed';

/** How often the drain looks for connections to close. */
const SWEEP_MS = 100;
/**
 * How long a connection must stay quiet (no request in progress, no byte in or out) before the drain
 * closes it. A client that sends its next request the moment an answer arrives is never that quiet,
 * so its request is answered (with `Connection: close`) instead of meeting a closed socket.
 */
export const QUIET_MS = 1000;
/** Seconds a client refused while the service stops should wait: another instance can take the request now. */
const RETRY_AFTER_SECONDS = 1;
/** At most one warning this often while the connection cap drops connections. */
const DROP_WARNING_MS = 60_000;

const kResponse = Symbol('drain.response');
const kQuiet = Symbol('drain.quiet');

interface TrackedSocket extends Socket {
  [kResponse]?: ServerResponse;
  [kQuiet]?: { read: number; written: number; since: number };
}

export interface DrainOptions {
  /** `HTTP_MAX_CONNECTIONS`: connections past this many are dropped as they arrive. */
  maxConnections: number;
  /** Called for each connection dropped by the cap. */
  onDrop?: () => void;
  log: FastifyBaseLogger;
  /** Clock in milliseconds. */
  now?: () => number;
  quietMs?: number;
}

/**
 * What a graceful stop does to the listening server. Node's own `server.close()` closes every idle
 * keep-alive connection at once, including those a client is sending its next request on that very
 * moment, which the client sees as a reset; this stops accepting without that, tells each client
 * through its next answer, and closes a connection only once it has stayed quiet for `QUIET_MS`.
 */
export class ServerDrain {
  phase: DrainPhase = 'serving';
  readonly #server: Server;
  readonly #sockets = new Set<TrackedSocket>();
  readonly #now: () => number;
  readonly #quietMs: number;
  #drained: Promise<void> | null = null;

  constructor(server: Server, options: DrainOptions) {
    this.#server = server;
    this.#now = options.now ?? Date.now;
    this.#quietMs = options.quietMs ?? QUIET_MS;
    server.maxConnections = options.maxConnections;
    let dropped = 0;
    let warnedAt = -Infinity;
    server.on('drop', () => {
      dropped += 1;
      options.onDrop?.();
      if (this.#now() - warnedAt < DROP_WARNING_MS) return;
      warnedAt = this.#now();
      options.log.warn({ maxConnections: options.maxConnections, dropped }, 'HTTP_MAX_CONNECTIONS reached: new connections are closed as they arrive');
      dropped = 0;
    });
    // Over TLS, requests arrive on the TLS socket, which exists once the handshake is done.
    server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: TrackedSocket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    // First in line, so the header is set before any route can answer.
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      (request.socket as TrackedSocket)[kResponse] = response;
      if (this.phase !== 'serving' && this.phase !== 'stopping') response.setHeader('connection', 'close');
    });
  }

  /** True from the first signal on: `/readyz` then says so and the load balancer stops routing here. */
  get stopping(): boolean {
    return this.phase !== 'serving';
  }

  /** True once the app's own close has begun: a request that arrives then is refused. */
  get refusing(): boolean {
    return this.phase === 'closed';
  }

  announce(): void {
    if (this.phase === 'serving') this.phase = 'stopping';
  }

  /**
   * Stops accepting connections, makes answers still to come close their connection, and closes
   * connections as they fall quiet. Resolves once every connection has closed.
   */
  drain(): Promise<void> {
    if (this.#drained !== null) return this.#drained;
    if (this.phase !== 'closed') this.phase = 'draining';
    for (const socket of this.#sockets) {
      const response = socket[kResponse];
      if (response !== undefined && !response.headersSent) response.setHeader('connection', 'close');
    }
    this.#drained = new Promise<void>((resolve) => {
      const sweep = setInterval(() => this.#sweep(), SWEEP_MS);
      sweep.unref();
      // The net server's close, not the HTTP server's: that one would close idle connections at once.
      NetServer.prototype.close.call(this.#server, () => {
        clearInterval(sweep);
        resolve();
      });
      this.#sweep();
    });
    return this.#drained;
  }

  /** The app's close has begun (Fastify's preClose). */
  closed(): void {
    this.phase = 'closed';
  }

  /** The answer to a request that arrives once the app is closing. */
  refusal(): ProblemError {
    return new ProblemError({
      code: 'shutting_down',
      detail: 'This instance is shutting down; retry, and another instance will answer.',
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      headers: { connection: 'close' },
    });
  }

  #sweep(): void {
    const now = this.#now();
    for (const socket of this.#sockets) {
      const response = socket[kResponse];
      if (response !== undefined && !response.writableFinished) {
        socket[kQuiet] = undefined;
        continue;
      }
      const quiet = socket[kQuiet];
      if (quiet === undefined || quiet.read !== socket.bytesRead || quiet.written !== socket.bytesWritten) {
        socket[kQuiet] = { read: socket.bytesRead, written: socket.bytesWritten, since: now };
      } else if (now - quiet.since >= this.#quietMs) {
        socket.destroy();
      }
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** How this app's server stops: see `ServerDrain`. */
    drain: ServerDrain;
  }
}

/** Puts a `ServerDrain` on the app's server, as `app.drain`, with the connection cap. */
export function installDrain(app: FastifyInstance, options: Omit<DrainOptions, 'log'>): ServerDrain {
  const drain = new ServerDrain(app.server, { ...options, log: app.log });
  app.decorate('drain', drain);
  app.addHook('preClose', (done) => {
    drain.closed();
    done();
  });
  return drain;
}
