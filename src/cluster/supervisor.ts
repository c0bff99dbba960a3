import cluster from 'node:cluster';

export interface ClusterOptions {
  workers: number;
  /** The workers' `SHUTDOWN_DELAY_SECONDS` and `SHUTDOWN_GRACE_SECONDS`: how long their stop may take. */
  delaySeconds: number;
  graceSeconds: number;
  log: (message: string) => void;
}

const RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that exits sooner than this after it was started counts towards the restart back-off. */
const QUICK_EXIT_MS = 10_000;
/** How much longer than the workers' own delay and grace the supervisor waits for them before killing them. */
const STOP_MARGIN_SECONDS = 5;

/**
 * `WEB_CONCURRENCY` > 1: this process becomes a supervisor that forks one
 * worker per slot, restarts a worker that dies unexpectedly (after 1 s,
 * doubling up to 30 s while workers keep dying within 10 s of starting), and
 * on SIGTERM or SIGINT sends each worker SIGTERM and exits once every worker
 * has drained (1 if one did not stop cleanly, or was still running delay +
 * grace + 5 s later and was killed). A second signal is passed on too, so the
 * workers exit at once.
 * In-process state (memory rate limits, sync cache) is per worker: set
 * REDIS_URL so workers share it. Metrics are gathered from every worker at
 * each scrape (`serveClusterMetrics`).
 */
export function superviseWorkers(options: ClusterOptions): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const restarts = new Set<NodeJS.Timeout>();
    const startedAt = new Map<number, number>();
    let quickExits = 0;
    // Structured clone rather than JSON over IPC: metric values NaN and ±Infinity arrive as they are.
    cluster.setupPrimary({ serialization: 'advanced' });
    const fork = () => {
      const worker = cluster.fork({ [SUPERVISED_WORKER_ENV]: '1' });
      startedAt.set(worker.id, Date.now());
    };
    for (let i = 0; i < options.workers; i += 1) fork();
    // A worker that has exited can stay listed in cluster.workers until its IPC channel closes too, so
    // "all stopped" is read from each worker's own state, not from the list being empty.
    const allExited = () => Object.values(cluster.workers ?? {}).every((worker) => worker === undefined || worker.isDead());
    let stopFailed = false;
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) {
        if (code !== 0) stopFailed = true;
        if (allExited()) resolve(stopFailed ? 1 : 0);
        return;
      }
      // A worker that keeps dying soon after it starts (a port taken, a broken deployment) is restarted
      // ever more slowly instead of once a second forever; one that ran a while starts the count over.
      const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
      startedAt.delete(worker.id);
      quickExits = lived < QUICK_EXIT_MS ? quickExits + 1 : 0;
      const delayMs = Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** Math.max(0, quickExits - 1));
      options.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another in ${delayMs / 1000} s`);
      // Not unref'd: with every worker gone, this timer is what keeps the supervisor alive to fork again.
      const restart = setTimeout(() => {
        restarts.delete(restart);
        fork();
      }, delayMs);
      restarts.add(restart);
    });
    const running = () => Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined && !worker.isDead());
    // Workers take SIGTERM only (see `serve`): a terminal's Ctrl-C reaches them as well as this process,
    // and would otherwise count twice.
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        options.log(`${signal} again: stopping the workers at once`);
        for (const worker of running()) worker?.process.kill('SIGTERM');
        return;
      }
      stopping = true;
      for (const restart of restarts) clearTimeout(restart);
      options.log(`${signal}: stopping ${options.workers} workers`);
      for (const worker of running()) worker?.process.kill('SIGTERM');
      setTimeout(
        () => {
          const left = running();
          options.log(
            `${left.length} workers still running ${options.delaySeconds + options.graceSeconds + STOP_MARGIN_SECONDS} s after the signal: killing them`,
          );
          for (const worker of left) worker?.process.kill('SIGKILL');
          resolve(1);
        },
        (options.delaySeconds + options.graceSeconds + STOP_MARGIN_SECONDS) * 1000,
      ).unref();
      // Every worker may already be gone (between a crash and its replacement): no exit event would come.
      if (allExited()) resolve(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

export const isClusterPrimary = (): boolean => cluster.isPrimary;

/** Set in the environment of the workers `superviseWorkers` forks. */
const SUPERVISED_WORKER_ENV = 'STREAM_TOKEN_SERVICE_SUPERVISED_WORKER';

/** True in a worker forked by `superviseWorkers`, whose primary gathers metrics; false under another cluster supervisor. */
export const isSupervisedWorker = (): boolean => cluster.isWorker && process.env[SUPERVISED_WORKER_ENV] === '1';
