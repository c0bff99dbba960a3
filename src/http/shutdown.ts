import type { FastifyInstance } from 'fastify';

export interface ShutdownOptions {
  graceSeconds: number;
  /** Ends the process; injectable for tests. */
  exit?: (code: number) => void;
  signals?: NodeJS.Signals[];
}

/**
 * On SIGTERM or SIGINT: stop accepting connections, let in-flight requests
 * finish within the grace period, run every onClose hook (key refresh timers,
 * Redis), then exit 0. A second signal, or the grace period running out,
 * exits at once with 1.
 */
export function installShutdown(app: FastifyInstance, options: ShutdownOptions): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting without waiting');
      exit(1);
      return;
    }
    closing = true;
    app.log.info({ signal, graceSeconds: options.graceSeconds }, 'shutting down: draining in-flight requests');
    // Connections that finish their last request while draining are closed as soon as they go idle.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    sweep.unref();
    const timer = setTimeout(() => {
      app.log.error({ graceSeconds: options.graceSeconds }, 'grace period over: exiting with requests still open');
      exit(1);
    }, options.graceSeconds * 1000);
    timer.unref();
    app.close().then(
      () => {
        clearTimeout(timer);
        clearInterval(sweep);
        app.log.info('shut down cleanly');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        clearInterval(sweep);
        app.log.error({ err: { message: (err as Error).message } }, 'error while shutting down');
        exit(1);
      },
    );
  };
  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) process.on(signal, onSignal);
}
