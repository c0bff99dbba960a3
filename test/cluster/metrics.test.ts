import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { Counter } from 'prom-client';
import { answerWorker, ClusterMetricsCollector, collectionAnswer, type MetricsWorker } from '../../src/cluster/metrics.js';
import { ServiceMetrics } from '../../src/http/metrics.js';
import type { IssuerKeyStatus } from '../../src/identity/types.js';
import { startDevApp } from '../support/harness.js';
import { PROJECT_ROOT, TSX_LOADER } from '../support/process.js';

const ISSUER = 'https://clerk.example.com';

/** The value of the first sample of `name` whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return undefined;
}

function workerMetrics(keyAgeSeconds: number, stale: boolean, requests: number): ServiceMetrics {
  const metrics = new ServiceMetrics({
    issuerStatus: (): IssuerKeyStatus[] => [
      { issuer: ISSUER, kind: 'clerk', ready: true, keyState: stale ? 'stale' : 'fresh', stale, keyCount: 1, keyAgeSeconds, lastError: null },
    ],
  });
  for (let i = 0; i < requests; i += 1) metrics.recordRequest('/stream/token', 'POST', 200, 'ok', 0.002);
  return metrics;
}

type Behaviour = 'answer' | 'silent' | 'send-fails';

/** A worker in this process: answers as a real one does, stays silent, or is unreachable. */
function fakeWorker(collector: ClusterMetricsCollector, id: number, metrics: ServiceMetrics, behaviour: () => Behaviour) {
  const requests: unknown[] = [];
  const worker: MetricsWorker = {
    id,
    send(message, callback) {
      requests.push(message);
      const now = behaviour();
      if (now === 'send-fails') {
        setImmediate(() => callback(new Error('channel closed')));
        return false;
      }
      setImmediate(() => callback(null));
      if (now === 'answer') void collectionAnswer(metrics.registry, message)?.then((answer) => collector.receive(id, answer));
      return true;
    },
  };
  collector.addWorker(worker);
  return { requests, worker };
}

const settlesWithin = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms).unref())]);

