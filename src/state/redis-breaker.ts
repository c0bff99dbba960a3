/**
 * A circuit breaker shared by everything that talks to the process's Redis
 * client (rate limits, the sync store, webhook claims), so an outage costs
 * requests microseconds instead of a command timeout each.
 *
 *   closed     commands go to Redis; `failureThreshold` failures or timeouts
 *              in a row open the breaker
 *   open       commands fail at once with `SyncStoreUnavailableError`; after
 *              the open interval (1 s, doubling on every failed probe up to
 *              30 s) the next command starts one probe (a PING) in the
 *              background and still fails at once
 *   half_open  the probe is under way; commands still fail at once. Its
 *              success closes the breaker, its failure opens it again
 *
 * A reconnection of the client (`ready`) starts a probe at once, so a Redis
 * that comes back is used again without waiting out a long interval.
 *
 * Commands marked `optional` (cache reads, the second and later command of a
 * request) are also not sent while the last command failed, so one request
 * waits for at most one command timeout before the breaker opens.
 */

import { SyncStoreUnavailableError } from '../stream/sync-errors.js';
import type { RedisClient } from './redis.js';

export type BreakerState = 'closed' | 'open' | 'half_open';
/** Why a command failed: Redis did not answer in time, answered with or raised an error, or was not asked. */
export type RedisFailureKind = 'timeout' | 'error' | 'breaker_open';

/** The gauge values of both breakers' `…_breaker_state`, in order of trouble: 2 means calls are refused. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, half_open: 1, open: 2 };

export interface BreakerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Hooks for metrics, called synchronously. */
export interface BreakerObserver {
  state?(state: BreakerState): void;
  failure?(kind: RedisFailureKind): void;
}

export interface RedisBreakerOptions {
  /** Checks that Redis answers again (a PING); its rejection keeps the breaker open. */
  probe: () => Promise<unknown>;
  /** Failures in a row that open the breaker. Default 3. */
  failureThreshold?: number;
  /** First open interval, ms; doubled after each failed probe. Default 1000. */
  openMs?: number;
  /** Longest open interval, ms. Default 30,000 (or `openMs` when longer). */
  maxOpenMs?: number;
  /** A probe that has not settled after this long counts as failed, ms. Default 2000. */
  probeTimeoutMs?: number;
  /** One line when the breaker opens and one when it closes. */
  logger?: BreakerLogger;
  observer?: BreakerObserver;
  /** Clock, for tests. */
  now?: () => number;
}

export interface RunOptions {
  /** Fail at once, without asking Redis, while the last command failed (see the module comment). */
  optional?: boolean;
}

const TIMEOUT_MESSAGE = 'Command timed out';

export class RedisBreaker {
  readonly #probe: () => Promise<unknown>;
  readonly #threshold: number;
  readonly #baseOpenMs: number;
  readonly #maxOpenMs: number;
  readonly #probeTimeoutMs: number;
  readonly #logger: BreakerLogger | undefined;
  readonly #observer: BreakerObserver;
  readonly #now: () => number;

  #state: BreakerState = 'closed';
  #failures = 0;
  #openMs: number;
  #retryAt = 0;
  #openedAt = 0;
  #probes = 0;

