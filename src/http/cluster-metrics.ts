import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * Under `WEB_CONCURRENCY`, every worker counts its own requests, and a scrape
 * of `/metrics` lands on whichever worker the connection reached: its counters
 * would jump back and forth between scrapes. Instead the worker that answers
 * asks the primary, which gathers every worker's registry through prom-client's
 * `AggregatorRegistry` (counters and histograms summed, gauges as each declares)
 * and hands the text back.
 */

const REQUEST = 'stream-token-service:metrics-request';
const RESPONSE = 'stream-token-service:metrics-response';

/** How long a worker waits for the primary; prom-client gives up on a silent worker after 5 s. */
export const CLUSTER_METRICS_TIMEOUT_MS = 8000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}

interface MetricsResponse {
  type: typeof RESPONSE;
  id: number;
  text?: string;
  error?: string;
}

function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

let primaryListening = false;

/** In the primary: answers workers' requests for the metrics of all workers. Idempotent. */
export function serveClusterMetrics(): void {
  if (primaryListening) return;
  primaryListening = true;
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isMessage<MetricsRequest>(message, REQUEST)) return;
    const reply = (answer: Omit<MetricsResponse, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: RESPONSE, id: message.id, ...answer } satisfies MetricsResponse);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/**
 * In a worker, as early as possible: from now on the primary's requests for
 * this worker's metrics are answered (with nothing until
 * {@link clusterMetricsText} names the registry), so a worker that is still
 * starting never holds up a scrape.
 */
export function joinClusterMetrics(): void {
  AggregatorRegistry.setRegistries([]);
  // The constructor installs prom-client's listener for the primary's requests.
  void new AggregatorRegistry();
}

/**
 * In a worker: reports `registry` to the primary and returns what `/metrics`
 * serves, the exposition of every worker together. Rejects when the primary
 * does not answer in time or could not gather every worker.
 */
export function clusterMetricsText(registry: Registry, timeoutMs = CLUSTER_METRICS_TIMEOUT_MS): () => Promise<string> {
  joinClusterMetrics();
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage<MetricsResponse>(message, RESPONSE)) return;
    const request = pending.get(message.id);
    if (request === undefined) return;
    pending.delete(message.id);
    clearTimeout(request.timer);
    if (typeof message.text === 'string') request.resolve(message.text);
    else request.reject(new Error(message.error ?? 'no metrics in the answer'));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      if (typeof process.send !== 'function' || !process.connected) {
        reject(new Error('not connected to the cluster primary'));
        return;
      }
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the cluster primary did not answer in time'));
      }, timeoutMs);
      timer.unref();
      pending.set(id, { resolve, reject, timer });
      process.send({ type: REQUEST, id } satisfies MetricsRequest);
    });
}
