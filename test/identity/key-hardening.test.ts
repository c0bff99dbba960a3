import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { SessionTokenError } from '../../src/identity/errors.js';
import { keyFitsAlgorithm } from '../../src/identity/jws.js';
import { KeySet } from '../../src/identity/key-set.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import type { IssuerOptions } from '../../src/identity/types.js';
import { startProductionApp } from '../support/harness.js';
import { NOW_MS, NOW_S, TestClock, defaultTiming, issuerOptions, jsonResponse, memoryFetch, publicJwk, rsaKeyPair, signToken } from '../support/identity.js';

const ISSUER = 'https://login.example.test';

function oidcIssuer(overrides: Partial<IssuerOptions> = {}): IssuerOptions {
  return issuerOptions({ kind: 'oidc', issuer: ISSUER, jwksUri: `${ISSUER}/jwks`, audience: ['chat'], ...overrides });
}

const claims = { iss: ISSUER, sub: 'alice', aud: 'chat', iat: NOW_S, exp: NOW_S + 60 };

describe('RSA keys', () => {
  it('need an odd public exponent of at least 3', () => {
    const { publicKey } = rsaKeyPair();
    assert.equal(keyFitsAlgorithm(publicKey, 'RS256'), true);
    const three = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey;
    assert.equal(keyFitsAlgorithm(three, 'RS256'), true);
    for (const e of ['AQ' /* 1 */, 'Ag' /* 2 */, 'AQAA' /* 65536 */]) {
      const jwk = { ...publicJwk(publicKey), e };
      const weak = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
      assert.equal(keyFitsAlgorithm(weak, 'RS256'), false, `e=${e}`);
      assert.equal(keyFitsAlgorithm(weak, 'PS256'), false, `e=${e}`);
    }
  });

  it('with a weak exponent are left out of a JWKS and cannot verify its tokens', async () => {
    const pair = rsaKeyPair();
    const jwks = { keys: [{ ...publicJwk(pair.publicKey, { kid: 'weak' }), e: 'AQ' }, publicJwk(rsaKeyPair().publicKey, { kid: 'good' })] };
    const verifier = new SessionVerifier({
      issuers: [oidcIssuer()],
      keySetTiming: defaultTiming(),
      clockSkewSeconds: 5,
      now: () => NOW_MS,
      fetch: memoryFetch(() => jsonResponse(jwks)),
    });
    await verifier.start();
    assert.equal(verifier.status()[0]?.keyCount, 1);
    await assert.rejects(
      verifier.verify(signToken({ alg: 'RS256', kid: 'weak' }, claims, pair.privateKey)),
      (e: unknown) => e instanceof SessionTokenError && e.code === 'unknown_key',
    );
    verifier.close();
  });
});

describe('OIDC discovery', () => {
  const LOCAL_URIS = [
    'http://127.0.0.1:6379/jwks',
    'http://localhost:8080/jwks',
    'http://[::1]:9000/jwks',
    'https://[::ffff:127.0.0.1]/jwks',
    'https://0.0.0.0/jwks',
    'https://[::]/jwks',
    'https://localhost./jwks',
    'https://admin.localhost/jwks',
    'https://169.254.169.254/latest/meta-data',
    'https://[fe80::1]/jwks',
    'https://2130706433/jwks',
  ];
  for (const jwksUri of LOCAL_URIS) {
    it(`refuses jwks_uri ${jwksUri} from an issuer that is not on loopback`, async () => {
      const fetchImpl = memoryFetch((url) =>
        url.endsWith('/.well-known/openid-configuration') ? jsonResponse({ issuer: ISSUER, jwks_uri: jwksUri }) : jsonResponse({ keys: [] }),
      );
      const keySet = new KeySet({ issuer: oidcIssuer({ jwksUri: undefined }), timing: defaultTiming(), fetch: fetchImpl });
      await keySet.start();
      keySet.close();
      assert.equal(keySet.isReady(), false);
      assert.match(keySet.status().lastError ?? '', /loopback, link-local or unspecified|must use https/);
      assert.deepEqual(fetchImpl.calls, [`${ISSUER}/.well-known/openid-configuration`], 'the local address was never fetched');
    });
  }

  it('allows a loopback jwks_uri when the issuer itself is on loopback', async () => {
    const issuer = 'http://127.0.0.1:4444';
    const fetchImpl = memoryFetch((url) =>
      url.endsWith('/.well-known/openid-configuration')
        ? jsonResponse({ issuer, jwks_uri: 'http://localhost:4444/jwks' })
        : jsonResponse({ keys: [publicJwk(rsaKeyPair().publicKey)] }),
    );
    const keySet = new KeySet({ issuer: oidcIssuer({ issuer, jwksUri: undefined }), timing: defaultTiming(), fetch: fetchImpl });
    await keySet.start();
    keySet.close();
    assert.equal(keySet.isReady(), true);
  });
});

describe('a JWKS the issuer has emptied', () => {
  it('is authoritative: removed keys stop verifying at the next fetch, not after the stale limit', async () => {
    const pair = rsaKeyPair();
    let jwks: { keys: unknown[] } = { keys: [publicJwk(pair.publicKey, { kid: 'k1' })] };
    const clock = new TestClock();
    const verifier = new SessionVerifier({
      issuers: [oidcIssuer()],
      keySetTiming: defaultTiming({ cacheTtlSeconds: 60, cooldownSeconds: 1, maxStaleSeconds: 86_400 }),
      clockSkewSeconds: 5,
      now: clock.now,
      fetch: memoryFetch(() => jsonResponse(jwks)),
    });
    await verifier.start();
    const token = () =>
      signToken({ alg: 'RS256', kid: 'k1' }, { ...claims, iat: Math.floor(clock.ms / 1000), exp: Math.floor(clock.ms / 1000) + 60 }, pair.privateKey);
    assert.equal((await verifier.verify(token())).userId, 'alice');
    jwks = { keys: [] };
    clock.advanceSeconds(61);
    await verifier.verify(token()).catch(() => undefined); // past the cache time: starts the refresh
    await new Promise((resolve) => setImmediate(resolve));
    clock.advanceSeconds(2);
    await assert.rejects(verifier.verify(token()), (e: unknown) => e instanceof SessionTokenError && e.code === 'unknown_key');
    assert.equal(verifier.status()[0]?.keyCount, 0);
    verifier.close();
  });
});

describe('/readyz', () => {
  it('shows fetch failures without addresses, ports or error codes', async () => {
    const t = await startProductionApp({ issuer: 'http://127.0.0.1:9' }, { CLERK_JWKS_URL: 'http://127.0.0.1:9/jwks', JWKS_FETCH_TIMEOUT_MS: '500' });
    try {
      const response = await t.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(response.statusCode, 503);
      const [issuer] = (response.json() as { issuers: Array<{ lastError: string }> }).issuers;
      assert.equal(issuer?.lastError, 'the issuer could not be reached');
      assert.doesNotMatch(response.body, /ECONNREFUSED|:9\/|request failed/);
      assert.ok(
        t.logs.records.some((r) => /request failed/.test(String(r.reason))),
        'the log keeps the detail for operators',
      );
    } finally {
      await t.app.close();
    }
  });
});
