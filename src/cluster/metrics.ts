import cluster, { type Worker } from 'node:cluster';
import { performance } from 'node:perf_hooks';
import { AggregatorRegistry, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/**
 * Under `WEB_CONCURRENCY`, every worker counts its own requests, and a scrape
 * of `/metrics` lands on whichever worker the connection reached. The worker
 * that takes the scrape asks the primary, which collects every listening
 * worker's registry and hands back one exposition in which each worker's
 * series carry a `worker` label.
 *
 * Series stay per worker rather than summed: a restarted worker starts new
 * series under a new id instead of making a summed counter drop, which
 * Prometheus would read as a reset and turn into a burst in `rate()`. Queries
 * aggregate with `sum by (…)` or `max by (…)` as docs/alerts.yml does.
 */

/** What `/metrics` serves, and how to let go of what serving it holds when the app closes. */
export interface MetricsExposition {
  render(): Promise<string>;
  close?(): void;
}

const SCRAPE_REQUEST = 'stream-token-service:scrape-request';
const SCRAPE_RESPONSE = 'stream-token-service:scrape-response';
const COLLECT_REQUEST = 'stream-token-service:collect-request';
const COLLECT_RESPONSE = 'stream-token-service:collect-response';

/** How long the primary waits for each worker's metrics before serving the ones it has. */
export const COLLECT_TIMEOUT_MS = 2000;
/** How long a worker waits for the primary's answer (the collection plus IPC). */
export const SCRAPE_TIMEOUT_MS = 5000;
/** A collection this recent is served again instead of asking every worker anew. */
export const COLLECTION_REUSE_MS = 1000;

const WORKERS_METRIC = 'stream_token_service_cluster_workers';

interface ScrapeRequest {
  type: typeof SCRAPE_REQUEST;
  id: number;
}
interface ScrapeResponse {
  type: typeof SCRAPE_RESPONSE;
  id: number;
  text?: string;
  error?: string;
}
interface CollectRequest {
  type: typeof COLLECT_REQUEST;
  id: number;
}
interface CollectResponse {
  type: typeof COLLECT_RESPONSE;
  id: number;
  metrics?: MetricJson[];
  error?: string;
}

function isMessage<T extends { type: string; id: number }>(message: unknown, type: T['type']): message is T {
  return (
    typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type && Number.isSafeInteger((message as { id?: unknown }).id)
  );
}

/** `run`, with calls made while one is under way sharing its result instead of starting another. */
function shareWhileRunning<T>(run: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () => {
    running ??= run().finally(() => {
      running = null;
    });
    return running;
  };
}

/** What the primary needs of a worker: `node:cluster`'s `Worker` fits. */
export interface MetricsWorker {
  readonly id: number;
  send(message: CollectRequest | ScrapeResponse, callback: (error: Error | null) => void): boolean;
}

export interface ClusterMetricsCollectorOptions {
  collectTimeoutMs?: number;
  reuseMs?: number;
  /** Monotonic clock in milliseconds (a wall clock stepped back would keep serving an old collection). */
  now?: () => number;
}

/**
 * The primary's side: asks every listening worker for its metrics, waits at
 * most `collectTimeoutMs`, and renders one exposition. Concurrent scrapes
 * share one collection, and a collection younger than `reuseMs` is served
 * again, so a flood of `/metrics` requests costs the workers at most one
 * collection a second.
 */
export class ClusterMetricsCollector {
  readonly #workers = new Map<number, MetricsWorker>();
  readonly #ownMetrics = new CollectionMetrics();
  readonly #collectTimeoutMs: number;
  readonly #reuseMs: number;
  readonly #now: () => number;
  readonly #collectShared = shareWhileRunning(() => this.#collectOnce());
  #last: { text: string; at: number } | null = null;
  #nextId = 0;
  /** The collection under way: its id, and where a worker's answer (or its leaving, null) goes. */
  #current: { id: number; settle: (workerId: number, answer: CollectResponse | null) => void } | null = null;

  constructor(options: ClusterMetricsCollectorOptions = {}) {
    this.#collectTimeoutMs = options.collectTimeoutMs ?? COLLECT_TIMEOUT_MS;
    this.#reuseMs = options.reuseMs ?? COLLECTION_REUSE_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** A worker that listens: from now on it is asked at each collection. */
  addWorker(worker: MetricsWorker): void {
    this.#workers.set(worker.id, worker);
  }

  /** A worker that exited or disconnected: no longer asked, nor waited for. */
  removeWorker(id: number): void {
    this.#workers.delete(id);
    this.#current?.settle(id, null);
  }

  /** A worker's answer to a collection request; answers to an earlier collection are dropped. */
  receive(workerId: number, message: unknown): void {
    if (!isMessage<CollectResponse>(message, COLLECT_RESPONSE) || message.id !== this.#current?.id) return;
    this.#current.settle(workerId, message);
  }

  /** The exposition of every worker that answers in time. */
  collect(): Promise<string> {
    if (this.#last !== null && this.#now() - this.#last.at < this.#reuseMs) return Promise.resolve(this.#last.text);
    return this.#collectShared();
  }

  async #collectOnce(): Promise<string> {
    const id = this.#nextId++;
    const workers = [...this.#workers.values()];
    const awaiting = new Set(this.#workers.keys());
    // Per worker: its answer, null when it left during the collection, absent when it stayed silent.
    const answers = await new Promise<Map<number, CollectResponse | null>>((resolve) => {
      const answers = new Map<number, CollectResponse | null>();
      const timer = setTimeout(() => resolve(answers), this.#collectTimeoutMs);
      const settle = (workerId: number, answer: CollectResponse | null) => {
        if (!awaiting.delete(workerId)) return;
        answers.set(workerId, answer);
        if (awaiting.size === 0) {
          clearTimeout(timer);
          resolve(answers);
        }
      };
      this.#current = { id, settle };
      if (workers.length === 0) {
        clearTimeout(timer);
        resolve(answers);
      }
      for (const worker of workers) {
        worker.send({ type: COLLECT_REQUEST, id }, (error) => {
          // The channel closed under us: the worker is on its way out.
          if (error !== null) settle(worker.id, null);
        });
      }
    });
    this.#current = null;
    const collected: MetricJson[][] = [];
    let silent = 0;
    for (const worker of workers) {
      const answer = answers.get(worker.id);
      if (answer === undefined) {
        // Asked and never answered in time (a blocked event loop, say).
        silent += 1;
        continue;
      }
      if (answer === null) continue; // gone: its series end with it
      if (answer.metrics === undefined) {
        silent += 1; // answered that it could not collect
        continue;
      }
      collected.push(labelWithWorker(answer.metrics, worker.id));
    }
    collected.push(await this.#ownMetrics.json(collected.length, silent));
    const text = await AggregatorRegistry.aggregate(collected).metrics();
    this.#last = { text, at: this.#now() };
    return text;
  }
}

/**
 * Every series of one worker, labelled with its id; `first` keeps each as it
 * is (no two share labels). A `worker` label of the metric's own becomes
 * `exported_worker`, as Prometheus renames a clashing target label.
 */
function labelWithWorker(metrics: MetricJson[], workerId: number): MetricJson[] {
  const worker = String(workerId);
  return metrics.map((metric) => ({
    ...metric,
    aggregator: 'first',
    values: metric.values.map((value) => {
      const { worker: own, ...labels } = value.labels as Record<string, string | number>;
      return { ...value, labels: own === undefined ? { ...labels, worker } : { ...labels, exported_worker: own, worker } };
    }),
  }));
}

/** The primary's own registry: how many workers this scrape holds. */
class CollectionMetrics {
  readonly registry = new Registry();
  readonly #workers = new Gauge({
    name: WORKERS_METRIC,
    help: 'Workers in this scrape: reporting, or silent (did not answer in time or could not collect; their series are missing from it).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  async json(reporting: number, silent: number): Promise<MetricJson[]> {
    this.#workers.set({ state: 'reporting' }, reporting);
    this.#workers.set({ state: 'silent' }, silent);
    return this.registry.getMetricsAsJSON();
  }
}

let primaryListening = false;

/** In the primary, before forking: answers workers' scrape requests with every worker's metrics. Idempotent. */
export function serveClusterMetrics(log: (message: string) => void, options: ClusterMetricsCollectorOptions = {}): void {
  if (primaryListening) return;
  primaryListening = true;
  const collector = new ClusterMetricsCollector(options);
  // A send to a worker that just died fails with EPIPE as an 'error' event: left unhandled, it would end the primary.
  cluster.on('fork', (worker: Worker) => worker.on('error', (err: Error) => log(`worker ${worker.process.pid}: ${err.message}`)));
  // Only listening workers are asked: one still starting would hold every scrape up.
  cluster.on('listening', (worker: Worker) => collector.addWorker(worker));
  cluster.on('disconnect', (worker: Worker) => collector.removeWorker(worker.id));
  cluster.on('exit', (worker: Worker) => collector.removeWorker(worker.id));
  cluster.on('message', (worker: Worker, message: unknown) => answerWorker(collector, worker, message));
}

/**
 * In the primary, for each message from a worker: a scrape request is answered
 * with the collection (or why it failed); an answer to a collection request
 * goes to the collector.
 */
export function answerWorker(collector: ClusterMetricsCollector, worker: MetricsWorker, message: unknown): void {
  if (!isMessage<ScrapeRequest>(message, SCRAPE_REQUEST)) {
    collector.receive(worker.id, message);
    return;
  }
  // A failed send means the worker is gone; nobody is left to tell.
  const reply = (answer: Omit<ScrapeResponse, 'type' | 'id'>) => worker.send({ type: SCRAPE_RESPONSE, id: message.id, ...answer }, () => {});
  collector.collect().then(
    (text) => reply({ text }),
    (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
  );
}

/** In a worker: the answer to the primary's collection request (null for any other message). */
export function collectionAnswer(registry: Registry, message: unknown): Promise<CollectResponse> | null {
  if (!isMessage<CollectRequest>(message, COLLECT_REQUEST)) return null;
  return registry.getMetricsAsJSON().then(
    (metrics) => ({ type: COLLECT_RESPONSE, id: message.id, metrics }),
    (err: unknown) => ({ type: COLLECT_RESPONSE, id: message.id, error: err instanceof Error ? err.message : String(err) }),
  );
}

/**
 * In a worker, before it listens: answers the primary's collection requests
 * with `registry`, and returns what `/metrics` serves, the exposition of every
 * worker. Scrapes that arrive together share one request to the primary;
 * `render` rejects when the primary does not answer in time.
 */
export function clusterMetricsText(registry: Registry, timeoutMs = SCRAPE_TIMEOUT_MS): MetricsExposition {
  const send = (message: CollectResponse | ScrapeRequest, callback: (error: Error | null) => void) => {
    if (typeof process.send !== 'function' || !process.connected) {
      callback(new Error('not connected to the cluster primary'));
      return;
    }
    process.send(message, undefined, undefined, callback);
  };
  let waiting: { id: number; resolve: (text: string) => void; reject: (err: Error) => void } | null = null;
  let nextId = 0;
  // Requests that queued up while the event loop was blocked are answered once, for the newest: the primary
  // has given up on the others, and each collection resets the event-loop lag histogram.
  let newestCollect: unknown = null;
  const onMessage = (message: unknown) => {
    if (isMessage<CollectRequest>(message, COLLECT_REQUEST)) {
      if (newestCollect === null) {
        setImmediate(() => {
          const request = newestCollect;
          newestCollect = null;
          // A failed send means the primary is gone, and the process with it.
          void collectionAnswer(registry, request)?.then((response) => send(response, () => {}));
        });
      }
      newestCollect = message;
      return;
    }
    if (isMessage<ScrapeResponse>(message, SCRAPE_RESPONSE) && waiting?.id === message.id) {
      if (typeof message.text === 'string') waiting.resolve(message.text);
      else waiting.reject(new Error(message.error ?? 'no metrics in the answer'));
    }
  };
  process.on('message', onMessage);
  const ask = () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const fail = (err: Error) => {
        if (waiting?.id !== id) return;
        waiting = null;
        clearTimeout(timer);
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error('the cluster primary did not answer in time')), timeoutMs);
      timer.unref();
      waiting = {
        id,
        resolve: (text) => {
          waiting = null;
          clearTimeout(timer);
          resolve(text);
        },
        reject: fail,
      };
      send({ type: SCRAPE_REQUEST, id }, (error) => {
        if (error !== null) fail(error);
      });
    });
  return {
    render: shareWhileRunning(ask),
    // The app has closed: its registry is no longer this worker's to report.
    close: () => {
      process.off('message', onMessage);
    },
  };
}
