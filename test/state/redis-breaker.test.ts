import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { RedisBreaker, type BreakerState, type RedisFailureKind } from '../../src/state/redis-breaker.js';
import { SyncStoreUnavailableError } from '../../src/stream/sync-errors.js';

const fail =
  (message = 'connect ECONNREFUSED') =>
  () =>
    Promise.reject(new Error(message));
const timeOut = () => Promise.reject(new Error('Command timed out'));
const answer = () => Promise.resolve('OK');
/** Lets settled promises run their callbacks. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Rig {
  breaker: RedisBreaker;
  clock: { now: number };
  probes: Array<{ resolve(): void; reject(error: Error): void }>;
  lines: Array<{ level: string; msg: string; obj: Record<string, unknown> }>;
  states: BreakerState[];
  failures: RedisFailureKind[];
}

function rig(options: { failureThreshold?: number; openMs?: number; maxOpenMs?: number } = {}): Rig {
  const clock = { now: 1_000_000 };
  const probes: Rig['probes'] = [];
  const lines: Rig['lines'] = [];
  const states: BreakerState[] = [];
  const failures: RedisFailureKind[] = [];
  const breaker = new RedisBreaker({
    ...options,
    now: () => clock.now,
    probe: () =>
      new Promise<void>((resolve, reject) => {
        probes.push({ resolve, reject });
      }),
    logger: {
      info: (obj, msg = '') => lines.push({ level: 'info', msg, obj: obj as Record<string, unknown> }),
      warn: (obj, msg = '') => lines.push({ level: 'warn', msg, obj: obj as Record<string, unknown> }),
    },
    observer: { state: (s) => states.push(s), failure: (k) => failures.push(k) },
  });
  return { breaker, clock, probes, lines, states, failures };
}

async function openIt(r: Rig, times = 3): Promise<void> {
  for (let i = 0; i < times; i += 1) await assert.rejects(r.breaker.run(fail()), SyncStoreUnavailableError);
}

describe('RedisBreaker', () => {
  test('opens after 3 failures in a row, not before; a success in between starts the count again', async () => {
    const r = rig();
    await openIt(r, 2);
    assert.equal(r.breaker.state, 'closed');
    assert.equal(await r.breaker.run(answer), 'OK');
    await openIt(r, 2);
    assert.equal(r.breaker.state, 'closed');
    await assert.rejects(r.breaker.run(timeOut), SyncStoreUnavailableError);
    assert.equal(r.breaker.state, 'open');
    assert.deepEqual(r.failures, ['error', 'error', 'error', 'error', 'timeout']);
  });

  test('while open a call fails in under 5 ms with SyncStoreUnavailableError, without sending the command', async () => {
    const r = rig();
    await openIt(r);
    let sent = 0;
    const started = performance.now();
    for (let i = 0; i < 1000; i += 1) {
      await assert.rejects(
        r.breaker.run(() => {
          sent += 1;
          return answer();
        }),
        SyncStoreUnavailableError,
      );
    }
    const perCallMs = (performance.now() - started) / 1000;
    assert.equal(sent, 0);
    assert.ok(perCallMs < 5, `${perCallMs} ms per call`);
    assert.equal(r.failures.filter((k) => k === 'breaker_open').length, 1000);
  });

  test('probes once after the open interval, keeps failing fast while the probe runs, and closes when it answers', async () => {
    const r = rig();
    await openIt(r);
    r.clock.now += 999;
    await assert.rejects(r.breaker.run(answer));
    assert.equal(r.probes.length, 0, 'no probe before the interval is over');
    r.clock.now += 1;
    await assert.rejects(r.breaker.run(answer), 'the call that starts the probe does not wait for it');
    assert.equal(r.probes.length, 1);
    assert.equal(r.breaker.state, 'half_open');
    await assert.rejects(r.breaker.run(answer));
    assert.equal(r.probes.length, 1, 'one probe at a time');
    r.probes[0]!.resolve();
    await settle();
    assert.equal(r.breaker.state, 'closed');
    assert.equal(await r.breaker.run(answer), 'OK');
    assert.deepEqual(r.states, ['open', 'half_open', 'closed']);
  });

  test('backs off: 1 s, doubling after each failed probe, up to 30 s; a close starts again at 1 s', async () => {
    const r = rig();
    await openIt(r);
    const intervals: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const interval = r.breaker.openIntervalMs;
      intervals.push(interval);
      r.clock.now += interval - 1;
      await assert.rejects(r.breaker.run(answer));
      assert.equal(r.probes.length, i, `no probe ${i + 1} before ${interval} ms`);
      r.clock.now += 1;
      await assert.rejects(r.breaker.run(answer));
      r.probes[i]!.reject(new Error('Command timed out'));
      await settle();
      assert.equal(r.breaker.state, 'open');
    }
    assert.deepEqual(intervals, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    r.clock.now += 30_000;
    await assert.rejects(r.breaker.run(answer));
    r.probes[7]!.resolve();
    await settle();
    assert.equal(r.breaker.state, 'closed');
    await openIt(r);
    assert.equal(r.breaker.openIntervalMs, 1000);
  });

  test('one warning when it opens and one line when it closes, however many probes fail between', async () => {
    const r = rig();
    await openIt(r);
    for (let i = 0; i < 3; i += 1) {
      r.clock.now += r.breaker.openIntervalMs;
      await assert.rejects(r.breaker.run(answer));
      r.probes[i]!.reject(new Error('connect ECONNREFUSED'));
      await settle();
    }
    r.clock.now += r.breaker.openIntervalMs;
    for (let i = 0; i < 100; i += 1) await assert.rejects(r.breaker.run(answer));
    r.probes[3]!.resolve();
    await settle();
    assert.deepEqual(
      r.lines.map((l) => [l.level, l.msg]),
      [
        ['warn', 'redis breaker opened'],
        ['info', 'redis breaker closed'],
      ],
    );
    assert.equal(r.lines[0]!.obj.failures, 3);
    assert.equal(r.lines[1]!.obj.probes, 4);
    assert.equal(r.lines[1]!.obj.outageMs, 1000 + 2000 + 4000 + 8000);
  });

  test('probeNow (the client reconnected) probes at once without waiting out the interval', async () => {
    const r = rig({ openMs: 10_000 });
    await openIt(r);
    r.breaker.probeNow();
    assert.equal(r.probes.length, 1);
    r.probes[0]!.resolve();
    await settle();
    assert.equal(r.breaker.state, 'closed');
    r.breaker.probeNow();
    assert.equal(r.probes.length, 1, 'no probe while closed');
  });

  test('an optional command is not sent while the last command failed, so a request waits at most once', async () => {
    const r = rig();
    await assert.rejects(r.breaker.run(timeOut));
    let sent = 0;
    const optional = () => {
      sent += 1;
      return answer();
    };
    await assert.rejects(r.breaker.run(optional, { optional: true }), SyncStoreUnavailableError);
    assert.equal(sent, 0);
    assert.equal(r.breaker.consecutiveFailures, 1, 'a skipped command does not count towards opening');
    assert.equal(await r.breaker.run(answer), 'OK');
    assert.equal(await r.breaker.run(optional, { optional: true }), 'OK');
    assert.equal(sent, 1);
  });

  test('a failure of a command sent before it opened neither reopens nor logs again', async () => {
    const r = rig();
    let late!: (error: Error) => void;
    const inFlight = r.breaker.run(() => new Promise((_, reject) => (late = reject)));
    await openIt(r);
    late(new Error('Command timed out'));
    await assert.rejects(inFlight);
    assert.equal(r.lines.length, 1);
    assert.equal(r.breaker.openIntervalMs, 1000);
  });

  test('refuses a threshold below 1 and an interval above its cap', () => {
    assert.throws(() => new RedisBreaker({ probe: answer, failureThreshold: 0 }), RangeError);
    assert.throws(() => new RedisBreaker({ probe: answer, openMs: 5000, maxOpenMs: 1000 }), RangeError);
  });
});
