/**
 * HTTP plumbing shared by the local stand-ins for third-party APIs
 * (`clerk-standin.ts`, `stream-standin.ts`): reading a request, fault
 * injection, listening and closing. What each API answers stays in its stand-in.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Fault injection for a stand-in's HTTP requests. */
export interface InjectedFailure {
  /** Status to answer with; 0 destroys the socket without an answer. Omit to answer normally (after `delayMs`). */
  status?: number;
  /** Wait this long before answering (or dropping). */
  delayMs?: number;
  /** Response body; defaults to what the real service (or the edge in front of it) sends for that status. */
  body?: unknown;
  /** How many requests to affect; unlimited when omitted. The stand-in sets `failure` back to null when used up. */
  times?: number;
  /** `Retry-After` header for 429 answers (default `1`). */
  retryAfter?: number | string;
  /** Only requests whose path starts with this string (or matches this pattern), e.g. `/.well-known/jwks.json`. */
  path?: string | RegExp;
  /** Only requests with this method. */
  method?: string;
}

/** An injected failure that replaces the normal answer. */
export type InjectedAnswer<F extends InjectedFailure> = F & { status: number };

/** What every stand-in records about a request, whatever its protocol. */
export interface RecordedRequest {
  method: string;
  /** Request path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON body, the raw text when it is not JSON, `undefined` when empty. */
  body: unknown;
  /** Why the stand-in refused the call (auth failure, bad input, injected fault). Absent when the call succeeded. */
  rejectedReason?: string;
  /** HTTP status answered; 0 when the connection was dropped on purpose. */
  status: number;
  headers: Record<string, string>;
  at: number;
}

/** A request as a stand-in sees it, body read and parsed. */
export interface StandInRequest {
  url: URL;
  /** Upper-case method. */
  method: string;
  path: string;
  /** Parsed JSON body, the raw text when it is not JSON, `undefined` when empty. */
  body: unknown;
  /** False when a non-empty body is not JSON. */
  bodyIsJson: boolean;
  /** Request headers, repeated ones joined with `, `. */
  headers: Record<string, string>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(raw: string): { body: unknown; bodyIsJson: boolean } {
  if (raw === '') return { body: undefined, bodyIsJson: true };
  try {
    return { body: JSON.parse(raw), bodyIsJson: true };
  } catch {
    return { body: raw, bodyIsJson: false };
  }
}

function requestHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Reads the whole request: URL, method, path, body (JSON or text) and headers. */
export async function readRequest(req: IncomingMessage): Promise<StandInRequest> {
  const url = new URL(req.url ?? '/', 'http://stand-in');
  const method = (req.method ?? 'GET').toUpperCase();
  const { body, bodyIsJson } = parseBody(await readBody(req));
  return { url, method, path: url.pathname, body, bodyIsJson, headers: requestHeaders(req) };
}

/** Whether `failure` targets a request with this (upper-case) method and path. */
export function failureApplies(failure: InjectedFailure, method: string, path: string): boolean {
  if (failure.method && failure.method.toUpperCase() !== method) return false;
  if (failure.path instanceof RegExp) return failure.path.test(path);
  if (typeof failure.path === 'string') return path.startsWith(failure.path);
  return true;
}

/**
 * Applies the failure in `state` to a request, if it targets it: uses up one of
 * its `times` (clearing `state.failure` when spent) and waits its `delayMs`.
 * Returns the failure when it replaces the answer (it has a `status`), or
 * `undefined` when the request is to be answered normally.
 */
export async function takeFailure<F extends InjectedFailure>(
  state: { failure: F | null },
  method: string,
  path: string,
): Promise<InjectedAnswer<F> | undefined> {
  const failure = state.failure;
  if (!failure || !failureApplies(failure, method, path)) return undefined;
  if (failure.times !== undefined) {
    failure.times -= 1;
    if (failure.times <= 0 && state.failure === failure) state.failure = null;
  }
  if (failure.delayMs) await sleep(failure.delayMs);
  return failure.status !== undefined ? (failure as InjectedAnswer<F>) : undefined;
}

/** `rejectedReason` of a call answered by an injected failure. */
export function injectedFailureReason(status: number): string {
  return status === 0 ? 'injected failure: connection dropped' : `injected failure: HTTP ${status}`;
}

/** Listens on `host:port` (port 0: a free one) and returns the base URL, `http://host:port`. */
export async function listen(server: Server, host: string, port = 0): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

/** Drops every open connection (keep-alive ones included) and stops the server. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
