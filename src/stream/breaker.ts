/**
 * A circuit breaker. Closed, calls go through and consecutive faults are
 * counted; at `failureThreshold` it opens and refuses every call at once for
 * `openMs`. The first call after that is the one trial call (half-open):
 * success closes the breaker, a fault opens it again for twice as long, up
 * to `maxOpenMs`. Only the caller decides what a fault is.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

/** How a call ended, for the breaker: a fault of the dependency, a sign it works, or neither. */
export type BreakerResult = 'success' | 'failure' | 'ignored';

export interface CircuitBreakerOptions {
  /** Consecutive faults that open the breaker. Default 5. */
  failureThreshold?: number;
  /** First wait before a trial call, in milliseconds. Default 1000. */
  openMs?: number;
  /** Longest wait between trial calls; each failed trial doubles the wait up to this. Default 30000. */
  maxOpenMs?: number;
  now?: () => number;
  /** Called on every change of state. */
  onStateChange?: (state: BreakerState, detail: { failures: number; openMs: number }) => void;
}

/** A call let through; hand it back to `record`. */
export interface BreakerPermit {
  /** This call is the trial call of a half-open breaker. */
  readonly probe: boolean;
}

const CALL: BreakerPermit = Object.freeze({ probe: false });
const PROBE: BreakerPermit = Object.freeze({ probe: true });

export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly baseOpenMs: number;
  readonly maxOpenMs: number;
  readonly #now: () => number;
  readonly #onStateChange: CircuitBreakerOptions['onStateChange'];
  #state: BreakerState = 'closed';
  #failures = 0;
  #openMs: number;
  #openUntil = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.baseOpenMs = options.openMs ?? 1000;
    this.maxOpenMs = Math.max(options.maxOpenMs ?? 30_000, this.baseOpenMs);
    if (!Number.isInteger(this.failureThreshold) || this.failureThreshold < 1) throw new RangeError('failureThreshold must be a whole number of at least 1');
    if (!Number.isFinite(this.baseOpenMs) || this.baseOpenMs <= 0) throw new RangeError('openMs must be more than 0');
    this.#now = options.now ?? Date.now;
    this.#onStateChange = options.onStateChange;
    this.#openMs = this.baseOpenMs;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Milliseconds until a call may be tried again: 0 when closed or when a trial is due. */
  retryAfterMs(): number {
    if (this.#state === 'closed') return 0;
    if (this.#state === 'half_open') return this.baseOpenMs;
    return Math.max(0, this.#openUntil - this.#now());
  }

  /** Whether `admit` would let a call through now, without taking the trial call. */
  isCallable(): boolean {
    if (this.#state === 'closed') return true;
    return this.#state === 'open' && this.#now() >= this.#openUntil;
  }

  /** A permit for one call, or null when the breaker refuses it. */
  admit(): BreakerPermit | null {
    if (this.#state === 'closed') return CALL;
    if (this.#state === 'half_open' || this.#now() < this.#openUntil) return null;
    this.#change('half_open');
    return PROBE;
  }

  /**
   * The end of a permitted call. While open, calls let through before it
   * opened no longer count: only the trial call decides.
   */
  record(permit: BreakerPermit, result: BreakerResult): void {
    if (permit.probe) {
      if (this.#state !== 'half_open') return;
      if (result === 'success') {
        this.#failures = 0;
        this.#openMs = this.baseOpenMs;
        this.#change('closed');
      } else if (result === 'failure') {
        this.#openMs = Math.min(this.#openMs * 2, this.maxOpenMs);
        this.#open();
      } else {
        // The trial told nothing (it never reached the dependency): the next call tries again.
        this.#openUntil = this.#now();
        this.#change('open');
      }
      return;
    }
    if (this.#state !== 'closed' || result === 'ignored') return;
    if (result === 'success') {
      this.#failures = 0;
      return;
    }
    this.#failures += 1;
    if (this.#failures >= this.failureThreshold) {
      this.#openMs = this.baseOpenMs;
      this.#open();
    }
  }

  #open(): void {
    this.#openUntil = this.#now() + this.#openMs;
    this.#change('open');
  }

  #change(state: BreakerState): void {
    this.#state = state;
    this.#onStateChange?.(state, { failures: this.#failures, openMs: this.#openMs });
  }
}
