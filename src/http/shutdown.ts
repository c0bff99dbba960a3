import type { FastifyInstance } from 'fastify';

export interface ShutdownOptions {
  /** `SHUTDOWN_DELAY_SECONDS`: how long to keep serving, not ready, before the drain begins. */
  delaySeconds: number;
  /** `SHUTDOWN_GRACE_SECONDS`: how long the drain may take. */
  graceSeconds: number;
  /** Ends the process; injectable for tests. */
  exit?: (code: number) => void;
  signals?: NodeJS.Signals[];
  /** Signals to receive and ignore rather than die of (see `serve`). */
  ignoredSignals?: NodeJS.Signals[];
}

/** What the shutdown sequence does to the service, in order. */
export interface ShutdownSteps {
  /** Readiness fails; the service goes on serving. */
  announce(): void;
  /** Stops accepting connections; resolves once every connection has closed. */
  drain(): Promise<void>;
  /** Everything else the service holds (key refresh timers, Redis, the metrics listener). */
  close(): Promise<unknown>;
}

export interface ShutdownLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ShutdownTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Timers that do not keep the process alive by themselves. */
const processTimers: ShutdownTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * The signal handler: on the first signal readiness fails at once while the service goes on serving
 * for `delaySeconds`, so a load balancer that polls readiness, or is told the endpoint is going,
 * stops sending traffic before anything is refused. Then the drain: no new connections, in-flight
 * requests finish within `graceSeconds`, everything is closed and the process exits 0. A second
 * signal, the grace period running out, or an error while closing exits at once with 1.
 */
export function shutdownSequence(
  steps: ShutdownSteps,
  options: { delaySeconds: number; graceSeconds: number; exit: (code: number) => void; log: ShutdownLog; timers?: ShutdownTimers },
): (signal: NodeJS.Signals) => void {
  const timers = options.timers ?? processTimers;
  const { log } = options;
  let signalled = false;
  let exited = false;
  const pending = new Set<unknown>();
  const after = (seconds: number, callback: () => void) => pending.add(timers.setTimeout(callback, seconds * 1000));
  const exit = (code: number) => {
    if (exited) return;
    exited = true;
    for (const timer of pending) timers.clearTimeout(timer);
    options.exit(code);
  };
  const drain = () => {
    if (exited) return;
    log.info({ graceSeconds: options.graceSeconds }, 'shutting down: draining in-flight requests');
    after(options.graceSeconds, () => {
      log.error({ graceSeconds: options.graceSeconds }, 'grace period over: exiting with requests still open');
      exit(1);
    });
    steps
      .drain()
      .then(() => steps.close())
      .then(
        () => {
          if (exited) return;
          log.info({}, 'shut down cleanly');
          exit(0);
        },
        (err: unknown) => {
          log.error({ err }, 'error while shutting down');
          exit(1);
        },
      );
  };
  return (signal) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      exit(1);
      return;
    }
    signalled = true;
    steps.announce();
    if (options.delaySeconds === 0) {
      log.info({ signal }, 'shutting down');
      drain();
      return;
    }
    log.info({ signal, delaySeconds: options.delaySeconds }, 'shutting down: not ready any more, still serving until the load balancer stops routing here');
    after(options.delaySeconds, drain);
  };
}

/** Installs `shutdownSequence` on the process's signals for an app built by `buildApp` and listening. */
export function installShutdown(app: FastifyInstance, options: ShutdownOptions): void {
  const onSignal = shutdownSequence(
    { announce: () => app.drain.announce(), drain: () => app.drain.drain(), close: () => app.close() },
    { delaySeconds: options.delaySeconds, graceSeconds: options.graceSeconds, exit: options.exit ?? ((code: number) => process.exit(code)), log: app.log },
  );
  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) process.on(signal, onSignal);
  for (const signal of options.ignoredSignals ?? []) process.on(signal, () => undefined);
}
