import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SessionTokenError, type SessionTokenErrorCode } from '../../src/identity/errors.js';
import { KeySet } from '../../src/identity/key-set.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import type { AsymmetricAlgorithm, IssuerOptions } from '../../src/identity/types.js';
import { NOW_S, TestClock, defaultTiming, issuerOptions, jsonResponse, memoryFetch, publicJwk, rsaKeyPair, signToken } from '../support/identity.js';

/**
 * Which published key may verify which token: a JWK's own `alg` restricts it,
 * and a lookup after the cache time refreshes the set instead of waiting for
 * the background timer.
 */

const ISSUER = 'https://issuer.example.test';
const JWKS_URI = 'https://keys.example.test/jwks';
const keyA = rsaKeyPair();
const keyB = rsaKeyPair();

function allowing(algorithms: AsymmetricAlgorithm[]): IssuerOptions {
  return issuerOptions({ issuer: ISSUER, jwksUri: JWKS_URI, algorithms });
}

const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length > 0) closers.pop()!();
});

async function rejectsWith(lookup: () => unknown, code: SessionTokenErrorCode): Promise<void> {
  await assert.rejects(new Promise((resolve) => resolve(lookup())), (error: unknown) => {
    assert.ok(error instanceof SessionTokenError, `not a SessionTokenError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('a JWK restricted by its alg', () => {
  const token = (alg: AsymmetricAlgorithm, kid: string | undefined): string =>
    signToken({ alg, typ: 'JWT', ...(kid !== undefined ? { kid } : {}) }, { iss: ISSUER, sub: 'user_1', iat: NOW_S, exp: NOW_S + 60 }, keyA.privateKey, alg);

  function verifierServing(jwk: Record<string, unknown>): SessionVerifier {
    const verifier = new SessionVerifier({
      issuers: [allowing(['RS256', 'PS256'])],
      keySetTiming: defaultTiming(),
      clockSkewSeconds: 0,
      now: new TestClock().now,
      fetch: memoryFetch(() => jsonResponse({ keys: [jwk] })),
    });
    closers.push(() => verifier.close());
    return verifier;
  }

  it('a key published with alg RS256 never verifies a PS256 token, though the issuer allows both', async () => {
    const verifier = verifierServing(publicJwk(keyA.publicKey, { kid: 'k', alg: 'RS256' }));
    await verifier.start();
    assert.equal((await verifier.verify(token('RS256', 'k'))).userId, 'user_1');
    await rejectsWith(() => verifier.verify(token('PS256', 'k')), 'invalid_signature');
    await rejectsWith(() => verifier.verify(token('PS256', undefined)), 'unknown_key');
  });

  it("the same key published without alg verifies both (the refusal above is the alg's doing)", async () => {
    const verifier = verifierServing(publicJwk(keyA.publicKey, { kid: 'k' }));
    await verifier.start();
    assert.equal((await verifier.verify(token('RS256', 'k'))).userId, 'user_1');
    assert.equal((await verifier.verify(token('PS256', 'k'))).userId, 'user_1');
  });
});

describe('lazy refresh after the cache time', () => {
  it('a key the issuer removed stops verifying once a lookup at the cache time has refreshed, before any timer', async () => {
    let keys = [publicJwk(keyA.publicKey, { kid: 'key-a', alg: 'RS256' })];
    const fetchImpl = memoryFetch(() => jsonResponse({ keys }));
    const clock = new TestClock();
    // Real timers: the background refresh is 300 s away, so only a lookup can start one here.
    const keySet = new KeySet({
      issuer: allowing(['RS256']),
      timing: defaultTiming({ cacheTtlSeconds: 300, cooldownSeconds: 30 }),
      fetch: fetchImpl,
      now: clock.now,
    });
    closers.push(() => keySet.close());
    await keySet.start();
    keys = [publicJwk(keyB.publicKey, { kid: 'key-b', alg: 'RS256' })];

    clock.advanceSeconds(299);
    const inside = keySet.getKey('key-a', 'RS256');
    assert.ok(!(inside instanceof Promise) && inside.equals(keyA.publicKey), 'inside the cache time the removed key still verifies');
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fetchImpl.calls.length, 1, 'no refresh before the cache time');

    clock.advanceSeconds(1);
    assert.ok(!(keySet.getKey('key-a', 'RS256') instanceof Promise), 'answered at once; the refresh runs behind it');
    for (let turn = 0; turn < 200 && keySet.status().keyAgeSeconds !== 0; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fetchImpl.calls.length, 2, 'the lookup at the cache time started a refresh');
    assert.equal(keySet.status().keyAgeSeconds, 0, 'and it finished');
    await rejectsWith(() => keySet.getKey('key-a', 'RS256'), 'unknown_key');
    assert.ok(!(keySet.getKey('key-b', 'RS256') instanceof Promise));
    assert.equal(fetchImpl.calls.length, 2);
  });
});
