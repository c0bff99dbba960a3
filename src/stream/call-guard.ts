/**
 * What stands between the service and Stream's API: a bulkhead (at most
 * `STREAM_API_MAX_CONCURRENCY` calls at once, a short wait for a slot) and a
 * circuit breaker (after consecutive timeouts, 5xx, 429s or calls slower
 * than `slowCallMs`, calls fail at once until a trial call, run apart from
 * any request, succeeds). Every `StreamUserSync` call, whether for
 * a token, a revocation or a webhook, goes through the one guard of the app.
 *
 * A refused call throws `StreamUnavailableError` with `refusedBy` set, so
 * callers apply the same rules as for a Stream outage (`STREAM_SYNC_FAILURE`,
 * 503 with `Retry-After`, a webhook retried later).
 */

import type { Logger } from '../identity/types.js';
import { CircuitBreaker, type BreakerPermit, type BreakerResult, type BreakerState, type CircuitBreakerOptions } from './breaker.js';
import { Bulkhead, BulkheadTimeoutError } from './bulkhead.js';
import { StreamRejectedError, StreamUnavailableError, type StreamOperation } from './sync-errors.js';

export const DEFAULT_MAX_CONCURRENCY = 64;
export const DEFAULT_QUEUE_TIMEOUT_MS = 250;
export const DEFAULT_SLOW_CALL_MS = 1000;

export interface StreamCallGuardOptions {
  /** `STREAM_API_MAX_CONCURRENCY`. Default 64. */
  maxConcurrency?: number;
  /** `STREAM_API_QUEUE_TIMEOUT_MS`. Default 250. */
  queueTimeoutMs?: number;
  /** Threshold, trial-call intervals and clock of the breaker; `onStateChange` is the guard's own. */
  breaker?: Omit<CircuitBreakerOptions, 'onStateChange'>;
  /** A call still under way after this long counts as a fault at once, so a slow Stream trips the breaker in about this time rather than the SDK's timeout. Default 1000. */
  slowCallMs?: number;
  logger?: Logger;
}

/** The guard as metrics read it. */
export interface StreamCallGuardStatus {
  inFlight: number;
  queued: number;
  breaker: BreakerState;
}

/** How an error thrown by a Stream call counts for the breaker: only Stream's own faults trip it. */
export function breakerResultOf(error: unknown): BreakerResult {
  if (error instanceof StreamUnavailableError) return error.refusedBy === null ? 'failure' : 'ignored';
  // Stream answered, and refused this call: it is up.
  if (error instanceof StreamRejectedError) return 'success';
  return 'ignored';
}

export class StreamCallGuard {
  readonly bulkhead: Bulkhead;
  readonly breaker: CircuitBreaker;
  readonly #logger: Logger | undefined;
  readonly #slowCallMs: number;
  #wasOpen = false;

  constructor(options: StreamCallGuardOptions = {}) {
    this.#logger = options.logger;
    this.bulkhead = new Bulkhead({
      maxConcurrency: options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
      queueTimeoutMs: options.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS,
    });
    this.breaker = new CircuitBreaker({ ...options.breaker, onStateChange: (state, detail) => this.#logChange(state, detail) });
    this.#slowCallMs = options.slowCallMs ?? DEFAULT_SLOW_CALL_MS;
  }

  status(): StreamCallGuardStatus {
    return { inFlight: this.bulkhead.inFlight, queued: this.bulkhead.queued, breaker: this.breaker.state };
  }

  /**
   * Runs one Stream call. `task` throws what `classifyStreamError` makes of a
   * failure; `breakerResultOf` decides how that counts.
   *
   * @throws StreamUnavailableError with `refusedBy` when Stream was not called
   */
  async run<T>(operation: StreamOperation, task: () => Promise<T>): Promise<T> {
    // Checked before queueing, so an open breaker answers without waiting for a slot.
    if (!this.breaker.isCallable()) throw this.#refusedByBreaker(operation);
    if (this.breaker.state !== 'closed') {
      // A trial is due. It runs on its own and the caller is answered as while open: no request
      // waits on a dependency that has just been failing.
      const permit = this.breaker.admit();
      if (permit !== null) void this.bulkhead.run(() => this.#call(permit, task)).catch(() => undefined);
      throw this.#refusedByBreaker(operation);
    }
    try {
      return await this.bulkhead.run(async () => {
        // And again with the slot: the breaker may have opened while this call waited.
        const permit = this.breaker.admit();
        if (permit === null) throw this.#refusedByBreaker(operation);
        return this.#call(permit, task);
      });
    } catch (error) {
      if (error instanceof BulkheadTimeoutError) {
        throw new StreamUnavailableError(operation, `too many Stream calls under way: no free slot within ${error.queueTimeoutMs} ms`, {
          status: null,
          retryAfterSeconds: 1,
          refusedBy: 'queue_timeout',
        });
      }
      throw error;
    }
  }

  /** One permitted call; a call still under way after `slowCallMs` is counted as a fault then, and only then. */
  async #call<T>(permit: BreakerPermit, task: () => Promise<T>): Promise<T> {
    let slow = false;
    const timer = permit.probe
      ? null
      : setTimeout(() => {
          slow = true;
          this.breaker.record(permit, 'failure');
        }, this.#slowCallMs);
    timer?.unref();
    try {
      const result = await task();
      this.breaker.record(permit, slow ? 'ignored' : 'success');
      return result;
    } catch (error) {
      this.breaker.record(permit, slow ? 'ignored' : breakerResultOf(error));
      throw error;
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
  }

  #refusedByBreaker(operation: StreamOperation): StreamUnavailableError {
    return new StreamUnavailableError(operation, 'Stream is not called after repeated failures, until a trial call succeeds', {
      status: null,
      retryAfterSeconds: Math.max(1, Math.ceil(this.breaker.retryAfterMs() / 1000)),
      refusedBy: 'breaker_open',
    });
  }

  /** One line when the breaker opens and one when it closes; trial calls in between are not logged. */
  #logChange(state: BreakerState, detail: { failures: number; openMs: number }): void {
    if (state === 'open' && !this.#wasOpen) {
      this.#wasOpen = true;
      this.#logger?.warn(
        { breaker: 'open', consecutiveFailures: detail.failures, retryInMs: detail.openMs },
        'Stream breaker open: calls to Stream fail at once until a trial call succeeds',
      );
    } else if (state === 'closed' && this.#wasOpen) {
      this.#wasOpen = false;
      this.#logger?.info({ breaker: 'closed' }, 'Stream breaker closed: a trial call succeeded, calls to Stream resume');
    }
  }
}
