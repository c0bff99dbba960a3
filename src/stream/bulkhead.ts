/**
 * A cap on concurrent calls: at most `maxConcurrency` tasks run at once; a
 * task that finds every slot taken waits in line for at most
 * `queueTimeoutMs`, then fails with `BulkheadTimeoutError` without running.
 * A slow dependency then costs a bounded number of sockets and a bounded
 * wait, instead of one pending call per request.
 */

export interface BulkheadOptions {
  /** Tasks running at once (≥ 1). */
  maxConcurrency: number;
  /** Longest wait for a slot, in milliseconds; 0 fails at once when every slot is taken. */
  queueTimeoutMs: number;
}

export class BulkheadTimeoutError extends Error {
  override readonly name = 'BulkheadTimeoutError';
  readonly queueTimeoutMs: number;

  constructor(queueTimeoutMs: number) {
    super(`no free slot within ${queueTimeoutMs} ms`);
    this.queueTimeoutMs = queueTimeoutMs;
  }
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | null;
}

export class Bulkhead {
  readonly maxConcurrency: number;
  readonly queueTimeoutMs: number;
  #active = 0;
  /** Insertion-ordered, so the longest waiter gets the next slot; a waiter that times out leaves in O(1). */
  readonly #waiting = new Set<Waiter>();

  constructor(options: BulkheadOptions) {
    if (!Number.isInteger(options.maxConcurrency) || options.maxConcurrency < 1) throw new RangeError('maxConcurrency must be a whole number of at least 1');
    if (!Number.isFinite(options.queueTimeoutMs) || options.queueTimeoutMs < 0) throw new RangeError('queueTimeoutMs must be 0 or more');
    this.maxConcurrency = options.maxConcurrency;
    this.queueTimeoutMs = options.queueTimeoutMs;
  }

  /** Tasks running now. */
  get inFlight(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot now. */
  get queued(): number {
    return this.#waiting.size;
  }

  /** Runs `task` in a slot. @throws BulkheadTimeoutError when no slot came free in time (the task did not run). */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active < this.maxConcurrency) {
      this.#active += 1;
    } else {
      await this.#wait();
    }
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #wait(): Promise<void> {
    if (this.queueTimeoutMs === 0) return Promise.reject(new BulkheadTimeoutError(0));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: null };
      waiter.timer = setTimeout(() => {
        this.#waiting.delete(waiter);
        reject(new BulkheadTimeoutError(this.queueTimeoutMs));
      }, this.queueTimeoutMs);
      this.#waiting.add(waiter);
    });
  }

  /** A freed slot passes straight to the longest waiter, so `#active` never drops below the cap while tasks wait. */
  #release(): void {
    const next = this.#waiting.values().next();
    if (next.done === true) {
      this.#active -= 1;
      return;
    }
    const waiter = next.value;
    this.#waiting.delete(waiter);
    if (waiter.timer !== null) clearTimeout(waiter.timer);
    waiter.resolve();
  }
}