describe('cluster metrics: the primary collects every worker', () => {
  test("each worker's series keep their values under a worker label: nothing summed, nothing dropped", async () => {
    const collector = new ClusterMetricsCollector();
    const first = workerMetrics(30, false, 3);
    // A metric with a worker label of its own keeps it, renamed.
    const jobs = new Counter({
      name: 'custom_jobs_total',
      help: 'Jobs by the worker that ran them.',
      labelNames: ['worker'] as const,
      registers: [first.registry],
    });
    jobs.inc({ worker: 'a' }, 1);
    jobs.inc({ worker: 'b' }, 5);
    fakeWorker(collector, 1, first, () => 'answer');
    fakeWorker(collector, 2, workerMetrics(90, true, 4), () => 'answer');
    const text = await collector.collect();
    assert.match(text, /^custom_jobs_total\{exported_worker="a",worker="1"\} 1$/m);
    assert.match(text, /^custom_jobs_total\{exported_worker="b",worker="1"\} 5$/m);
    const ok = { route: '/stream/token', status: '200', code: 'ok' };
    assert.equal(sample(text, 'stream_token_service_http_requests_total', { ...ok, worker: '1' }), 3);
    assert.equal(sample(text, 'stream_token_service_http_requests_total', { ...ok, worker: '2' }), 4);
    assert.equal(sample(text, 'stream_token_service_http_request_duration_seconds_count', { route: '/stream/token', worker: '2' }), 4);
    assert.equal(sample(text, 'stream_token_service_jwks_key_age_seconds', { issuer: ISSUER, worker: '1' }), 30);
    assert.equal(sample(text, 'stream_token_service_jwks_key_age_seconds', { issuer: ISSUER, worker: '2' }), 90);
    assert.equal(sample(text, 'stream_token_service_jwks_keys_stale', { issuer: ISSUER, worker: '1' }), 0);
    assert.equal(sample(text, 'stream_token_service_jwks_keys_stale', { issuer: ISSUER, worker: '2' }), 1);
    // Process metrics that a sum would lose or distort stay per worker.
    for (const worker of ['1', '2']) assert.ok(sample(text, 'stream_token_service_process_start_time_seconds', { worker })! > 0, worker);
    assert.equal(sample(text, 'stream_token_service_cluster_workers', { state: 'reporting' }), 2);
    assert.equal(sample(text, 'stream_token_service_cluster_workers', { state: 'silent' }), 0);
    // One HELP and TYPE per family, as Prometheus requires.
    const typeLines = text.split('\n').filter((line) => line.startsWith('# TYPE '));
    assert.equal(new Set(typeLines).size, typeLines.length);
  });

  test('a worker that does not answer in time is left out and counted silent; its late answer does not count for the next scrape', async () => {
    let now = 0;
    const collector = new ClusterMetricsCollector({ collectTimeoutMs: 100, now: () => now });
    fakeWorker(collector, 1, workerMetrics(0, false, 3), () => 'answer');
    const slow = workerMetrics(0, false, 4);
    const { requests } = fakeWorker(collector, 2, slow, () => 'silent');
    const first = await collector.collect();
    assert.equal(sample(first, 'stream_token_service_http_requests_total', { worker: '1' }), 3);
    assert.equal(sample(first, 'stream_token_service_http_requests_total', { worker: '2' }), undefined);
    assert.equal(sample(first, 'stream_token_service_cluster_workers', { state: 'silent' }), 1);
    now += 5000;
    const second = collector.collect();
    // The answer to the first request arrives during the second collection.
    collector.receive(2, await collectionAnswer(slow.registry, requests[0]));
    const text = await second;
    assert.equal(sample(text, 'stream_token_service_http_requests_total', { worker: '2' }), undefined);
    assert.equal(sample(text, 'stream_token_service_cluster_workers', { state: 'silent' }), 1);
  });

  test('a worker that exits or cannot be reached during a collection is not waited for', async () => {
    const collector = new ClusterMetricsCollector({ collectTimeoutMs: 60_000 });
    fakeWorker(collector, 1, workerMetrics(0, false, 3), () => 'answer');
    fakeWorker(collector, 2, workerMetrics(0, false, 4), () => 'silent');
    fakeWorker(collector, 3, workerMetrics(0, false, 5), () => 'send-fails');
    const collection = collector.collect();
    setTimeout(() => collector.removeWorker(2), 20);
    const text = await settlesWithin(collection, 5000);
    assert.equal(sample(text, 'stream_token_service_http_requests_total', { worker: '1' }), 3);
    assert.equal(sample(text, 'stream_token_service_http_requests_total', { worker: '2' }), undefined);
    assert.equal(sample(text, 'stream_token_service_http_requests_total', { worker: '3' }), undefined);
    assert.equal(sample(text, 'stream_token_service_cluster_workers', { state: 'reporting' }), 1);
    assert.equal(sample(text, 'stream_token_service_cluster_workers', { state: 'silent' }), 0);
  });

  test('scrapes that arrive together share one collection, and one within a second serves it again', async () => {
    let now = 0;
    const collector = new ClusterMetricsCollector({ reuseMs: 1000, now: () => now });
    const metrics = workerMetrics(0, false, 1);
    const a = fakeWorker(collector, 1, metrics, () => 'answer');
    const b = fakeWorker(collector, 2, workerMetrics(0, false, 1), () => 'answer');
    const texts = await Promise.all(Array.from({ length: 20 }, () => collector.collect()));
    assert.equal(new Set(texts).size, 1);
    assert.deepEqual([a.requests.length, b.requests.length], [1, 1]);
    metrics.recordRequest('/stream/token', 'POST', 200, 'ok', 0.001);
    now += 999;
    assert.equal(await collector.collect(), texts[0]);
    assert.equal(a.requests.length, 1);
    now += 1;
    const fresh = await collector.collect();
    assert.equal(a.requests.length, 2);
    assert.equal(sample(fresh, 'stream_token_service_http_requests_total', { worker: '1' }), 2);
  });
});

