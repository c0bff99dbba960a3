import { Agent, request, type IncomingHttpHeaders } from 'node:http';

/** One request as a client saw it: an answer, or the error that took its place. */
export interface Attempt {
  label: string;
  /** `performance.now()` when the request was sent and when its answer (or error) came. */
  startedAt: number;
  endedAt: number;
  status: number | null;
  headers: IncomingHttpHeaders;
  body: string;
  /** The error code (`ECONNRESET`, `ECONNREFUSED`, …) when no answer came. */
  error: string | null;
  /** Whether the request went out on a connection that had already carried one. */
  reusedConnection: boolean;
}

export interface RequestSpec {
  method?: string;
  path: string;
  headers?: Record<string, string>;
}

/** Sends one request through `agent` (a new connection each time when `agent` is false). */
export function attempt(base: string, spec: RequestSpec, agent: Agent | false, label: string): Promise<Attempt> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const req = request(`${base}${spec.path}`, { method: spec.method ?? 'GET', headers: spec.headers ?? {}, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({
          label,
          startedAt,
          endedAt: performance.now(),
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          error: null,
          reusedConnection: req.reusedSocket,
        }),
      );
      res.on('error', (err: NodeJS.ErrnoException) =>
        resolve({
          label,
          startedAt,
          endedAt: performance.now(),
          status: null,
          headers: {},
          body,
          error: err.code ?? err.message,
          reusedConnection: req.reusedSocket,
        }),
      );
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({
        label,
        startedAt,
        endedAt: performance.now(),
        status: null,
        headers: {},
        body: '',
        error: err.code ?? err.message,
        reusedConnection: req.reusedSocket,
      }),
    );
    req.end();
  });
}

/**
 * `clients` keep-alive connections, each sending `spec` in a loop, one request at a time, as a load
 * balancer's pooled connections do. A client stops once an answer says `Connection: close` (it would
 * reconnect elsewhere), on any error, or when `stop()` is called.
 */
export function keepAliveLoad(base: string, clients: number, spec: (client: number) => RequestSpec) {
  const attempts: Attempt[] = [];
  let stopped = false;
  const agents = Array.from({ length: clients }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const loops = agents.map(async (agent, client) => {
    while (!stopped) {
      const result = await attempt(base, spec(client), agent, `keep-alive ${client}`);
      attempts.push(result);
      if (result.error !== null || result.headers.connection === 'close') return;
    }
  });
  return {
    attempts,
    /** Resolves when every client has stopped by itself. */
    finished: Promise.all(loops),
    stop(): void {
      stopped = true;
      for (const agent of agents) agent.destroy();
    },
  };
}

/** Sends `spec` on a new connection every `everyMs` until `stop()`; what a load balancer's new connections and probes do. */
export function newConnectionProbe(base: string, spec: RequestSpec, everyMs: number, label: string) {
  const attempts: Attempt[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      attempts.push(await attempt(base, spec, false, label));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    attempts,
    async stop(): Promise<void> {
      stopped = true;
      await loop;
    },
  };
}
