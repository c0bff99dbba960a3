import { isIP } from 'node:net';
import { decodeUtf8Strict } from './base64url.js';

/** Largest JWKS or discovery document read, in bytes. Real ones are a few KiB. */
const MAX_DOCUMENT_BYTES = 256 * 1024;

/** What kind of failure a {@link DocumentFetchError} is, as shown to anyone who can read /readyz. */
export type DocumentFailure = 'unreachable' | 'invalid_document' | 'issuer_mismatch' | 'jwks_uri_refused';

/** Public wording of each failure: no addresses, ports, error codes or statuses an outsider could probe with. */
export const DOCUMENT_FAILURE_TEXT: Readonly<Record<DocumentFailure, string>> = {
  unreachable: 'the issuer could not be reached',
  invalid_document: 'the issuer answered with no usable document',
  issuer_mismatch: 'the discovery document names a different issuer',
  jwks_uri_refused: 'the discovery document names a jwks_uri that is not allowed',
};

export interface DocumentFetchErrorDetails {
  /** The document that was fetched. */
  url?: URL;
  /** Public wording when the class's fixed words say less than is safe to show (an issuer mismatch names both issuers). */
  publicText?: string;
}

/**
 * A failed document fetch. The message is safe to log: it names what went
 * wrong, never the response body or key material. `failure` is the coarse
 * class shown publicly.
 */
export class DocumentFetchError extends Error {
  override readonly name = 'DocumentFetchError';
  readonly failure: DocumentFailure;
  readonly url: URL | undefined;
  readonly publicText: string;

  constructor(message: string, failure: DocumentFailure = 'invalid_document', details: DocumentFetchErrorDetails = {}) {
    super(message);
    this.failure = failure;
    this.url = details.url;
    this.publicText = details.publicText ?? DOCUMENT_FAILURE_TEXT[failure];
  }

  /**
   * For operators' logs: the class, the document fetched and what went wrong, e.g.
   * `unreachable (GET https://example.com/.well-known/jwks.json): request failed (ENOTFOUND)`.
   * The URL is shown without query or credentials.
   */
  describe(): string {
    const where = this.url !== undefined ? ` (GET ${this.url.origin}${this.url.pathname})` : '';
    return `${this.failure}${where}: ${this.message}`;
  }
}

/** Whether a hostname (a URL's, or `HOST`: IPv6 with or without brackets) is a loopback address. */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Parses `value` and requires `https:`, or `http:` on a loopback host
 * (127.0.0.0/8, ::1, localhost). Throws a plain `Error` naming `what`
 * otherwise, meant to fail configuration at startup.
 */
export function parseKeyUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what} is not a valid URL.`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHostname(url.hostname)) return url;
  if (url.protocol === 'http:') {
    throw new Error(`${what} must use https: (plain http: is allowed only for loopback hosts such as 127.0.0.1 or localhost).`);
  }
  throw new Error(`${what} must be an https: URL.`);
}

export interface FetchJsonOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  maxBytes?: number;
  /** Aborts the request early (e.g. on shutdown), in addition to the timeout. */
  signal?: AbortSignal;
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof DocumentFetchError) return error.message;
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError') return `request timed out after ${timeoutMs} ms`;
  if (name === 'AbortError') return 'request aborted';
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  if (cause && typeof cause.code === 'string') return `request failed (${cause.code})`;
  return 'request failed';
}

async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = response.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new DocumentFetchError(`response larger than ${maxBytes} bytes`);
  }
  const body = response.body;
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new DocumentFetchError(`response larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/**
 * GETs a JSON document: no redirects, a timeout covering headers and body,
 * a size cap, a 2xx status, and valid UTF-8 JSON. Every failure is a
 * {@link DocumentFetchError} with a loggable message.
 */
export async function fetchJsonDocument(url: URL, options: FetchJsonOptions): Promise<unknown> {
  const maxBytes = options.maxBytes ?? MAX_DOCUMENT_BYTES;
  // A timer of our own rather than AbortSignal.any([…, AbortSignal.timeout()]): on Node 20 the composed
  // timeout signal can be garbage-collected before it fires, and a hung fetch then never ends.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('timed out', 'TimeoutError')), options.timeoutMs);
  const onAbort = (): void => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const response = await options.fetch(url, {
      method: 'GET',
      redirect: 'error',
      headers: { accept: 'application/json' },
      signal: controller.signal,
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new DocumentFetchError(`unexpected HTTP status ${response.status}`);
    }
    const bytes = await readCapped(response, maxBytes);
    try {
      return JSON.parse(decodeUtf8Strict(bytes));
    } catch {
      throw new DocumentFetchError('response is not valid JSON');
    }
  } catch (error) {
    throw new DocumentFetchError(describeFailure(error, options.timeoutMs), error instanceof DocumentFetchError ? error.failure : 'unreachable', { url });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
