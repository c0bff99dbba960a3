import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { Bulkhead, BulkheadTimeoutError } from '../../src/stream/bulkhead.js';
import { StreamCallGuard } from '../../src/stream/call-guard.js';
import { StreamRejectedError, StreamUnavailableError } from '../../src/stream/sync-errors.js';

/** A promise and the functions that settle it. */
function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void; reject(error: Error): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Bulkhead', () => {
  it('runs at most maxConcurrency tasks at once and hands freed slots to waiters in order', async () => {
    const bulkhead = new Bulkhead({ maxConcurrency: 3, queueTimeoutMs: 5000 });
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const gates = Array.from({ length: 10 }, () => deferred());
    const runs = gates.map((gate, i) =>
      bulkhead.run(async () => {
        running += 1;
        peak = Math.max(peak, running);
        started.push(i);
        await gate.promise;
        running -= 1;
        return i;
      }),
    );
    await tick();
    assert.equal(bulkhead.inFlight, 3);
    assert.equal(bulkhead.queued, 7);
    assert.deepEqual(started, [0, 1, 2]);
    for (const gate of gates) {
      gate.resolve();
      await tick();
    }
    assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(peak, 3);
    assert.equal(bulkhead.inFlight, 0);
    assert.equal(bulkhead.queued, 0);
  });

  it('fails a call that waited queueTimeoutMs without running it, and frees its place', async () => {
    const bulkhead = new Bulkhead({ maxConcurrency: 1, queueTimeoutMs: 40 });
    const gate = deferred();
    const first = bulkhead.run(() => gate.promise);
    let ran = false;
    const started = performance.now();
    await assert.rejects(
      bulkhead.run(async () => {
        ran = true;
      }),
      BulkheadTimeoutError,
    );
    const waited = performance.now() - started;
    assert.ok(waited >= 35 && waited < 1000, `waited ${waited} ms`);
    assert.equal(ran, false);
    assert.equal(bulkhead.queued, 0);
    gate.resolve();
    await first;
    // The slot is free again: the next call runs at once.
    assert.equal(await bulkhead.run(async () => 'ran'), 'ran');
    assert.equal(bulkhead.inFlight, 0);
  });

  it('with a queue timeout of 0, fails at once when every slot is taken', async () => {
    const bulkhead = new Bulkhead({ maxConcurrency: 1, queueTimeoutMs: 0 });
    const gate = deferred();
    const first = bulkhead.run(() => gate.promise);
    await assert.rejects(
      bulkhead.run(async () => undefined),
      BulkheadTimeoutError,
    );
    gate.resolve();
    await first;
  });

  it('frees the slot when a task throws', async () => {
    const bulkhead = new Bulkhead({ maxConcurrency: 1, queueTimeoutMs: 0 });
    await assert.rejects(
      bulkhead.run(async () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(bulkhead.inFlight, 0);
    assert.equal(await bulkhead.run(async () => 1), 1);
  });
});

