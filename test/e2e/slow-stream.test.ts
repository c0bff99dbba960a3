import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startDevApp, TEST_STREAM_KEY, TEST_STREAM_SECRET, type TestApp } from '../support/harness.js';
import { startStreamStandIn, type StreamStandIn } from '../support/stream-standin.js';

/**
 * The service against a Stream that answers after 2 s, through the real SDK
 * and configuration: calls to Stream stay under STREAM_API_MAX_CONCURRENCY,
 * and once the breaker opens the token route answers at once, as
 * STREAM_SYNC_FAILURE says, instead of waiting out STREAM_API_TIMEOUT_MS.
 */

const CAP = 2;
const SDK_TIMEOUT_MS = 300;
const STREAM_DELAY_MS = 2000;

let stream: StreamStandIn;
const apps: TestApp[] = [];
/** The app's clock, so the breaker's wait before its trial call passes when the test says. */
const clock = { now: Date.now() };

before(async () => {
  stream = await startStreamStandIn({ apiKey: TEST_STREAM_KEY, apiSecret: TEST_STREAM_SECRET });
});
after(async () => {
  for (const t of apps) await t.app.close();
  await stream.close();
});
beforeEach(() => {
  stream.reset();
});

async function service(failureMode: 'closed' | 'open'): Promise<TestApp> {
  const t = await startDevApp(
    {
      STREAM_SYNC_USERS: 'true',
      STREAM_SYNC_FAILURE: failureMode,
      STREAM_API_BASE_URL: stream.baseURL,
      STREAM_API_TIMEOUT_MS: String(SDK_TIMEOUT_MS),
      STREAM_API_MAX_CONCURRENCY: String(CAP),
      // Longer than the SDK timeout, so queued calls take over freed slots.
      STREAM_API_QUEUE_TIMEOUT_MS: '2000',
      RATE_LIMIT_PER_IP: '100000',
    },
    { now: () => clock.now },
  );
  apps.push(t);
  return t;
}

async function timed(t: TestApp, url: string, userId: string): Promise<{ status: number; ms: number; retryAfter: string | undefined; code: unknown }> {
  const authorization = `Bearer ${t.sessionToken(userId)}`;
  const started = performance.now();
  const res = await t.app.inject({ method: 'POST', url, headers: { authorization } });
  const ms = performance.now() - started;
  const retryAfter = res.headers['retry-after'];
  return {
    status: res.statusCode,
    ms,
    retryAfter: retryAfter === undefined ? undefined : String(retryAfter),
    code: res.statusCode === 200 ? 'ok' : res.json().code,
  };
}

/** A burst of new users against a slow Stream, until the breaker has opened. */
async function burst(t: TestApp, prefix: string): Promise<{ results: Array<Awaited<ReturnType<typeof timed>>>; reached: number }> {
  stream.failure = { delayMs: STREAM_DELAY_MS };
  const pending = Promise.all(Array.from({ length: 20 }, (_, i) => timed(t, '/stream/token', `${prefix}_${i}`)));
  // Meanwhile the gauges show the cap full and the rest waiting.
  let gauges = '';
  for (let i = 0; i < 100 && !/in_flight 2\n.*queued [1-9]/s.test(gauges); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    gauges = `${await metric(t, 'stream_token_service_stream_api_in_flight')}\n${await metric(t, 'stream_token_service_stream_api_queued')}`;
  }
  assert.match(gauges, /^stream_token_service_stream_api_in_flight 2\nstream_token_service_stream_api_queued ([1-9]|1[0-8])$/);
  const results = await pending;
  assert.ok(stream.peakInFlight <= CAP, `${stream.peakInFlight} calls were in flight at Stream, over the cap of ${CAP}`);
  assert.ok(stream.peakInFlight >= 1);
  // Five timeouts open the breaker: the calls that had a slot by then, no more.
  const reached = stream.calls.length;
  assert.ok(reached >= 5 && reached < 5 + CAP, `${reached} calls reached Stream`);
  assert.match(await metric(t, 'stream_token_service_stream_breaker_state'), / 2$/m);
  return { results, reached };
}

