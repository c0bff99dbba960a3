import { DocumentFetchError, fetchJsonDocument, parseKeyUrl } from './fetch-json.js';
import { issuerNearMiss, quoteIssuer } from './issuer-names.js';
import { isLocalHostname } from './local-address.js';
import { isRecord } from '../shared/is-record.js';

/**
 * `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery 1.0
 * §4.1: a terminating `/` of the issuer is removed before appending). Throws
 * a plain `Error` unless the result is https: or a loopback http: URL.
 */
export function discoveryUrl(issuer: string): URL {
  const base = issuer.endsWith('/') ? issuer.slice(0, -1) : issuer;
  return parseKeyUrl(`${base}/.well-known/openid-configuration`, `The OIDC discovery URL for issuer ${issuer}`);
}

export interface DiscoverJwksUriOptions {
  issuer: string;
  fetch: typeof fetch;
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Reads the issuer's discovery document and returns its `jwks_uri`. The
 * document's `issuer` must equal the configured issuer exactly (§4.3), so a
 * document served for another issuer can never supply keys for this one.
 * Every failure is a {@link DocumentFetchError}.
 */
export async function discoverJwksUri(options: DiscoverJwksUriOptions): Promise<URL> {
  const url = discoveryUrl(options.issuer);
  const document = await fetchJsonDocument(url, {
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (!isRecord(document)) throw new DocumentFetchError('discovery document is not a JSON object', 'invalid_document', { url });
  const record = document;
  if (record['issuer'] !== options.issuer) throw issuerMismatch(record['issuer'], options.issuer, url);
  const jwksUri = record['jwks_uri'];
  if (typeof jwksUri !== 'string') {
    throw new DocumentFetchError('discovery document has no jwks_uri', 'invalid_document', { url });
  }
  let jwks: URL;
  try {
    jwks = parseKeyUrl(jwksUri, 'The discovered jwks_uri');
  } catch (error) {
    throw new DocumentFetchError((error as Error).message, 'jwks_uri_refused', { url });
  }
  // A remote issuer's document must not turn the service towards its own host's ports.
  if (isLocalHostname(jwks.hostname) && !isLocalHostname(new URL(options.issuer).hostname)) {
    throw new DocumentFetchError(
      'discovery document points jwks_uri at a loopback, link-local or unspecified address, but the issuer is not on one',
      'jwks_uri_refused',
      { url },
    );
  }
  return jwks;
}

/**
 * Both values of a discovery mismatch, and how they differ when it is only a trailing slash or
 * letter case: the usual cause is the configured issuer written slightly differently.
 */
function issuerMismatch(named: unknown, configured: string, url: URL): DocumentFetchError {
  const shown = typeof named === 'string' ? `a different issuer, ${quoteIssuer(named)}` : 'no issuer';
  const near = typeof named === 'string' ? issuerNearMiss(named, configured) : null;
  const text = `the discovery document names ${shown}, not the configured ${quoteIssuer(configured)}${
    near !== null ? ` (they differ only by ${near}: configure the issuer exactly as the document names it)` : ''
  }`;
  return new DocumentFetchError(text, 'issuer_mismatch', { url, publicText: text });
}
