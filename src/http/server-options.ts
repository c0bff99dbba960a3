import type { ServiceConfig } from '../config/types.js';

/** How often Node looks for requests past their timeout: the timeout holds to within this. */
const TIMEOUT_SWEEP_MS = 1000;
/**
 * How long an idle keep-alive connection stays open (it replaces the connection timeout between
 * requests). Longer than the 60 s idle timeout of common load balancers, so the proxy closes an idle
 * connection first and never sends a request on one this server is closing.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** Fastify's options for the listening server: HTTPS when TLS files are given, and how long a client may take. */
export function serverOptions(http: Pick<ServiceConfig['http'], 'requestTimeoutMs' | 'connectionTimeoutMs'>, tls: TlsFiles | null) {
  // Node holds a request to the longer of its headers and request timeouts, so both get the same value.
  const node = { headersTimeout: http.requestTimeoutMs, connectionsCheckingInterval: TIMEOUT_SWEEP_MS };
  return {
    ...(tls !== null ? { https: { ...node, ...tls } } : { http: node }),
    requestTimeout: http.requestTimeoutMs,
    connectionTimeout: http.connectionTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  };
}