describe('StreamCallGuard breaker', () => {
  const fault = (status: number | null = 503): StreamUnavailableError =>
    new StreamUnavailableError('upsert_user', 'Stream answered 503', { status, retryAfterSeconds: 5 });
  const rejected = (): StreamRejectedError => new StreamRejectedError('upsert_user', 'Stream answered 400', { status: 400, streamCode: 4 });

  function setup(): {
    guard: StreamCallGuard;
    clock: { now: number };
    logs: Array<[string, string]>;
    calls: () => number;
    fail(error?: Error): Promise<unknown>;
    succeed(): Promise<unknown>;
  } {
    const clock = { now: 1_000_000 };
    const logs: Array<[string, string]> = [];
    const logger = {
      info: (_obj: object, msg?: string) => logs.push(['info', msg ?? '']),
      warn: (_obj: object, msg?: string) => logs.push(['warn', msg ?? '']),
      error: (_obj: object, msg?: string) => logs.push(['error', msg ?? '']),
    };
    const guard = new StreamCallGuard({ maxConcurrency: 4, queueTimeoutMs: 0, logger, breaker: { now: () => clock.now } });
    let called = 0;
    return {
      guard,
      clock,
      logs,
      calls: () => called,
      fail: (error = fault()) =>
        guard.run('upsert_user', async () => {
          called += 1;
          throw error;
        }),
      succeed: () =>
        guard.run('upsert_user', async () => {
          called += 1;
          return 'ok';
        }),
    };
  }

  const refusedByBreaker = (error: unknown): boolean => error instanceof StreamUnavailableError && error.refusedBy === 'breaker_open';

  it('opens after 5 consecutive faults and then answers at once, without calling Stream', async () => {
    const t = setup();
    for (let i = 0; i < 4; i += 1) await assert.rejects(t.fail(), (e: unknown) => e instanceof StreamUnavailableError && e.refusedBy === null);
    assert.equal(t.guard.status().breaker, 'closed');
    await assert.rejects(t.fail(fault(null)), StreamUnavailableError);
    assert.equal(t.guard.status().breaker, 'open');
    assert.equal(t.calls(), 5);

    for (let i = 0; i < 20; i += 1) {
      const started = performance.now();
      await assert.rejects(t.succeed(), (error: unknown) => {
        assert.ok(refusedByBreaker(error), String(error));
        assert.equal((error as StreamUnavailableError).retryAfterSeconds, 1);
        assert.equal((error as StreamUnavailableError).status, null);
        return true;
      });
      const ms = performance.now() - started;
      assert.ok(ms < 5, `a refused call took ${ms} ms`);
    }
    assert.equal(t.calls(), 5, 'Stream was not called while open');
    assert.deepEqual(
      t.logs.filter(([, msg]) => msg.includes('breaker')).map(([level]) => level),
      ['warn'],
    );
  });

  it('429s trip it too; a success in between starts the count again', async () => {
    const t = setup();
    for (let i = 0; i < 4; i += 1) await assert.rejects(t.fail(fault(429)));
    await t.succeed();
    for (let i = 0; i < 4; i += 1) await assert.rejects(t.fail(fault(429)));
    assert.equal(t.guard.status().breaker, 'closed');
    await assert.rejects(t.fail(fault(429)));
    assert.equal(t.guard.status().breaker, 'open');
  });

  it('other 4xx rejections do not trip it: Stream answered', async () => {
    const t = setup();
    for (let i = 0; i < 20; i += 1) await assert.rejects(t.fail(rejected()), StreamRejectedError);
    assert.equal(t.guard.status().breaker, 'closed');
    await t.succeed();
    assert.equal(t.calls(), 21);
  });

  it('makes one trial call after 1 s apart from the request, doubles the wait when it fails, and closes when one succeeds', async () => {
    const t = setup();
    for (let i = 0; i < 5; i += 1) await assert.rejects(t.fail());
    t.clock.now += 999;
    await assert.rejects(t.succeed(), refusedByBreaker);
    t.clock.now += 1;

    // The trial: one call goes through on its own; the request that started it is answered at once, as while open.
    const gate = deferred();
    let trialRan = false;
    const started = performance.now();
    await assert.rejects(
      t.guard.run('upsert_user', async () => {
        trialRan = true;
        await gate.promise;
        throw fault();
      }),
      refusedByBreaker,
    );
    assert.ok(performance.now() - started < 50, 'the request did not wait for the trial');
    assert.equal(trialRan, true);
    assert.equal(t.guard.status().breaker, 'half_open');
    await assert.rejects(t.succeed(), refusedByBreaker);
    gate.resolve();
    await tick();
    assert.equal(t.guard.status().breaker, 'open');
    assert.equal(t.calls(), 5, 'only the trial reached Stream');

    // Failed trial: the next one after 2 s, and this one succeeds: closed.
    t.clock.now += 1999;
    await assert.rejects(t.succeed(), (e: unknown) => refusedByBreaker(e) && (e as StreamUnavailableError).retryAfterSeconds === 1);
    t.clock.now += 1;
    await assert.rejects(t.succeed(), refusedByBreaker);
    await tick();
    assert.equal(t.guard.status().breaker, 'closed');
    assert.equal(await t.succeed(), 'ok');
    assert.deepEqual(
      t.logs.filter(([, msg]) => msg.includes('breaker')).map(([level, msg]) => `${level} ${msg.split(':')[0]}`),
      ['warn Stream breaker open', 'info Stream breaker closed'],
      'one line on open and one on close, none per trial',
    );

    // Closed again, it opens anew after 5 faults, with the first wait back at 1 s.
    for (let i = 0; i < 5; i += 1) await assert.rejects(t.fail());
    t.clock.now += 1000;
    await assert.rejects(t.succeed(), refusedByBreaker);
    await tick();
    assert.equal(await t.succeed(), 'ok');
  });

  it('waits at most 30 s between trials, and says so in Retry-After', async () => {
    const t = setup();
    for (let i = 0; i < 5; i += 1) await assert.rejects(t.fail());
    let wait = 1000;
    for (let i = 0; i < 8; i += 1) {
      t.clock.now += wait;
      await assert.rejects(t.fail(), refusedByBreaker);
      await tick();
      wait = Math.min(wait * 2, 30_000);
      await assert.rejects(t.succeed(), (e: unknown) => refusedByBreaker(e) && (e as StreamUnavailableError).retryAfterSeconds === wait / 1000);
    }
    assert.equal(wait, 30_000);
    t.clock.now += 29_999;
    await assert.rejects(t.succeed(), refusedByBreaker);
    t.clock.now += 1;
    await assert.rejects(t.succeed(), refusedByBreaker);
    await tick();
    assert.equal(await t.succeed(), 'ok');
  });

  it('counts a call still under way after slowCallMs as a fault, so a slow Stream opens the breaker long before its timeout', async () => {
    const guard = new StreamCallGuard({ maxConcurrency: 10, queueTimeoutMs: 0, slowCallMs: 30 });
    const gate = deferred();
    const slow = Array.from({ length: 5 }, () => guard.run('upsert_user', () => gate.promise));
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(guard.status().breaker, 'open', 'five calls slower than 30 ms opened it while they were still waiting');
    await assert.rejects(
      guard.run('upsert_user', async () => 'fast'),
      refusedByBreaker,
    );
    gate.resolve();
    await Promise.all(slow);
    assert.equal(guard.status().breaker, 'open', 'their late success counts neither way');
  });

  it('a call refused for want of a slot does not count as a Stream fault', async () => {
    const clock = { now: 0 };
    const guard = new StreamCallGuard({ maxConcurrency: 1, queueTimeoutMs: 0, breaker: { now: () => clock.now } });
    const gate = deferred();
    const holder = guard.run('upsert_user', () => gate.promise);
    for (let i = 0; i < 10; i += 1) {
      await assert.rejects(
        guard.run('revoke_tokens', async () => undefined),
        (e: unknown) => e instanceof StreamUnavailableError && e.refusedBy === 'queue_timeout' && e.operation === 'revoke_tokens' && e.retryAfterSeconds === 1,
      );
    }
    assert.deepEqual(guard.status(), { inFlight: 1, queued: 0, breaker: 'closed' });
    gate.resolve();
    await holder;
  });
});
