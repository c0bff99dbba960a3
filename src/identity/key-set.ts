import type { KeyObject } from 'node:crypto';
import { DocumentFetchError, type DocumentFailure } from './fetch-json.js';
import { FetchSchedule, settlesWithin } from './fetch-schedule.js';
import { indexStaticKeys } from './jwk-import.js';
import { JwksSource } from './jwks-source.js';
import { countUsable, findKey, lastLookup, type KeyIndex } from './key-index.js';
import type { AsymmetricAlgorithm, IssuerKeyStatus, IssuerOptions, KeySetTiming, Logger, VerifierObserver } from './types.js';

export interface KeySetOptions {
  issuer: IssuerOptions;
  timing: KeySetTiming;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Milliseconds since the epoch; defaults to `Date.now`. Drives cooldown, refresh and staleness decisions. */
  now?: () => number;
  logger?: Logger;
  observer?: VerifierObserver;
  /** Response size cap for the JWKS and discovery documents. */
  maxDocumentBytes?: number;
}

interface RemoteKeys extends KeyIndex {
  /** Clock time (ms) at which these keys were fetched. */
  fetchedAt: number;
}

/** How long a request waits for a key fetch unless configured. */
export const DEFAULT_FETCH_WAIT_MS = 1000;

const noopLogger: Logger = { info() {}, warn() {}, error() {} };

function validateTiming(timing: KeySetTiming): void {
  const checks: Array<[keyof KeySetTiming, number, boolean]> = [
    ['cacheTtlSeconds', timing.cacheTtlSeconds, timing.cacheTtlSeconds > 0],
    ['cooldownSeconds', timing.cooldownSeconds, timing.cooldownSeconds >= 0],
    ['maxStaleSeconds', timing.maxStaleSeconds, timing.maxStaleSeconds >= 0],
    ['fetchTimeoutMs', timing.fetchTimeoutMs, timing.fetchTimeoutMs > 0],
    ['fetchWaitMs', timing.fetchWaitMs ?? DEFAULT_FETCH_WAIT_MS, (timing.fetchWaitMs ?? DEFAULT_FETCH_WAIT_MS) >= 0],
  ];
  for (const [name, value, ok] of checks) {
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok) {
      throw new Error(
        `Key set timing ${name} must be a finite ${name === 'cacheTtlSeconds' || name === 'fetchTimeoutMs' ? 'positive' : 'non-negative'} number.`,
      );
    }
  }
}

/**
 * The signing keys of one issuer: static keys known at startup and/or a
 * remote JWKS (given, or found by OIDC discovery).
 *
 * Fetch discipline (see `FetchSchedule`, by the injected clock): after a
 * successful fetch, no other starts for `cooldownSeconds`, whatever triggers
 * it: the background refresh, tokens with unknown `kid`s, or lookups while no
 * keys are loaded. After a failed one, the next waits 1 s, doubling with each
 * further failure up to the cooldown. Concurrent lookups share the one fetch
 * in flight, and wait for it at most `fetchWaitMs`. A failed fetch keeps
 * the previous keys, which keep verifying for up to `maxStaleSeconds` after
 * they were fetched (never less than `cacheTtlSeconds`, so `maxStaleSeconds:
 * 0` means "no use past the normal cache lifetime"); then they are dropped.
 */
export class KeySet {
  readonly issuer: string;
  private readonly options: IssuerOptions;
  private readonly timing: KeySetTiming;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly observer: VerifierObserver | undefined;
  /** Where the remote keys come from; null for an issuer with static keys only. */
  private readonly source: JwksSource | null;
  private readonly staticKeys: KeyIndex;
  private readonly abort = new AbortController();

  private remote: RemoteKeys | null = null;
  private readonly schedule: FetchSchedule;
  private readonly fetchWaitMs: number;
  private inFlight: Promise<void> | null = null;
  private startPromise: Promise<void> | null = null;
  private lastError: string | null = null;
  /** The last failure's class and public wording, for /readyz. */
  private lastFailure: { failure: DocumentFailure; text: string } | null = null;
  private closed = false;

