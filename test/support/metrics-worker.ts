/**
 * A process that plays a WEB_CONCURRENCY worker's metrics side over a real IPC
 * channel: it counts FIXTURE_REQUESTS requests, answers the parent's
 * collection requests through `clusterMetricsText`, and on `fixture:scrape`
 * runs that many scrapes at once and reports what they returned.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { clusterMetricsText } from '../../src/cluster/metrics.js';

const registry = new Registry();
new Counter({ name: 'fixture_requests_total', help: 'Requests this worker answered.', registers: [registry] }).inc(Number(process.env.FIXTURE_REQUESTS ?? '1'));
const gauge = new Gauge({ name: 'fixture_ratio', help: 'Values JSON cannot carry.', labelNames: ['value'] as const, registers: [registry] });
gauge.set({ value: 'nan' }, Number.NaN);
gauge.set({ value: 'negative_infinity' }, Number.NEGATIVE_INFINITY);
const { render: scrape } = clusterMetricsText(registry, Number(process.env.FIXTURE_SCRAPE_TIMEOUT_MS ?? '5000'));

process.on('message', (message: { type?: string; count?: number }) => {
  if (message.type !== 'fixture:scrape') return;
  void Promise.allSettled(Array.from({ length: message.count ?? 1 }, () => scrape())).then((results) =>
    process.send?.({
      type: 'fixture:scraped',
      results: results.map((r) => (r.status === 'fulfilled' ? { text: r.value } : { error: (r.reason as Error).message })),
    }),
  );
});
process.send?.({ type: 'fixture:ready' });
