import { StreamTokenError } from './errors.js';

/** The part of a `fetch` response the client reads. The global `Response` fits. */
export interface FetchResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** What the client passes to `fetch`. */
export interface FetchInitLike {
  method: 'POST';
  headers: Record<string, string>;
  signal?: AbortSignal;
}

/** A `fetch` implementation; the global `fetch` of browsers, React Native and Node.js fits. */
export type FetchLike = (url: string, init: FetchInitLike) => Promise<FetchResponseLike>;

/** A Stream Chat user token and what the service said about it. */
export interface StreamTokenResult {
  /** The Stream user token, for `chatClient.connectUser(user, token)`. */
  token: string;
  /** The user the token is for (the verified subject of the session token). */
  userId: string;
  /** The Stream API key, for `new StreamChat(apiKey)`. */
  apiKey: string;
  /** When the token expires. */
  expiresAt: Date;
}

export interface FetchStreamTokenOptions {
  /** The service's base URL (`https://chat-auth.example.com`) or the full `.../stream/token` URL. */
  endpoint: string;
  /** The identity provider's session token (for Clerk, `await getToken()`). */
  authToken: string | null | undefined;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** Aborts the request; the call then throws a `StreamTokenError` with code `aborted`. */
  signal?: AbortSignal;
}

const TOKEN_PATH = '/stream/token';

/**
 * `https://host` and `https://host/` become `https://host/stream/token`; a URL
 * that already ends in `/stream/token` is used as it is. Plain string work, so
 * it runs where `URL` is incomplete (React Native).
 */
export function resolveTokenEndpoint(endpoint: string): string {
  if (typeof endpoint !== 'string' || endpoint.trim() === '') {
    throw new TypeError('endpoint must be the token service URL, e.g. https://chat-auth.example.com');
  }
  const trimmed = endpoint.trim();
  const split = trimmed.search(/[?#]/);
  const path = (split === -1 ? trimmed : trimmed.slice(0, split)).replace(/\/+$/, '');
  const rest = split === -1 ? '' : trimmed.slice(split);
  return path.endsWith(TOKEN_PATH) ? `${path}${rest}` : `${path}${TOKEN_PATH}${rest}`;
}

/** `Retry-After` as milliseconds from `nowMs`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function defaultFetch(): FetchLike {
  // Called as a plain function: browsers refuse `fetch` invoked on another receiver.
  return (url, init) => globalThis.fetch(url, init);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export interface RequestOnceOptions {
  url: string;
  authToken: string;
  fetch: FetchLike;
  /** The caller's signal: aborting it gives `aborted`. */
  signal?: AbortSignal;
  /** Gives up after this long with `network_error`. */
  timeoutMs?: number;
  now: () => number;
}

/** One request to the service, every failure turned into a `StreamTokenError`. */
export async function requestOnce(options: RequestOnceOptions): Promise<StreamTokenResult> {
  const { signal, timeoutMs } = options;
  if (signal?.aborted) {
    throw new StreamTokenError({ code: 'aborted', message: 'The Stream token request was aborted.', cause: signal.reason });
  }
  const controller = (signal !== undefined || timeoutMs !== undefined) && typeof AbortController === 'function' ? new AbortController() : undefined;
  let timedOut = false;
  const onAbort = (): void => controller?.abort();
  signal?.addEventListener('abort', onAbort);
  const timer =
    controller !== undefined && timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, timeoutMs)
      : undefined;
  const failure = (error: unknown): StreamTokenError => {
    if (signal?.aborted) return new StreamTokenError({ code: 'aborted', message: 'The Stream token request was aborted.', cause: error });
    if (timedOut) return new StreamTokenError({ code: 'network_error', message: `The token service did not answer within ${timeoutMs} ms.`, cause: error });
    const reason = error instanceof Error ? `: ${error.message}` : '';
    return new StreamTokenError({ code: 'network_error', message: `The token service could not be reached${reason}`, cause: error });
  };

  let status: number;
  let body: string;
  let headers: FetchResponseLike['headers'];
  try {
    const init: FetchInitLike = {
      method: 'POST',
      headers: { authorization: `Bearer ${options.authToken}`, accept: 'application/json, application/problem+json' },
      ...(controller !== undefined ? { signal: controller.signal } : {}),
    };
    const response = await options.fetch(options.url, init);
    status = response.status;
    headers = response.headers;
    body = await response.text();
  } catch (error) {
    throw failure(error);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }

  let json: unknown;
  try {
    json = body === '' ? undefined : JSON.parse(body);
  } catch {
    json = undefined;
  }
  const headerRequestId = nonEmptyString(headers.get('x-request-id'));

  if (status >= 200 && status < 300) {
    const result = isRecord(json) ? toResult(json, options.now()) : undefined;
    if (result === undefined) {
      throw new StreamTokenError({
        code: 'invalid_response',
        status,
        message: `The token service answered ${status} without a token response; is the endpoint the token service?`,
        ...(headerRequestId !== undefined ? { requestId: headerRequestId } : {}),
      });
    }
    return result;
  }

  const retryAfterMs = parseRetryAfter(headers.get('retry-after'), options.now());
  const problem = isRecord(json) && typeof json.code === 'string' ? json : undefined;
  const requestId = nonEmptyString(problem?.request_id) ?? headerRequestId;
  const title = nonEmptyString(problem?.title);
  const detail = nonEmptyString(problem?.detail);
  const code = problem !== undefined ? (problem.code as string) : 'http_error';
  const explanation = detail ?? title ?? 'no problem details';
  throw new StreamTokenError({
    code,
    status,
    message: `The token service refused the request (${status} ${code}): ${explanation}`,
    ...(requestId !== undefined ? { requestId } : {}),
    ...(title !== undefined ? { title } : {}),
    ...(detail !== undefined ? { detail } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

function toResult(body: Record<string, unknown>, nowMs: number): StreamTokenResult | undefined {
  const token = nonEmptyString(body.token);
  const userId = nonEmptyString(body.user_id);
  const apiKey = nonEmptyString(body.api_key);
  if (token === undefined || userId === undefined || apiKey === undefined) return undefined;
  let expiresAt = typeof body.expires_at === 'string' ? new Date(body.expires_at) : undefined;
  if (expiresAt === undefined || Number.isNaN(expiresAt.getTime())) {
    if (typeof body.expires_in !== 'number' || !Number.isFinite(body.expires_in)) return undefined;
    expiresAt = new Date(nowMs + body.expires_in * 1000);
  }
  return { token, userId, apiKey, expiresAt };
}

/**
 * Exchanges a session token for a Stream token once, without retries, for apps
 * that want the details (`userId`, `apiKey`, `expiresAt`). Throws a
 * `StreamTokenError`: `missing_token` without a request when `authToken` is
 * empty, the service's problem `code` and `status` when it refuses.
 */
export async function fetchStreamToken(options: FetchStreamTokenOptions): Promise<StreamTokenResult> {
  const url = resolveTokenEndpoint(options.endpoint);
  if (typeof options.authToken !== 'string' || options.authToken === '') {
    throw new StreamTokenError({ code: 'missing_token', message: 'No session token: sign the user in before asking for a Stream token.' });
  }
  return requestOnce({
    url,
    authToken: options.authToken,
    fetch: options.fetch ?? defaultFetch(),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    now: () => Date.now(),
  });
}

export { defaultFetch };
