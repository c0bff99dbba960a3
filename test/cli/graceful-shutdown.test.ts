import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { keepAliveLoad, newConnectionProbe, type Attempt } from '../support/keep-alive-load.js';
import { freePort, spawnCli, waitForHttp, type CliProcess } from '../support/process.js';
import { startStreamStandIn, type StreamStandIn } from '../support/stream-standin.js';

/**
 * What a load balancer sees of an instance that is told to stop: 20 pooled keep-alive connections
 * sending token requests back to back (each waits on a slowed Stream, so requests are always in
 * flight), plus new connections for probes and requests, every 100 ms, throughout.
 */
const CLIENTS = 20;
const GRACE_SECONDS = 5;
const API_KEY = 'shutdownkey';
const API_SECRET = 'shutdown-secret-0123456789abcdefghij';

let stream: StreamStandIn;
before(async () => {
  stream = await startStreamStandIn({ apiKey: API_KEY, apiSecret: API_SECRET });
  // Every user upsert takes 100 ms; with STREAM_SYNC_TTL_SECONDS=0 each token request makes one.
  stream.failure = { delayMs: 100 };
});
after(async () => {
  await stream.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Run {
  signalledAt: number;
  exitedAt: number;
  exitCode: number | null;
  keepAlive: Attempt[];
  readiness: Attempt[];
  newConnections: Attempt[];
  cli: CliProcess;
}

/** Starts the service, puts it under load, sends SIGTERM and records everything until it exits. */
async function stopUnderLoad(env: { SHUTDOWN_DELAY_SECONDS: string; WEB_CONCURRENCY?: string }): Promise<Run> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const workers = Number(env.WEB_CONCURRENCY ?? '1');
  const cli = spawnCli(['serve', '--dev'], {
    env: {
      ...env,
      PORT: String(port),
      STREAM_API_KEY: API_KEY,
      STREAM_API_SECRET: API_SECRET,
      STREAM_API_BASE_URL: stream.baseURL,
      STREAM_SYNC_TTL_SECONDS: '0',
      SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
      RATE_LIMIT_PER_IP: '100000',
      RATE_LIMIT_PER_USER: '100000',
      LOG_LEVEL: 'info',
    },
    cwd: mkdtempSync(join(tmpdir(), 'sts-shutdown-')),
  });
  try {
    await waitForHttp(`${base}/healthz`);
    await waitFor(() => (cli.stdout().match(/Server listening/g) ?? []).length >= workers, `${workers} workers listening`);
    const tokens = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const res = await fetch(`${base}/dev/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: `stop_${i}` }),
        });
        return ((await res.json()) as { token: string }).token;
      }),
    );
    const tokenRequest = (i: number) => ({ method: 'POST', path: '/stream/token', headers: { authorization: `Bearer ${tokens[i % CLIENTS]}` } });
    const load = keepAliveLoad(base, CLIENTS, tokenRequest);
    const readiness = newConnectionProbe(base, { path: '/readyz' }, 100, 'readyz');
    const newConnections = newConnectionProbe(base, tokenRequest(0), 100, 'new connection');
    await sleep(700);
    const signalledAt = performance.now();
    cli.child.kill('SIGTERM');
    const exitCode = await Promise.race([cli.exited, sleep((Number(env.SHUTDOWN_DELAY_SECONDS) + GRACE_SECONDS + 5) * 1000).then(() => 'timeout' as const)]);
    const exitedAt = performance.now();
    assert.notEqual(exitCode, 'timeout', 'the service did not exit');
    await Promise.race([load.finished, sleep(5000)]);
    load.stop();
    await Promise.all([readiness.stop(), newConnections.stop()]);
    return {
      signalledAt,
      exitedAt,
      exitCode: exitCode as number | null,
      keepAlive: load.attempts,
      readiness: readiness.attempts,
      newConnections: newConnections.attempts,
      cli,
    };
  } finally {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  }
}

const describeAttempt = (a: Attempt, run: Run) =>
  `${a.label} sent at +${Math.round(a.startedAt - run.signalledAt)} ms: ${a.error ?? `${a.status} ${a.headers.connection ?? ''} ${a.body.slice(0, 120)}`}`;

/** What every stop must hold to, whatever the delay. */
function assertCleanStop(run: Run, delaySeconds: number): void {
  const drainFrom = run.signalledAt + delaySeconds * 1000;
  const all = [...run.keepAlive, ...run.readiness, ...run.newConnections];
  // No request on an open connection goes unanswered or is reset. A new connection is refused once
  // the delay is over; one made in the instant the port closes may be reset by the kernel instead
  // (still in the listen queue), which is what the delay keeps load balancers away from.
  const expected = (a: Attempt) =>
    !a.reusedConnection &&
    ((a.error === 'ECONNREFUSED' && a.startedAt >= drainFrom) ||
      (a.error === 'ECONNRESET' && a.startedAt >= drainFrom - 250 && a.startedAt < drainFrom + 2000));
  const wrong = all.filter((a) => a.error !== null && !expected(a));
  assert.deepEqual(
    wrong.map((a) => describeAttempt(a, run)),
    [],
    run.cli.stdout().slice(-3000),
  );
  // Every token request is answered 200, or refused as a shutting_down problem with Retry-After.
  for (const a of [...run.keepAlive, ...run.newConnections].filter((x) => x.status !== null && x.status !== 200)) {
    assert.equal(a.status, 503, describeAttempt(a, run));
    assert.equal(a.headers['content-type'], 'application/problem+json; charset=utf-8', describeAttempt(a, run));
    assert.equal((JSON.parse(a.body) as { code: string }).code, 'shutting_down');
    assert.match(String(a.headers['retry-after']), /^\d+$/);
  }
  // Each pooled connection was told to close (or was closed while quiet, after which the pool's next
  // connection was refused): none was left waiting.
  for (let client = 0; client < CLIENTS; client += 1) {
    const last = run.keepAlive.filter((a) => a.label === `keep-alive ${client}`).at(-1);
    assert.ok(
      last !== undefined && (last.headers.connection === 'close' || last.error === 'ECONNREFUSED'),
      `client ${client}: ${last && describeAttempt(last, run)}`,
    );
  }
  assert.equal(run.exitCode, 0, run.cli.stdout().slice(-3000));
  assert.ok(run.exitedAt - run.signalledAt < (delaySeconds + GRACE_SECONDS) * 1000, `exited after ${Math.round(run.exitedAt - run.signalledAt)} ms`);
}

/** During the delay: not ready, yet everything else served as usual, on pooled and new connections alike. */
function assertServedThroughDelay(run: Run, delaySeconds: number): void {
  const drainFrom = run.signalledAt + delaySeconds * 1000;
  // Signal delivery takes a moment; from 500 ms after it until the delay ends the instance is not ready.
  const withinDelay = (a: Attempt) => a.startedAt >= run.signalledAt + 500 && a.endedAt < drainFrom;
  for (const probe of run.readiness.filter((a) => a.endedAt < run.signalledAt)) assert.equal(probe.status, 200, describeAttempt(probe, run));
  const probes = run.readiness.filter(withinDelay);
  assert.ok(probes.length >= 1, `${probes.length} readiness probes within the delay`);
  for (const probe of probes) {
    assert.equal(probe.status, 503, describeAttempt(probe, run));
    assert.equal((JSON.parse(probe.body) as { status: string }).status, 'shutting_down');
  }
  const fresh = run.newConnections.filter(withinDelay);
  assert.ok(fresh.length >= 1, `${fresh.length} new-connection token requests within the delay`);
  for (const a of fresh) assert.equal(a.status, 200, describeAttempt(a, run));
  // Pooled connections are served as usual: no answer before the drain asks them to close.
  const pooled = run.keepAlive.filter((a) => a.startedAt >= run.signalledAt && a.endedAt < drainFrom);
  assert.ok(pooled.length >= CLIENTS, `${pooled.length} pooled requests within the delay`);
  for (const a of pooled) {
    assert.equal(a.status, 200, describeAttempt(a, run));
    assert.notEqual(a.headers.connection, 'close', describeAttempt(a, run));
  }
}

describe('serve: SIGTERM under keep-alive load, the way a load balancer needs it', { timeout: 60_000 }, () => {
  test('SHUTDOWN_DELAY_SECONDS=2: not ready at once, served for 2 s, then drained with no reset and exit 0', async () => {
    const run = await stopUnderLoad({ SHUTDOWN_DELAY_SECONDS: '2' });
    assertServedThroughDelay(run, 2);
    assertCleanStop(run, 2);
    assert.match(run.cli.stdout(), /shutting down: draining in-flight requests/);
    assert.match(run.cli.stdout(), /shut down cleanly/);
  });

  test('WEB_CONCURRENCY=2: each worker waits out the delay, drains with no reset, and the supervisor exits 0', async () => {
    const run = await stopUnderLoad({ SHUTDOWN_DELAY_SECONDS: '2', WEB_CONCURRENCY: '2' });
    assertServedThroughDelay(run, 2);
    assertCleanStop(run, 2);
    assert.equal((run.cli.stdout().match(/shut down cleanly/g) ?? []).length, 2, run.cli.stdout().slice(-3000));
  });

  test('SHUTDOWN_DELAY_SECONDS=0: the port closes at once, still with no reset', async () => {
    const run = await stopUnderLoad({ SHUTDOWN_DELAY_SECONDS: '0' });
    assertCleanStop(run, 0);
    // Nothing waited for a load balancer: new connections are refused from the signal on (allowing a
    // second for the signal to arrive on a busy machine), where a delay would have served them.
    const fresh = [...run.newConnections, ...run.readiness];
    assert.ok(
      fresh.some((a) => a.error === 'ECONNREFUSED'),
      'no new connection was refused',
    );
    for (const a of fresh.filter((x) => x.startedAt >= run.signalledAt + 1000)) assert.equal(a.error, 'ECONNREFUSED', describeAttempt(a, run));
  });
});

describe('serve: Ctrl-C under WEB_CONCURRENCY', { timeout: 60_000 }, () => {
  /** The service in a process group of its own, with two workers listening. */
  async function startGroup(): Promise<{ cli: CliProcess; base: string; interrupt: () => void }> {
    const port = await freePort();
    const cli = spawnCli(['serve', '--dev'], {
      env: { PORT: String(port), WEB_CONCURRENCY: '2', SHUTDOWN_DELAY_SECONDS: '2', SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS), LOG_LEVEL: 'info' },
      cwd: mkdtempSync(join(tmpdir(), 'sts-ctrl-c-')),
      detached: true,
    });
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`);
    await waitFor(() => (cli.stdout().match(/Server listening/g) ?? []).length >= 2, '2 workers listening');
    // A terminal sends SIGINT to every process of the foreground group: the supervisor and each worker.
    return { cli, base, interrupt: () => process.kill(-cli.child.pid!, 'SIGINT') };
  }

  test('one Ctrl-C, which reaches the workers directly and through the supervisor, is one signal: they drain and the exit is 0', async () => {
    const { cli, base, interrupt } = await startGroup();
    try {
      interrupt();
      await sleep(500);
      // Still serving through the delay, not ready.
      assert.equal((await fetch(`${base}/readyz`)).status, 503);
      assert.equal(await cli.exited, 0, cli.stdout().slice(-3000));
      assert.equal((cli.stdout().match(/shut down cleanly/g) ?? []).length, 2, cli.stdout().slice(-3000));
      assert.doesNotMatch(cli.stdout(), /second signal/);
    } finally {
      if (cli.child.exitCode === null) process.kill(-cli.child.pid!, 'SIGKILL');
    }
  });

  test('a second Ctrl-C stops every worker at once, and the supervisor exits 1', async () => {
    const { cli, interrupt } = await startGroup();
    try {
      interrupt();
      await sleep(500);
      const secondAt = performance.now();
      interrupt();
      assert.equal(await cli.exited, 1, cli.stdout().slice(-3000));
      assert.ok(performance.now() - secondAt < 1500, `exited ${Math.round(performance.now() - secondAt)} ms after the second Ctrl-C`);
      assert.equal((cli.stdout().match(/second signal: exiting without waiting/g) ?? []).length, 2, cli.stdout().slice(-3000));
    } finally {
      if (cli.child.exitCode === null) process.kill(-cli.child.pid!, 'SIGKILL');
    }
  });
});