  constructor(options: KeySetOptions) {
    const issuer = options.issuer;
    validateTiming(options.timing);
    if (typeof issuer.issuer !== 'string' || issuer.issuer.length === 0) {
      throw new Error('Issuer must be a non-empty string.');
    }
    this.issuer = issuer.issuer;
    this.options = issuer;
    this.timing = options.timing;
    const globalFetch: typeof fetch | undefined = globalThis.fetch;
    const fetchImpl = options.fetch ?? globalFetch;
    if (typeof fetchImpl !== 'function') throw new Error('No fetch implementation is available.');
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? noopLogger;
    this.observer = options.observer;
    this.fetchWaitMs = options.timing.fetchWaitMs ?? DEFAULT_FETCH_WAIT_MS;
    this.schedule = new FetchSchedule({
      cooldownMs: options.timing.cooldownSeconds * 1000,
      ttlMs: options.timing.cacheTtlSeconds * 1000,
      now: this.now,
      onDue: () => void this.refresh(),
    });

    this.source = JwksSource.of(issuer, {
      fetch: fetchImpl,
      timeoutMs: options.timing.fetchTimeoutMs,
      signal: this.abort.signal,
      ...(options.maxDocumentBytes !== undefined ? { maxBytes: options.maxDocumentBytes } : {}),
    });

    this.staticKeys = indexStaticKeys(issuer);
    if (!this.hasRemote && this.staticKeys.entries.length === 0) {
      throw new Error(`Issuer ${issuer.issuer} has neither a jwksUri nor static keys.`);
    }
  }

  /** Loads the remote keys once. Never rejects: a failure is logged, reported and retried. */
  start(): Promise<void> {
    if (this.startPromise === null) {
      this.startPromise = this.hasRemote && !this.closed ? this.refresh() : Promise.resolve();
    }
    return this.startPromise;
  }

  /**
   * Fetches the remote keys now, unless the cooldown since the previous fetch
   * has not passed (then it does nothing) or a fetch is already in flight
   * (then it waits for that one). Never rejects.
   */
  refresh(): Promise<void> {
    if (this.inFlight !== null) return this.inFlight;
    const source = this.source;
    if (source === null || !this.mayStartFetch(this.now())) return Promise.resolve();
    const pending = this.load(source).finally(() => {
      this.inFlight = null;
    });
    this.inFlight = pending;
    return pending;
  }

  /**
   * The key to verify a token signed with `alg` and carrying `kid` (or none).
   * Synchronous when the answer is known; a promise when a fetch is needed
   * first. Fails with `SessionTokenError`: `unknown_key` (no such kid, or no
   * single key for a token without kid), `invalid_signature` (the kid names a
   * key of another type or algorithm), `keys_unavailable` (nothing loaded, or
   * the kid is unknown while the issuer's keys cannot be fetched).
   */
  getKey(kid: string | undefined, alg: AsymmetricAlgorithm): KeyObject | Promise<KeyObject> {
    const now = this.now();
    this.dropExpired(now);
    if (this.inFlight === null && !this.closed && this.hasRemote && this.schedule.refreshDue(now)) void this.refresh();
    if (this.remote === null && this.staticKeys.entries.length === 0) {
      return this.afterRefetch(kid, alg);
    }
    const found = findKey(this.staticKeys, this.remote, kid, alg);
    if (found !== undefined) return found;
    if (this.hasRemote && !(kid === undefined && countUsable([this.staticKeys, this.remote], alg) > 1)) {
      return this.afterRefetch(kid, alg);
    }
    return lastLookup(this.staticKeys, this.remote, kid, alg, false);
  }

  /** Whether keys are loaded and not expired (static keys always count). */
  isReady(): boolean {
    this.dropExpired(this.now());
    return this.staticKeys.entries.length > 0 || this.remote !== null;
  }

