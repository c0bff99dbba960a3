import { Agent, request } from 'node:http';

export interface LoadRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  /** `http://127.0.0.1:PORT`. */
  target: string;
  ratePerSecond: number;
  durationMs: number;
  /** Keep-alive sockets the generator may open. */
  connections: number;
  /** The i-th request to send. */
  next: (i: number) => LoadRequest;
  /** A request still unanswered after this long counts as a timeout. Default 10 s. */
  timeoutMs?: number;
}

export interface Sample {
  /** When it was sent, ms since the run started. */
  sentAt: number;
  latencyMs: number;
  /** 0 when there was no answer. */
  status: number;
  /** The problem `code`, when the answer was a problem. */
  code: string | null;
  contentType: string | null;
  retryAfter: string | null;
  /** `ECONNRESET`, `ECONNREFUSED`, `timeout`…, when there was no answer. */
  error: string | null;
}

/**
 * Sends requests at a fixed rate (not closed-loop: a slow answer does not
 * slow the sending, as real clients would not wait for each other) over a
 * pool of keep-alive connections, and records every answer.
 */
export async function runLoad(options: LoadOptions): Promise<Sample[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const samples: Sample[] = [];
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 10_000;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.min(Math.floor((elapsed / 1000) * options.ratePerSecond), Math.floor((options.durationMs / 1000) * options.ratePerSecond));
      while (sent < due) {
        const promise = send(agent, options.target, options.next(sent), started, timeoutMs).then((sample) => {
          samples.push(sample);
          pending.delete(promise);
        });
        pending.add(promise);
        sent += 1;
      }
      if (elapsed >= options.durationMs) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  await Promise.all(pending);
  agent.destroy();
  return samples.sort((a, b) => a.sentAt - b.sentAt);
}

export function send(agent: Agent, target: string, spec: LoadRequest, started: number, timeoutMs: number): Promise<Sample> {
  const sentAt = performance.now() - started;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (sample: Omit<Sample, 'sentAt' | 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      resolve({ sentAt, latencyMs: performance.now() - started - sentAt, ...sample });
    };
    const req = request(`${target}${spec.path}`, { method: spec.method ?? 'POST', agent, headers: spec.headers ?? {}, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error: NodeJS.ErrnoException) =>
        finish({ status: 0, code: null, contentType: null, retryAfter: null, error: error.code ?? 'response_error' }),
      );
      res.on('end', () => {
        const contentType = res.headers['content-type'] ?? null;
        let code: string | null = null;
        if (contentType?.startsWith('application/problem+json')) {
          try {
            code = (JSON.parse(Buffer.concat(chunks).toString()) as { code?: string }).code ?? null;
          } catch {
            code = 'unreadable_problem';
          }
        }
        const retryAfter = res.headers['retry-after'];
        finish({ status: res.statusCode ?? 0, code, contentType, retryAfter: typeof retryAfter === 'string' ? retryAfter : null, error: null });
      });
    });
    req.on('timeout', () => {
      finish({ status: 0, code: null, contentType: null, retryAfter: null, error: 'timeout' });
      req.destroy();
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ status: 0, code: null, contentType: null, retryAfter: null, error: error.code ?? error.message }),
    );
    req.end(spec.body);
  });
}
