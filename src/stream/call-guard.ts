/**
 * What stands between the service and Stream's API: a bulkhead (at most
 * `STREAM_API_MAX_CONCURRENCY` calls at once, a short wait for a slot) and a
 * circuit breaker (after consecutive timeouts, 5xx or 429s, calls fail at
 * once until a trial call succeeds). Every `StreamUserSync` call, whether for
 * a token, a revocation or a webhook, goes through the one guard of the app.
 *
 * A refused call throws `StreamUnavailableError` with `refusedBy` set, so
 * callers apply the same rules as for a Stream outage (`STREAM_SYNC_FAILURE`,
 * 503 with `Retry-After`, a webhook retried later).
 */

import type { Logger } from '../identity/types.js';
import { CircuitBreaker, type BreakerResult, type BreakerState, type CircuitBreakerOptions } from './breaker.js';
import { Bulkhead, BulkheadTimeoutError } from './bulkhead.js';
import { StreamRejectedError, StreamUnavailableError, type StreamOperation } from './sync-errors.js';

export const DEFAULT_MAX_CONCURRENCY = 64;
export const DEFAULT_QUEUE_TIMEOUT_MS = 250;

export interface StreamCallGuardOptions {
  /** `STREAM_API_MAX_CONCURRENCY`. Default 64. */
  maxConcurrency?: number;
  /** `STREAM_API_QUEUE_TIMEOUT_MS`. Default 250. */
  queueTimeoutMs?: number;
  /** Threshold, trial-call intervals and clock of the breaker; `onStateChange` is the guard's own. */
  breaker?: Omit<CircuitBreakerOptions, 'onStateChange'>;
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
  #wasOpen = false;

  constructor(options: StreamCallGuardOptions = {}) {
    this.#logger = options.logger;
    this.bulkhead = new Bulkhead({
      maxConcurrency: options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
      queueTimeoutMs: options.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS,
    });
    this.breaker = new CircuitBreaker({ ...options.breaker, onStateChange: (state, detail) => this.#logChange(state, detail) });
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
    try {
      return await this.bulkhead.run(async () => {
        // And again with the slot: the breaker may have opened while this call waited.
        const permit = this.breaker.admit();
        if (permit === null) throw this.#refusedByBreaker(operation);
        let result: T;
        try {
          result = await task();
        } catch (error) {
          this.breaker.record(permit, breakerResultOf(error));
          throw error;
        }
        this.breaker.record(permit, 'success');
        return result;
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
