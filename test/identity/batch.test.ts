import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SessionTokenError } from '../../src/identity/errors.js';
import { BATCH_PASS_SIZE, SessionVerifier } from '../../src/identity/session-verifier.js';
import { NOW_S, TestClock, defaultTiming, issuerOptions, jsonResponse, memoryFetch, publicJwk, rsaKeyPair, signToken } from '../support/identity.js';

/**
 * Batch mode (what the HTTP server uses): tokens arriving in one turn of the
 * event loop are verified together after that turn's I/O. These tests hold it
 * to the same answers as one-at-a-time verification, and to giving the event
 * loop back between passes.
 */

const ISSUER = 'https://clerk.example.test';
const rsa = rsaKeyPair();
const rotated = rsaKeyPair();
let keys = [publicJwk(rsa.publicKey, { kid: 'rsa-1', alg: 'RS256' })];
const fetchKeys = memoryFetch(() => jsonResponse({ keys }));
const verifiers: SessionVerifier[] = [];
after(() => {
  for (const verifier of verifiers) verifier.close();
});

/** A verifier for the one test issuer; its keys come from `fetchJwks` (the shared in-memory JWKS by default). */
function newVerifier(batch: boolean, fetchJwks: typeof fetch = fetchKeys): SessionVerifier {
  const issuer = issuerOptions({ issuer: ISSUER, jwksUri: 'https://keys.example.test/jwks.json' });
  const verifier = new SessionVerifier({
    issuers: [issuer],
    keySetTiming: defaultTiming({ cooldownSeconds: 0 }),
    clockSkewSeconds: 5,
    now: new TestClock().now,
    fetch: fetchJwks,
    batch,
  });
  verifiers.push(verifier);
  return verifier;
}

const token = (sub: string, extra: Record<string, unknown> = {}, kid = 'rsa-1', key = rsa.privateKey): string =>
  signToken({ alg: 'RS256', kid, typ: 'JWT' }, { iss: ISSUER, sub, iat: NOW_S - 10, exp: NOW_S + 60, ...extra }, key, 'RS256');

type Outcome = { ok: true; userId: string } | { ok: false; code: string };
const settle = (promise: Promise<{ userId: string }>): Promise<Outcome> =>
  promise.then(
    (session) => ({ ok: true, userId: session.userId }),
    (error: unknown) => {
      assert.ok(error instanceof SessionTokenError, `not a SessionTokenError: ${String(error)}`);
      return { ok: false, code: error.code };
    },
  );

describe('batch verification', { timeout: 30_000 }, () => {
  it('answers every token of a mixed batch as one-at-a-time verification does', async () => {
    const one = newVerifier(false);
    const batched = newVerifier(true);
    await Promise.all([one.start(), batched.start()]);
    const tokens = Array.from({ length: 3 * BATCH_PASS_SIZE + 5 }, (_, i) => {
      switch (i % 5) {
        case 0:
          return token(`user_${i}`, { exp: NOW_S - 100 });
        case 1:
          return `${token(`user_${i}`).slice(0, -4)}AAAA`;
        case 2:
          return 'not.a.token';
        case 3:
          return token(`user_${i}`, { sts: 'pending' });
        default:
          return token(`user_${i}`);
      }
    });
    const inBatch = await Promise.all(tokens.map((t) => settle(batched.verify(t))));
    const alone: Outcome[] = [];
    for (const t of tokens) alone.push(await settle(one.verify(t)));
    assert.deepEqual(inBatch, alone);
    assert.deepEqual(
      new Set(alone.map((o) => (o.ok ? 'ok' : o.code))),
      new Set(['token_expired', 'invalid_signature', 'malformed_token', 'session_pending', 'ok']),
    );
  });

  it('verifies nothing before the turn is over, then everything queued in it', async () => {
    const verifier = newVerifier(true);
    await verifier.start();
    const settled: string[] = [];
    const pending = ['a', 'b', 'c'].map((id) => verifier.verify(token(`user_${id}`)).then((s) => settled.push(s.userId)));
    await Promise.resolve();
    assert.deepEqual(settled, [], 'still queued after a microtask');
    await Promise.all(pending);
    assert.deepEqual(settled, ['user_a', 'user_b', 'user_c'], 'in arrival order');
  });

  it('verifies everything queued in a turn before the next turn, so reading cannot run ahead of verifying', async () => {
    const verifier = newVerifier(true);
    await verifier.start();
    const events: string[] = [];
    const count = 3 * BATCH_PASS_SIZE + 1;
    const all = Array.from({ length: count }, (_, i) => verifier.verify(token(`user_${i}`)).then(() => events.push(`token ${i}`)));
    // Scheduled after the flush: it must find every token already settled.
    setImmediate(() => events.push('next'));
    await Promise.all(all);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(events.indexOf('next'), count, events.slice(-3).join(', '));
  });

  it('a token whose key must be fetched first waits alone; the rest of its batch does not', async () => {
    const verifier = newVerifier(true);
    await verifier.start();
    keys = [publicJwk(rsa.publicKey, { kid: 'rsa-1', alg: 'RS256' }), publicJwk(rotated.publicKey, { kid: 'rsa-2', alg: 'RS256' })];
    try {
      const order: string[] = [];
      const fresh = verifier.verify(token('user_rotated', {}, 'rsa-2', rotated.privateKey)).then((s) => order.push(s.userId));
      const known = verifier.verify(token('user_known')).then((s) => order.push(s.userId));
      await Promise.all([fresh, known]);
      assert.deepEqual(order, ['user_known', 'user_rotated']);
    } finally {
      keys = [publicJwk(rsa.publicKey, { kid: 'rsa-1', alg: 'RS256' })];
    }
  });
});