describe('cluster metrics over a real IPC channel', () => {
  const WORKER_SCRIPT = fileURLToPath(new URL('../support/metrics-worker.ts', import.meta.url));

  interface ForkedWorker {
    child: ChildProcess;
    scrape(count: number): Promise<Array<{ text?: string; error?: string }>>;
  }

  async function forkWorker(env: Record<string, string>): Promise<ForkedWorker> {
    const child = fork(WORKER_SCRIPT, [], {
      execArgv: ['--import', TSX_LOADER],
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // As the supervisor forks its workers.
      serialization: 'advanced',
    });
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.on('message', (message: { type?: string }) => {
        if (message.type === 'fixture:ready') resolve();
      });
    });
    return {
      child,
      scrape: (count) =>
        new Promise((resolve) => {
          const onMessage = (message: { type?: string; results?: Array<{ text?: string; error?: string }> }) => {
            if (message.type !== 'fixture:scraped') return;
            child.off('message', onMessage);
            resolve(message.results ?? []);
          };
          child.on('message', onMessage);
          child.send({ type: 'fixture:scrape', count });
        }),
    };
  }

  test("a worker's scrape returns every worker's series, and scrapes at once send one request to the primary", async () => {
    const workers = await Promise.all([forkWorker({ FIXTURE_REQUESTS: '3' }), forkWorker({ FIXTURE_REQUESTS: '4' })]);
    try {
      let collections = 0;
      const collector = new (class extends ClusterMetricsCollector {
        override collect() {
          collections += 1;
          return super.collect();
        }
      })();
      workers.forEach(({ child }, i) => {
        const worker: MetricsWorker = { id: i + 1, send: (message, callback) => child.send(message, callback) };
        collector.addWorker(worker);
        child.on('message', (message) => answerWorker(collector, worker, message));
      });
      const results = await workers[0].scrape(3);
      assert.equal(results.length, 3);
      for (const { text, error } of results) {
        assert.equal(error, undefined);
        assert.equal(sample(text!, 'fixture_requests_total', { worker: '1' }), 3);
        assert.equal(sample(text!, 'fixture_requests_total', { worker: '2' }), 4);
        // Printed as a single process prints them, not turned into +Inf by a trip through JSON.
        assert.match(text!, /^fixture_ratio\{value="nan",worker="1"\} Nan$/m);
        assert.match(text!, /^fixture_ratio\{value="negative_infinity",worker="1"\} -Inf$/m);
      }
      assert.equal(collections, 1);
    } finally {
      for (const { child } of workers) child.kill();
    }
  });

  test('a scrape fails, and says so, when the primary does not answer in time', async () => {
    const worker = await forkWorker({ FIXTURE_SCRAPE_TIMEOUT_MS: '200' });
    try {
      const results = await worker.scrape(2);
      assert.deepEqual(results, [{ error: 'the cluster primary did not answer in time' }, { error: 'the cluster primary did not answer in time' }]);
    } finally {
      worker.child.kill();
    }
  });
});

test('every metric and label value docs/alerts.yml queries is one the service serves', async () => {
  const rules = readFileSync(join(PROJECT_ROOT, 'docs/alerts.yml'), 'utf8');
  const queried = new Set(rules.match(/stream_token_service_[a-z_]+/g));
  assert.ok(queried.size >= 8, [...queried].join(' '));
  const t = await startDevApp();
  try {
    await t.app.inject('/metrics');
    const single = (await t.app.inject('/metrics')).body;
    const collector = new ClusterMetricsCollector();
    fakeWorker(collector, 1, workerMetrics(0, false, 1), () => 'answer');
    const clustered = await collector.collect();
    const served = new Set([...`${single}\n${clustered}`.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    for (const name of queried) assert.ok(served.has(name), `${name} is in docs/alerts.yml but not served`);
    // The 5xx rule leaves scrapes out by this label value.
    assert.match(single, /stream_token_service_http_requests_total\{route="\/metrics"/);
  } finally {
    await t.app.close();
  }
});
