import { fetchJsonDocument, parseKeyUrl } from './fetch-json.js';
import { importJwks } from './jwk-import.js';
import type { KeyIndex } from './key-index.js';
import { discoverJwksUri, discoveryUrl } from './oidc-discovery.js';
import type { IssuerOptions } from './types.js';

export interface JwksSourceOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  /** Aborts a fetch in flight when the key set closes. */
  signal: AbortSignal;
  /** Response size cap for the JWKS and discovery documents. */
  maxBytes?: number;
}

/**
 * Where one issuer's remote keys are, its configured `jwksUri` or the one
 * OIDC discovery names, and fetching and importing them. When does not
 * concern it: the key set decides that.
 */
export class JwksSource {
  readonly #issuer: IssuerOptions;
  readonly #configured: URL | null;
  readonly #options: JwksSourceOptions;
  #discovered: URL | null = null;

  /**
   * The issuer's remote key source, or null when it has only static keys.
   * Throws now for a `jwksUri` or OIDC issuer that is not https (loopback aside).
   */
  static of(issuer: IssuerOptions, options: JwksSourceOptions): JwksSource | null {
    if (issuer.jwksUri !== undefined) {
      return new JwksSource(issuer, parseKeyUrl(issuer.jwksUri, `The jwksUri of issuer ${issuer.issuer}`), options);
    }
    if (issuer.kind !== 'oidc') return null;
    discoveryUrl(issuer.issuer);
    return new JwksSource(issuer, null, options);
  }

  private constructor(issuer: IssuerOptions, configured: URL | null, options: JwksSourceOptions) {
    this.#issuer = issuer;
    this.#configured = configured;
    this.#options = options;
  }

  /** The keys the JWKS lists usable with the issuer's algorithms; throws `DocumentFetchError` (or worse). */
  async fetchKeys(): Promise<{ index: KeyIndex; skipped: number }> {
    const url = await this.#jwksUrl();
    let document: unknown;
    try {
      document = await fetchJsonDocument(url, {
        fetch: this.#options.fetch,
        timeoutMs: this.#options.timeoutMs,
        signal: this.#options.signal,
        ...(this.#options.maxBytes !== undefined ? { maxBytes: this.#options.maxBytes } : {}),
      });
    } catch (error) {
      // The provider may have moved its keys: discover again next time.
      this.#discovered = null;
      throw error;
    }
    return importJwks(document, this.#issuer.algorithms);
  }

  async #jwksUrl(): Promise<URL> {
    if (this.#configured !== null) return this.#configured;
    this.#discovered ??= await discoverJwksUri({
      issuer: this.#issuer.issuer,
      fetch: this.#options.fetch,
      timeoutMs: this.#options.timeoutMs,
      signal: this.#options.signal,
    });
    return this.#discovered;
  }
}