  constructor(options: RedisBreakerOptions) {
    this.#probe = options.probe;
    this.#threshold = options.failureThreshold ?? 3;
    this.#baseOpenMs = options.openMs ?? 1000;
    this.#maxOpenMs = options.maxOpenMs ?? Math.max(30_000, this.#baseOpenMs);
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 2000;
    if (!Number.isInteger(this.#threshold) || this.#threshold < 1) throw new RangeError('failureThreshold must be an integer of at least 1');
    if (!(this.#baseOpenMs > 0) || !(this.#maxOpenMs >= this.#baseOpenMs)) throw new RangeError('openMs must be positive and at most maxOpenMs');
    this.#openMs = this.#baseOpenMs;
    this.#logger = options.logger;
    this.#observer = options.observer ?? {};
    this.#now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Failures in a row while closed. */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** The current open interval, ms: what the next (or current) opening waits before probing. */
  get openIntervalMs(): number {
    return this.#openMs;
  }

  /** Whether a command would be sent to Redis now. */
  allows(options: RunOptions = {}): boolean {
    return this.#state === 'closed' && (options.optional !== true || this.#failures === 0);
  }

  /**
   * Runs one Redis command through the breaker. Rejects with `SyncStoreUnavailableError` when the
   * command is not sent or fails; the original error is its `cause`.
   */
  run<T>(command: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    if (!this.allows(options)) {
      if (this.#state === 'open' && this.#now() >= this.#retryAt) this.probeNow();
      this.#observer.failure?.('breaker_open');
      return Promise.reject(new SyncStoreUnavailableError('Redis is not being asked: the circuit breaker is open'));
    }
    let pending: Promise<T>;
    try {
      pending = command();
    } catch (error) {
      pending = rejected(error);
    }
    return pending.then(
      (value) => {
        if (this.#state === 'closed') this.#failures = 0;
        return value;
      },
      (error: unknown) => {
        this.#failed(error);
        throw new SyncStoreUnavailableError('Redis did not answer', error);
      },
    );
  }

  /** The connection to Redis is gone: no need to wait for commands to fail one by one. */
  connectionLost(): void {
    if (this.#state !== 'closed') return;
    this.#failures = this.#threshold;
    this.#open(new Error('connection to Redis lost'));
  }

  /** The client (re)connected: an open breaker probes now, and failures counted while connecting are forgotten. */
  connected(): void {
    if (this.#state === 'closed') this.#failures = 0;
    else this.probeNow();
  }

  /** Starts a probe now when the breaker is open (the client reconnected, or the open interval ran out). */
  probeNow(): void {
    if (this.#state !== 'open') return;
    this.#setState('half_open');
    this.#probes += 1;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(TIMEOUT_MESSAGE)), this.#probeTimeoutMs);
      timer.unref();
    });
    let probe: Promise<unknown>;
    try {
      probe = this.#probe();
    } catch (error) {
      probe = rejected(error);
    }
    Promise.race([probe, timeout])
      .then(
        () => this.#close(),
        (error: unknown) => {
          this.#observer.failure?.(failureKind(error));
          this.#open(error);
        },
      )
      .finally(() => clearTimeout(timer));
  }

  #failed(error: unknown): void {
    this.#observer.failure?.(failureKind(error));
    // Commands sent before the breaker opened may fail after; they say nothing new.
    if (this.#state !== 'closed') return;
    this.#failures += 1;
    if (this.#failures >= this.#threshold) this.#open(error);
  }

  #open(error: unknown): void {
    const wasClosed = this.#state === 'closed';
    if (wasClosed) {
      this.#openMs = this.#baseOpenMs;
      this.#openedAt = this.#now();
      this.#probes = 0;
    } else {
      this.#openMs = Math.min(this.#openMs * 2, this.#maxOpenMs);
    }
    this.#retryAt = this.#now() + this.#openMs;
    this.#setState('open');
    if (wasClosed) {
      this.#logger?.warn({ failures: this.#failures, kind: failureKind(error), err: error, retryInMs: this.#openMs }, 'redis breaker opened');
    }
  }

  #close(): void {
    if (this.#state === 'closed') return;
    this.#failures = 0;
    this.#openMs = this.#baseOpenMs;
    this.#setState('closed');
    this.#logger?.info({ outageMs: this.#now() - this.#openedAt, probes: this.#probes }, 'redis breaker closed');
  }

  #setState(state: BreakerState): void {
    this.#state = state;
    this.#observer.state?.(state);
  }
}

/** A command that threw instead of returning a promise fails like one that rejected. */
function rejected<T>(error: unknown): Promise<T> {
  return Promise.reject(error instanceof Error ? error : new Error(String(error)));
}

function failureKind(error: unknown): RedisFailureKind {
  return error instanceof Error && error.message === TIMEOUT_MESSAGE ? 'timeout' : 'error';
}

/** The breaker for a client from `createRedisClient`: opens when the connection drops, probes with PING, and at once when the client reconnects. */
export function createRedisBreaker(client: RedisClient, options: Omit<RedisBreakerOptions, 'probe'> = {}): RedisBreaker {
  const breaker = new RedisBreaker({ ...options, probe: () => client.ping() });
  client.on('ready', () => breaker.connected());
  // A lost connection opens it at once: commands would only fail one by one after their timeout.
  client.on('close', () => {
    if (client.status !== 'ready') breaker.connectionLost();
  });
  return breaker;
}