  status(): IssuerKeyStatus {
    const now = this.now();
    this.dropExpired(now);
    const remote = this.remote;
    const staticCount = this.staticKeys.entries.length;
    let keyAgeSeconds: number | null = null;
    let stale = false;
    if (remote !== null) {
      const ageMs = Math.max(0, now - remote.fetchedAt);
      keyAgeSeconds = Math.floor(ageMs / 1000);
      stale = this.lastError !== null || ageMs > this.timing.cacheTtlSeconds * 1000;
    } else if (staticCount > 0) {
      keyAgeSeconds = 0;
    }
    const ready = staticCount > 0 || remote !== null;
    return {
      issuer: this.issuer,
      kind: this.options.kind,
      ready,
      keyState: !ready ? 'no_keys' : stale ? 'stale' : 'fresh',
      keyCount: (remote?.entries.length ?? 0) + staticCount,
      keyAgeSeconds,
      stale,
      lastError: this.lastError,
      ...(this.lastFailure !== null ? { lastErrorClass: this.lastFailure.failure, publicError: this.lastFailure.text } : {}),
    };
  }

  /** Stops background refreshes and aborts a fetch in flight. Loaded keys stay usable. */
  close(): void {
    this.closed = true;
    this.schedule.close();
    this.abort.abort();
  }

  private get hasRemote(): boolean {
    return this.source !== null;
  }

  private mayStartFetch(now: number): boolean {
    if (this.closed || !this.hasRemote) return false;
    return this.schedule.mayStart(now);
  }

  /** Age (ms) after which fetched keys are dropped. */
  private get maxKeyAgeMs(): number {
    return Math.max(this.timing.maxStaleSeconds, this.timing.cacheTtlSeconds) * 1000;
  }

  private dropExpired(now: number): void {
    const remote = this.remote;
    if (remote !== null && now - remote.fetchedAt > this.maxKeyAgeMs) {
      this.remote = null;
      this.logger.error(
        { issuer: this.issuer, maxStaleSeconds: this.timing.maxStaleSeconds, lastError: this.lastError },
        'Signing keys expired past the stale limit and were dropped',
      );
    }
  }

  /**
   * Looks again after a fetch, waiting for it at most `fetchWaitMs`: a slow
   * or hung issuer delays no request longer than that, and the fetch goes on
   * for the requests after it.
   */
  private async afterRefetch(kid: string | undefined, alg: AsymmetricAlgorithm): Promise<KeyObject> {
    const fetching = this.refresh();
    const settled = this.inFlight === null || (await settlesWithin(fetching, this.fetchWaitMs));
    this.dropExpired(this.now());
    // Until a fetch has answered, a kid we do not know may be one the issuer has just started using.
    return lastLookup(this.staticKeys, this.remote, kid, alg, !settled || this.lastError !== null);
  }

  private async load(source: JwksSource): Promise<void> {
    const startedAt = this.now();
    try {
      const { index, skipped } = await source.fetchKeys();
      if (this.closed) return;
      this.remote = { ...index, fetchedAt: this.now() };
      this.lastError = null;
      this.lastFailure = null;
      this.schedule.succeeded(startedAt);
      this.logger.info({ issuer: this.issuer, keyCount: index.entries.length, skippedKeys: skipped }, 'Loaded signing keys');
      this.report('success');
    } catch (error) {
      if (this.closed) return;
      const failure = error instanceof DocumentFetchError ? error : new DocumentFetchError('unexpected error while loading keys');
      const reason = failure.describe();
      this.lastError = reason;
      this.lastFailure = { failure: failure.failure, text: failure.publicText };
      const keptKeys = this.remote !== null;
      const retryInMs = this.schedule.failed(keptKeys || this.staticKeys.entries.length > 0);
      this.logger.warn(
        { issuer: this.issuer, reason, keptPreviousKeys: keptKeys, retryInMs },
        keptKeys ? 'Signing key refresh failed; still using the previous keys' : 'Signing key fetch failed; no keys loaded',
      );
      this.report('error', reason);
    }
  }

  private report(outcome: 'success' | 'error', reason?: string): void {
    try {
      if (outcome === 'success') this.observer?.jwksFetch?.(this.issuer, outcome);
      else this.observer?.jwksFetch?.(this.issuer, outcome, reason);
    } catch {
      // An observer must not break key loading.
    }
  }
}