/**
 * Answers without Stream: within 100 ms as a rule, and none as slow as a call to Stream that times out
 * (the bound for each one leaves room for a machine busy with other work).
 */
function assertFast(durations: number[]): void {
  const sorted = [...durations].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  assert.ok(median < 100, `median ${median} ms`);
  assert.ok((sorted.at(-1) as number) < SDK_TIMEOUT_MS, `slowest ${sorted.at(-1)} ms`);
}

async function metric(t: TestApp, name: string): Promise<string> {
  const text = (await t.app.inject('/metrics')).body;
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .join('\n');
}

describe('a slow Stream', () => {
  test('closed mode: calls stay under the cap, then the open breaker answers 503 with Retry-After at once, and a good trial closes it', async () => {
    const t = await service('closed');
    const { results: first, reached } = await burst(t, 'user_closed');
    assert.ok(first.every((r) => r.status === 503 && r.code === 'upstream_unavailable' && r.retryAfter !== undefined));

    const callsBefore = stream.calls.length;
    const durations: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const r = await timed(t, '/stream/token', `user_closed_later_${i}`);
      assert.equal(r.status, 503);
      assert.equal(r.code, 'upstream_unavailable');
      assert.equal(r.retryAfter, '1');
      durations.push(r.ms);
    }
    for (let i = 0; i < 5; i += 1) {
      const revoke = await timed(t, '/stream/revoke', `user_closed_${i}`);
      assert.equal(revoke.status, 503);
      durations.push(revoke.ms);
    }
    assertFast(durations);
    assert.equal(stream.calls.length, callsBefore, 'Stream was not called while the breaker was open');
    assert.match(await metric(t, 'stream_token_service_stream_api_calls_refused_total'), /reason="breaker_open"/);

    const opened = t.logs.records.filter((line) => String(line.msg).startsWith('Stream breaker open'));
    assert.equal(opened.length, 1);
    assert.equal(t.logs.records.filter((line) => String(line.msg).startsWith('Stream call failed')).length, reached, 'refused calls are not logged one by one');

    // Stream recovers; after the 1 s wait the next request starts the trial without waiting for it,
    // and the trial closes the breaker.
    stream.failure = null;
    clock.now += 999;
    assert.equal((await timed(t, '/stream/token', 'user_closed_still')).status, 503);
    clock.now += 1;
    const trial = await timed(t, '/stream/token', 'user_closed_after');
    assert.equal(trial.status, 503);
    assertFast([trial.ms]);
    for (let i = 0; i < 100 && !/ 0$/m.test(await metric(t, 'stream_token_service_stream_breaker_state')); i += 1) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await timed(t, '/stream/token', 'user_closed_after_2')).status, 200);
    assert.match(await metric(t, 'stream_token_service_stream_breaker_state'), / 0$/m);
    assert.equal(t.logs.records.filter((line) => String(line.msg).startsWith('Stream breaker closed')).length, 1);
  });

  test('open mode: calls stay under the cap, then the open breaker lets tokens through at once, counted', async () => {
    const t = await service('open');
    const { results: first, reached } = await burst(t, 'user_open');
    assert.ok(first.every((r) => r.status === 200));

    const callsBefore = stream.calls.length;
    const durations: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const r = await timed(t, '/stream/token', `user_open_later_${i}`);
      assert.equal(r.status, 200);
      durations.push(r.ms);
    }
    assertFast(durations);
    assert.equal(stream.calls.length, callsBefore);
    assert.match(await metric(t, 'stream_token_service_tokens_issued_without_sync_total'), / 40$/m);
    assert.equal(
      t.logs.records.filter((line) => String(line.msg).startsWith('Stream user sync failed')).length,
      reached,
      'refused calls are not logged one by one',
    );
  });
});
