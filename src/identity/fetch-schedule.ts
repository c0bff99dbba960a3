/** Retry timers never fire more often than this, whatever the configuration. */
const MIN_TIMER_MS = 1000;
/** First retry delay after a failed fetch; each further failure doubles it, up to the cooldown. */
const FIRST_RETRY_MS = 1000;
/** Longest retry delay while no keys are loaded: an issuer that was down at start is used within seconds of its return. */
export const MAX_RETRY_WITHOUT_KEYS_MS = 2000;

/** Delay before the next fetch after `failures` failed fetches in a row (1 or more). */
export function retryDelayMs(failures: number, cooldownMs: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.min(failures - 1, 30), cooldownMs);
}

export interface FetchScheduleOptions {
  /** Least time between the start of a successful fetch and the next fetch. */
  cooldownMs: number;
  /** Background refresh interval after a successful fetch. */
  ttlMs: number;
  /** Clock, milliseconds. */
  now: () => number;
  /** Called by the timer when a fetch is due and allowed. */
  onDue: () => void;
}

/**
 * When a key set may fetch and when it should. After a success, the next
 * fetch waits for the cooldown (which caps how often unknown `kid`s can make
 * it fetch) and the background refresh comes after the TTL. After a failure,
 * both wait a backoff that starts at one second and doubles up to the
 * cooldown, so an issuer that comes back is noticed within seconds.
 */
export class FetchSchedule {
  private readonly options: FetchScheduleOptions;
  /** Clock time before which no fetch starts; null until the first fetch ends. */
  private nextAllowedAt: number | null = null;
  /** Clock time at which the background refresh is due. */
  private nextRefreshAt: number | null = null;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: FetchScheduleOptions) {
    this.options = options;
  }

  mayStart(now: number): boolean {
    return this.nextAllowedAt === null || now >= this.nextAllowedAt;
  }

  /** The background refresh is due (and allowed). */
  refreshDue(now: number): boolean {
    return this.nextRefreshAt !== null && now >= this.nextRefreshAt && this.mayStart(now);
  }

  succeeded(startedAt: number): void {
    this.failures = 0;
    this.nextAllowedAt = startedAt + this.options.cooldownMs;
    this.arm(this.options.ttlMs);
  }

  /**
   * Records a failed fetch; returns the delay (ms) before the next attempt. Without keys the service
   * answers nothing for this issuer, so it retries often; with keys, the backoff spares the issuer.
   */
  failed(hasKeys = true): number {
    this.failures += 1;
    const cap = hasKeys ? this.options.cooldownMs : Math.min(this.options.cooldownMs, MAX_RETRY_WITHOUT_KEYS_MS);
    const delay = retryDelayMs(this.failures, cap);
    this.nextAllowedAt = this.options.now() + delay;
    this.arm(delay);
    return delay;
  }

  close(): void {
    this.closed = true;
    this.clearTimer();
  }

  private arm(delayMs: number): void {
    this.nextRefreshAt = this.options.now() + delayMs;
    this.setTimer(delayMs);
  }

  private setTimer(delayMs: number): void {
    this.clearTimer();
    if (this.closed) return;
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(MIN_TIMER_MS, delayMs), 2 ** 31 - 1));
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private fire(): void {
    this.timer = null;
    if (this.closed) return;
    const now = this.options.now();
    if (this.refreshDue(now)) {
      this.options.onDue();
      return;
    }
    // Timers and the clock can disagree by a little (or a lot, with a test clock): wait for the rest.
    const dueAt = Math.max(this.nextRefreshAt ?? now, this.nextAllowedAt ?? now);
    this.setTimer(dueAt - now);
  }
}

/** Resolves true when `promise` settles within `ms`, false otherwise (at once for 0). */
export function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
