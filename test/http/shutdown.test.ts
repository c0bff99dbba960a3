import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { shutdownSequence, type ShutdownTimers } from '../../src/http/shutdown.js';

/** Timers on a clock that moves only when told. */
class FakeClock implements ShutdownTimers {
  now = 0;
  #timers = new Map<number, { at: number; callback: () => void }>();
  #next = 1;

  setTimeout(callback: () => void, ms: number): number {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves the clock on, running each timer that falls due, in order, and the promise work it starts. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
      await settle();
    }
    this.now = until;
    await settle();
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function harness(options: { delaySeconds: number; graceSeconds: number }) {
  const clock = new FakeClock();
  const events: string[] = [];
  const exits: number[] = [];
  let finishDrain: () => void = () => undefined;
  let closeResult: Promise<unknown> = Promise.resolve();
  const log = (level: string) => (_obj: object, msg: string) => events.push(`${level}: ${msg}`);
  const onSignal = shutdownSequence(
    {
      announce: () => events.push(`announce at ${clock.now}`),
      drain: () => {
        events.push(`drain at ${clock.now}`);
        return new Promise<void>((resolve) => (finishDrain = resolve));
      },
      close: () => {
        events.push(`close at ${clock.now}`);
        return closeResult;
      },
    },
    {
      ...options,
      exit: (code) => {
        events.push(`exit ${code} at ${clock.now}`);
        exits.push(code);
      },
      log: { info: log('info'), warn: log('warn'), error: log('error') },
      timers: clock,
    },
  );
  return {
    clock,
    events,
    exits,
    onSignal,
    finishDrain: async () => {
      finishDrain();
      await settle();
    },
    failClose: () => {
      closeResult = Promise.reject(new Error('redis would not close'));
    },
  };
}

describe('shutdown sequence', () => {
  test('readiness fails at the signal; the drain starts only after the delay; close and exit 0 follow the drain', async () => {
    const h = harness({ delaySeconds: 5, graceSeconds: 10 });
    h.onSignal('SIGTERM');
    assert.deepEqual(
      h.events.filter((e) => !e.startsWith('info')),
      ['announce at 0'],
    );
    await h.clock.advance(4999);
    assert.ok(!h.events.some((e) => e.startsWith('drain')), h.events.join('\n'));
    await h.clock.advance(1);
    assert.ok(h.events.includes('drain at 5000'), h.events.join('\n'));
    await h.clock.advance(3000);
    await h.finishDrain();
    assert.deepEqual(
      h.events.filter((e) => !e.startsWith('info')),
      ['announce at 0', 'drain at 5000', 'close at 8000', 'exit 0 at 8000'],
    );
    assert.ok(h.events.includes('info: shut down cleanly'));
    // Nothing left to fire: the grace timer was cleared.
    await h.clock.advance(60_000);
    assert.deepEqual(h.exits, [0]);
  });

  test('the grace period counts from the drain: requests still open then exit 1', async () => {
    const h = harness({ delaySeconds: 2, graceSeconds: 10 });
    h.onSignal('SIGTERM');
    await h.clock.advance(11_999);
    assert.deepEqual(h.exits, []);
    await h.clock.advance(1);
    assert.deepEqual(h.exits, [1]);
    assert.ok(h.events.includes('exit 1 at 12000'));
    assert.ok(h.events.includes('error: grace period over: exiting with requests still open'));
    // A drain that ends afterwards changes nothing.
    await h.finishDrain();
    assert.deepEqual(h.exits, [1]);
  });

  test('a second signal exits 1 at once, during the delay as during the drain', async () => {
    const during = harness({ delaySeconds: 5, graceSeconds: 10 });
    during.onSignal('SIGTERM');
    await during.clock.advance(1000);
    during.onSignal('SIGINT');
    assert.deepEqual(during.exits, [1]);
    assert.ok(!during.events.some((e) => e.startsWith('drain')), 'the drain never started');
    await during.clock.advance(60_000);
    assert.deepEqual(during.exits, [1]);

    const draining = harness({ delaySeconds: 1, graceSeconds: 10 });
    draining.onSignal('SIGINT');
    await draining.clock.advance(2000);
    draining.onSignal('SIGTERM');
    assert.deepEqual(draining.exits, [1]);
    assert.ok(draining.events.includes('warn: second signal: exiting without waiting'));
  });

  test('SHUTDOWN_DELAY_SECONDS=0 drains at the signal', async () => {
    const h = harness({ delaySeconds: 0, graceSeconds: 10 });
    h.onSignal('SIGTERM');
    assert.deepEqual(
      h.events.filter((e) => !e.startsWith('info')),
      ['announce at 0', 'drain at 0'],
    );
    await h.finishDrain();
    assert.deepEqual(h.exits, [0]);
  });

  test('an error while closing exits 1', async () => {
    const h = harness({ delaySeconds: 0, graceSeconds: 10 });
    h.failClose();
    h.onSignal('SIGTERM');
    await h.finishDrain();
    assert.deepEqual(h.exits, [1]);
    assert.ok(h.events.includes('error: error while shutting down'));
  });
});
