import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { startProductionApp, type TestApp } from '../support/harness.js';
import { startTestIssuer } from '../support/issuer.js';
import { TestServer, publicJwk, rsaKeyPair, sendJson, signToken, type KeyPair } from '../support/identity.js';

/**
 * The token endpoint while the identity provider's JWKS is down, hung, or
 * back: what a client holding a token for a key the service has not loaded
 * is told, how long it waits, and how soon the service is ready again.
 */

const keyA = rsaKeyPair();
const keyB = rsaKeyPair();
const jwkA = publicJwk(keyA.publicKey, { kid: 'ins_key_a', use: 'sig', alg: 'RS256' });
const jwkB = publicJwk(keyB.publicKey, { kid: 'ins_key_b', use: 'sig', alg: 'RS256' });

interface JwksFixture {
  t: TestApp;
  server: TestServer;
  /** The app's clock, ms: tests move it past cooldowns instead of sleeping. */
  clock: { ms: number };
  exchange(key: KeyPair, kid: string): Promise<{ statusCode: number; code: unknown; retryAfter: unknown; ms: number }>;
  close(): Promise<void>;
}

/** An app whose Clerk issuer's JWKS is a local server serving key A, on a clock the test moves. */
async function jwksApp(env: Record<string, string>): Promise<JwksFixture> {
  const server = await new TestServer().listen();
  server.serveJson({ keys: [jwkA] });
  const clock = { ms: Date.now() };
  const t = await startProductionApp({ issuer: server.origin }, { LOG_LEVEL: 'silent', ...env }, { now: () => clock.ms });
  const exchange: JwksFixture['exchange'] = async (key, kid) => {
    const iat = Math.floor(clock.ms / 1000);
    const claims = { iss: server.origin, sub: 'user_alice', sid: 'sess_1', azp: 'https://app.example.com', iat, nbf: iat, exp: iat + 3600 };
    const token = signToken({ alg: 'RS256', kid, typ: 'JWT' }, claims, key.privateKey);
    const started = performance.now();
    const res = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${token}` } });
    const ms = performance.now() - started;
    return { statusCode: res.statusCode, code: (res.json() as { code?: unknown }).code, retryAfter: res.headers['retry-after'], ms };
  };
  return {
    t,
    server,
    clock,
    exchange,
    async close() {
      await t.app.close();
      await server.close();
    },
  };
}

test('a token for a new key during a JWKS outage gets 503 keys_unavailable, then 401 unknown_key once the JWKS answers without it', async () => {
  const f = await jwksApp({ JWKS_COOLDOWN_SECONDS: '30', JWKS_FETCH_TIMEOUT_MS: '2000' });
  try {
    assert.equal((await f.exchange(keyA, 'ins_key_a')).statusCode, 200);
    f.server.serveJson({ error: 'down' }, 500);
    f.clock.ms += 30_000;
    const during = await f.exchange(keyB, 'ins_key_b');
    assert.equal(during.statusCode, 503);
    assert.equal(during.code, 'keys_unavailable');
    assert.ok(Number(during.retryAfter) >= 1, 'Retry-After is set');
    assert.equal((await f.exchange(keyA, 'ins_key_a')).statusCode, 200, 'known keys keep working');

    f.server.serveJson({ keys: [jwkA] });
    f.clock.ms += 1000; // the first retry delay
    const after = await f.exchange(keyB, 'ins_key_b');
    assert.equal(after.statusCode, 401);
    assert.equal(after.code, 'unknown_key');
  } finally {
    await f.close();
  }
});

test('a hung JWKS delays a request for a new key by about JWKS_FETCH_WAIT_MS; the fetch lands for the requests after it', async () => {
  const f = await jwksApp({ JWKS_COOLDOWN_SECONDS: '30', JWKS_FETCH_TIMEOUT_MS: '3000', JWKS_FETCH_WAIT_MS: '300' });
  const held: ServerResponse[] = [];
  try {
    f.server.handler = (_req, res) => void held.push(res);
    f.clock.ms += 30_000;
    const hung = await f.exchange(keyB, 'ins_key_b');
    assert.equal(hung.statusCode, 503);
    assert.equal(hung.code, 'keys_unavailable');
    assert.ok(hung.ms >= 250 && hung.ms < 1500, `answered after ${hung.ms.toFixed(0)} ms`);
    assert.equal(held.length, 1);

    for (const res of held) sendJson(res, 200, { keys: [jwkA, jwkB] });
    let later = await f.exchange(keyB, 'ins_key_b');
    for (let tries = 0; later.statusCode !== 200 && tries < 20; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      later = await f.exchange(keyB, 'ins_key_b');
    }
    assert.equal(later.statusCode, 200);
    assert.equal(f.server.count('/.well-known/jwks.json'), 2, 'the later request used the fetch the first one started');
  } finally {
    for (const res of held) res.destroy();
    await f.close();
  }
});

test('a process that starts while the JWKS is down is ready within 3 s of its return (default cooldown)', async () => {
  const issuer = await startTestIssuer();
  issuer.mode = 'down';
  const t = await startProductionApp(issuer, { LOG_LEVEL: 'silent', JWKS_FETCH_TIMEOUT_MS: '500' });
  try {
    assert.equal((await t.app.inject('/readyz')).statusCode, 503);
    issuer.mode = 'ok';
    const back = performance.now();
    let ready = false;
    while (!ready && performance.now() - back < 3000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      ready = (await t.app.inject('/readyz')).statusCode === 200;
    }
    assert.ok(ready, 'not ready 3 s after the JWKS returned');
    const res = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${issuer.sessionToken('user_back')}` } });
    assert.equal(res.statusCode, 200, res.body);
  } finally {
    await t.app.close();
    await issuer.close();
  }
});
