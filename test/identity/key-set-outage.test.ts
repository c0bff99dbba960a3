import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SessionTokenError, type SessionTokenErrorCode } from '../../src/identity/errors.js';
import { retryDelayMs } from '../../src/identity/fetch-schedule.js';
import { KeySet } from '../../src/identity/key-set.js';
import type { KeySetTiming } from '../../src/identity/types.js';
import { TestClock, defaultTiming, issuerOptions, jsonResponse, memoryFetch, publicJwk, rsaKeyPair } from '../support/identity.js';

/**
 * What a key set does while its issuer cannot be reached: how soon it tries
 * again, and what a token naming a key it does not know is told meanwhile.
 */

const keyA = rsaKeyPair();
const keyB = rsaKeyPair();
const jwkA = publicJwk(keyA.publicKey, { kid: 'key-a', use: 'sig', alg: 'RS256' });
const jwkB = publicJwk(keyB.publicKey, { kid: 'key-b', use: 'sig', alg: 'RS256' });

const cleanup: Array<() => void> = [];
afterEach(() => {
  while (cleanup.length > 0) cleanup.pop()!();
});

/** A key set on a test clock whose JWKS answers `document()`, or 500 while `state.down`. */
function keySetWith(timing: Partial<KeySetTiming>, initial: unknown = { keys: [jwkA] }) {
  const state = { down: false, document: initial };
  const fetchImpl = memoryFetch(() => (state.down ? jsonResponse({ error: 'down' }, 500) : jsonResponse(state.document)));
  const clock = new TestClock();
  const issuer = issuerOptions({ issuer: 'https://issuer.example.test', jwksUri: 'https://keys.example.test/jwks' });
  const keySet = new KeySet({ issuer, timing: defaultTiming(timing), fetch: fetchImpl, now: clock.now });
  cleanup.push(() => keySet.close());
  return { keySet, clock, state, fetches: () => fetchImpl.calls.length };
}

async function lookupFails(keySet: KeySet, kid: string, code: SessionTokenErrorCode): Promise<void> {
  await assert.rejects(
    Promise.resolve().then(() => keySet.getKey(kid, 'RS256')),
    (error: unknown) => {
      assert.ok(error instanceof SessionTokenError, String(error));
      assert.equal(error.code, code, error.message);
      return true;
    },
  );
}

describe('a new kid while the issuer is down', () => {
  it('is keys_unavailable (retry) while fetches fail, and unknown_key once the issuer answers without it', async () => {
    const { keySet, clock, state, fetches } = keySetWith({ cooldownSeconds: 30 });
    await keySet.start();
    state.down = true;
    clock.advanceSeconds(30);
    await lookupFails(keySet, 'key-b', 'keys_unavailable'); // its fetch failed
    assert.equal(fetches(), 2);
    await lookupFails(keySet, 'key-b', 'keys_unavailable'); // no fetch during the backoff: the last one failed
    assert.equal(fetches(), 2);
    assert.ok(!(keySet.getKey('key-a', 'RS256') instanceof Promise), 'the known key keeps verifying');

    state.down = false;
    clock.advanceSeconds(1);
    await lookupFails(keySet, 'key-b', 'unknown_key');
    assert.equal(fetches(), 3);

    state.document = { keys: [jwkA, jwkB] };
    clock.advanceSeconds(29);
    await lookupFails(keySet, 'key-b', 'unknown_key'); // the cooldown after a success still holds
    assert.equal(fetches(), 3);
    clock.advanceSeconds(1);
    assert.ok(await keySet.getKey('key-b', 'RS256'));
    assert.equal(fetches(), 4);
  });

  it('is keys_unavailable at once with a fetch wait of 0, and the fetch still lands for later lookups', async () => {
    const { keySet, clock, state } = keySetWith({ cooldownSeconds: 30, fetchWaitMs: 0 });
    await keySet.start();
    state.document = { keys: [jwkA, jwkB] };
    clock.advanceSeconds(30);
    await lookupFails(keySet, 'key-b', 'keys_unavailable');
    await keySet.refresh(); // the fetch that lookup started
    assert.ok(!(keySet.getKey('key-b', 'RS256') instanceof Promise));
  });
});

describe('retries after failed fetches', () => {
  it('wait 1 s, then 2 s at most while no keys have loaded, so an issuer down at start is used within 2 s of its return', async () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 40].map((n) => retryDelayMs(n, 30_000)),
      [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000],
    );
    const { keySet, clock, state, fetches } = keySetWith({ cooldownSeconds: 30 });
    state.down = true;
    await keySet.start();
    assert.equal(fetches(), 1);
    const expectRetryAfter = retryChecker(keySet, clock, fetches, 'keys_unavailable');
    for (const seconds of [1, 2, 2, 2, 2, 2, 2]) await expectRetryAfter(seconds);
    assert.equal(keySet.isReady(), false);

    state.down = false;
    clock.advanceSeconds(2);
    assert.ok(await keySet.getKey('key-a', 'RS256'));
    assert.equal(keySet.isReady(), true);
  });

  it('with keys loaded, wait 1, 2, 4, 8 and 16 s, then the cooldown, and start again at 1 s after a success', async () => {
    const { keySet, clock, state, fetches } = keySetWith({ cooldownSeconds: 30 });
    await keySet.start();
    assert.equal(keySet.isReady(), true);
    state.down = true;
    clock.advanceSeconds(600); // the cache TTL
    void keySet.getKey('key-a', 'RS256');
    await keySet.refresh();
    assert.equal(keySet.status().stale, true);
    const expectRetryAfter = retryChecker(keySet, clock, fetches, 'unknown-kid-ok');
    for (const seconds of [1, 2, 4, 8, 16, 30, 30]) await expectRetryAfter(seconds);

    state.down = false;
    clock.advanceSeconds(30);
    void keySet.getKey('key-a', 'RS256');
    await keySet.refresh();
    assert.equal(keySet.status().stale, false);

    // A failed background refresh backs off from 1 s again.
    state.down = true;
    clock.advanceSeconds(600);
    void keySet.getKey('key-a', 'RS256');
    await keySet.refresh();
    const before = fetches();
    clock.advanceSeconds(1);
    void keySet.getKey('key-a', 'RS256');
    await keySet.refresh();
    assert.equal(fetches(), before + 1);
  });
});

/** Each step: one millisecond early, no fetch; on time, one fetch (triggered by a lookup, as a request would). */
function retryChecker(keySet: KeySet, clock: TestClock, fetches: () => number, mode: 'keys_unavailable' | 'unknown-kid-ok') {
  const lookup = async (): Promise<void> => {
    if (mode === 'keys_unavailable') await lookupFails(keySet, 'key-a', 'keys_unavailable');
    else {
      void keySet.getKey('key-a', 'RS256');
      await keySet.refresh();
    }
  };
  return async (seconds: number): Promise<void> => {
    const before = fetches();
    clock.ms += seconds * 1000 - 1;
    await lookup();
    assert.equal(fetches(), before, `no retry before ${seconds} s`);
    clock.ms += 1;
    await lookup();
    assert.equal(fetches(), before + 1, `a retry after ${seconds} s`);
  };
}