describe('batch verification when keys cannot be fetched', { timeout: 30_000 }, () => {
  it('a token for a key the JWKS cannot be refetched for is refused as keys_unavailable; its batch is unaffected', async () => {
    let down = false;
    const verifier = newVerifier(
      true,
      memoryFetch(() =>
        down ? Promise.reject(new TypeError('fetch failed')) : jsonResponse({ keys: [publicJwk(rsa.publicKey, { kid: 'rsa-1', alg: 'RS256' })] }),
      ),
    );
    await verifier.start();
    down = true;
    const [unknown, known] = await Promise.all([
      settle(verifier.verify(token('user_unknown_key', {}, 'rsa-9', rotated.privateKey))),
      settle(verifier.verify(token('user_known'))),
    ]);
    assert.deepEqual(known, { ok: true, userId: 'user_known' });
    assert.deepEqual(unknown, { ok: false, code: 'keys_unavailable' });
  });
});

/** `promise`, or a failure naming `what` if it has not settled within `ms`: a batch that is never flushed hangs. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} never resolved`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('batch verification over many turns', { timeout: 30_000 }, () => {
  it('resolves every batch, turn after turn, each of several passes, not only the first', async () => {
    const verifier = newVerifier(true);
    await verifier.start();
    const perTurn = 2 * BATCH_PASS_SIZE + 3;
    for (let turn = 1; turn <= 4; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      const ids = Array.from({ length: perTurn }, (_, i) => `user_${turn}_${i}`);
      const outcomes = await within(10_000, Promise.all(ids.map((id) => settle(verifier.verify(token(id))))), `batch ${turn}`);
      assert.deepEqual(
        outcomes,
        ids.map((userId) => ({ ok: true, userId })),
        `batch ${turn}`,
      );
    }
  });

  it('a token queued while a batch is being answered is verified in the next turn', async () => {
    const verifier = newVerifier(true);
    await verifier.start();
    const chained = verifier
      .verify(token('user_first'))
      .then(() => verifier.verify(token('user_second')))
      .then(() => verifier.verify(token('user_third')));
    const session = await within(10_000, chained, 'the third of three chained verifications');
    assert.equal(session.userId, 'user_third');
  });

  it("verifies each queued token once: a later turn does not take up an earlier turn's tokens again", async () => {
    const jwks = memoryFetch(() => jsonResponse({ keys: [publicJwk(rsa.publicKey, { kid: 'rsa-1', alg: 'RS256' })] }));
    const verifier = newVerifier(true, jwks);
    await verifier.start();
    // A kid the JWKS does not list costs one fetch each time the token is looked at.
    assert.deepEqual(await settle(verifier.verify(token('user_unknown_key', {}, 'rsa-9', rotated.privateKey))), { ok: false, code: 'unknown_key' });
    const fetches = jwks.calls.length;
    for (let turn = 0; turn < 3; turn++) assert.deepEqual(await settle(verifier.verify(token('user_known'))), { ok: true, userId: 'user_known' });
    assert.equal(jwks.calls.length, fetches);
  });
});
