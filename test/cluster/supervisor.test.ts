import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { freePort, spawnCli, waitForHttp, type CliProcess } from '../support/process.js';

/**
 * `serve` with WEB_CONCURRENCY > 1: the supervisor forks, replaces and stops
 * workers, and every worker's metrics reach a scrape through the primary.
 */

const tempDir = () => mkdtempSync(join(tmpdir(), 'sts-serve-'));

describe('serve: WEB_CONCURRENCY workers under the supervisor', () => {
  test('WEB_CONCURRENCY=2 runs two workers that serve, and SIGTERM stops them all with exit 0', async () => {
    const port = await freePort();
    const cli = spawnCli(['serve', '--dev'], { env: { PORT: String(port), WEB_CONCURRENCY: '2', LOG_LEVEL: 'info' }, cwd: tempDir() });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      const deadline = Date.now() + 15_000;
      while ((cli.stdout().match(/Server listening/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal((cli.stdout().match(/Server listening/g) ?? []).length, 2, cli.stdout());
      const session = (await (
        await fetch(`http://127.0.0.1:${port}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user_id":"w"}' })
      ).json()) as { token: string };
      for (let i = 0; i < 4; i += 1) {
        const res = await fetch(`http://127.0.0.1:${port}/stream/token`, { method: 'POST', headers: { authorization: `Bearer ${session.token}` } });
        assert.equal(res.status, 200);
      }
    } finally {
      cli.child.kill('SIGTERM');
      assert.equal(await cli.exited, 0);
    }
  });

  // Each call on a connection of its own: the cluster primary hands new connections to the workers in turn.
  const onNewConnection = (url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (chunk: string) => (body += chunk))
          .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.once('error', reject);
      req.end(init.body);
    });

  /** Successful token requests in a scrape, by the worker label of each series. */
  const okTokenRequestsByWorker = (text: string): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line.startsWith('stream_token_service_http_requests_total{') || !line.includes('route="/stream/token"') || !line.includes('status="200"')) continue;
      counts.set(/worker="(\d+)"/.exec(line)?.[1] ?? '', Number(line.split(' ').pop()));
    }
    return counts;
  };

  /** The log lines of workers that listen on `port`, oldest first. */
  const listeningLines = (cli: CliProcess, port: number): string[] =>
    cli
      .stdout()
      .split('\n')
      .filter((l) => l.includes('Server listening') && l.includes(`:${port}`));

  /** Waits until `count` workers have logged that they listen on `port`. */
  async function waitForWorkers(cli: CliProcess, port: number, count: number): Promise<void> {
    const listening = () => listeningLines(cli, port).length;
    const deadline = Date.now() + 15_000;
    while (listening() < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(listening(), count, cli.stdout());
  }

  async function assertMetricsSeeEveryWorker(metricsPort: number | null): Promise<void> {
    const port = await freePort();
    const env: Record<string, string> = { PORT: String(port), WEB_CONCURRENCY: '2', LOG_LEVEL: 'info', RATE_LIMIT_PER_IP: '1000' };
    if (metricsPort !== null) env.METRICS_PORT = String(metricsPort);
    const cli = spawnCli(['serve', '--dev'], { env, cwd: tempDir() });
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitForHttp(`${base}/healthz`);
      await waitForWorkers(cli, port, 2);
      if (metricsPort !== null) await waitForWorkers(cli, metricsPort, 2);
      const session = JSON.parse(
        (await onNewConnection(`${base}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user_id":"w"}' })).body,
      ) as { token: string };
      for (let i = 0; i < 6; i += 1) {
        assert.equal((await onNewConnection(`${base}/stream/token`, { method: 'POST', headers: { authorization: `Bearer ${session.token}` } })).status, 200);
      }
      // Both workers answered token requests (each log line names its process).
      const pids = new Set(
        cli
          .stdout()
          .split('\n')
          .filter((l) => l.includes('"route":"/stream/token"') && l.includes('"msg":"request"'))
          .map((l) => (JSON.parse(l) as { pid: number }).pid),
      );
      assert.equal(pids.size, 2, cli.stdout());
      // Whichever worker takes the scrape, it reports both workers' series, six requests in all.
      const metricsUrl = `http://127.0.0.1:${metricsPort ?? port}/metrics`;
      for (let i = 0; i < 4; i += 1) {
        const scrape = await onNewConnection(metricsUrl);
        assert.equal(scrape.status, 200, scrape.body);
        const byWorker = okTokenRequestsByWorker(scrape.body);
        assert.equal(byWorker.size, 2, scrape.body);
        assert.equal(
          [...byWorker.values()].reduce((a, b) => a + b, 0),
          6,
          scrape.body,
        );
        assert.match(scrape.body, /^stream_token_service_cluster_workers\{state="reporting"\} 2$/m);
      }
    } finally {
      cli.child.kill('SIGTERM');
      assert.equal(await cli.exited, 0);
    }
  }

  test('WEB_CONCURRENCY=2: /metrics counts the requests of every worker, whichever worker answers the scrape', async () => {
    await assertMetricsSeeEveryWorker(null);
  });

  test("WEB_CONCURRENCY=2 with METRICS_PORT: the separate listener serves every worker's counts too", async () => {
    await assertMetricsSeeEveryWorker(await freePort());
  });

  test('WEB_CONCURRENCY=2: workers that die are replaced, even all at once, and SIGTERM while none is alive exits 0', async () => {
    const port = await freePort();
    const cli = spawnCli(['serve', '--dev'], { env: { PORT: String(port), WEB_CONCURRENCY: '2', LOG_LEVEL: 'info' }, cwd: tempDir() });
    const listeningPids = () => listeningLines(cli, port).map((l) => (JSON.parse(l) as { pid: number }).pid);
    const killAllAndWaitForExits = async (pids: number[], exitsBefore: number) => {
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      const exits = () => (cli.stderr().match(/exited \(SIGKILL\); starting another/g) ?? []).length;
      const deadline = Date.now() + 5000;
      while (exits() < exitsBefore + pids.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(exits(), exitsBefore + pids.length, cli.stderr());
    };
    try {
      await waitForWorkers(cli, port, 2);
      await killAllAndWaitForExits(listeningPids(), 0);
      await waitForWorkers(cli, port, 4);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
      // The supervisor waits a second before forking replacements: stop it inside that gap.
      await killAllAndWaitForExits(listeningPids().slice(2), 2);
      cli.child.kill('SIGTERM');
      // Without a worker to report its exit, or with a replacement forked after the signal, this would not be 0.
      assert.equal(await cli.exited, 0, cli.stderr());
    } finally {
      cli.child.kill('SIGKILL');
    }
  });

  test('WEB_CONCURRENCY=2: a worker that cannot listen on METRICS_PORT exits and is replaced, ever more slowly, instead of lingering', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(metricsPort, '127.0.0.1', resolve));
    const cli = spawnCli(['serve', '--dev'], {
      env: { PORT: String(port), METRICS_PORT: String(metricsPort), WEB_CONCURRENCY: '2', LOG_LEVEL: 'warn' },
      cwd: tempDir(),
    });
    try {
      const delays = () => [...cli.stderr().matchAll(/exited \(1\); starting another in (\d+) s/g)].map((m) => Number(m[1]));
      const deadline = Date.now() + 30_000;
      while (delays().length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(delays().slice(0, 4), [1, 2, 4, 8], cli.stderr());
      assert.ok(cli.stderr().includes(`Cannot listen on 127.0.0.1:${metricsPort}: `), cli.stderr());
      cli.child.kill('SIGTERM');
      assert.equal(await cli.exited, 0, cli.stderr());
    } finally {
      cli.child.kill('SIGKILL');
      taken.close();
    }
  });
});
