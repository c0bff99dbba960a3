import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startProductionApp } from '../support/harness.js';
import { startTestIssuer } from '../support/issuer.js';

const base = { JWKS_COOLDOWN_SECONDS: '1', JWKS_FETCH_TIMEOUT_MS: '500' };

test('/readyz is 503 and tokens get 503 keys_unavailable until the JWKS can be loaded, then both recover', async () => {
  const issuer = await startTestIssuer();
  issuer.mode = 'down';
  const t = await startProductionApp(issuer, base);
  try {
    const notReady = await t.app.inject('/readyz');
    assert.equal(notReady.statusCode, 503);
    const detail = notReady.json() as { status: string; issuers: Array<{ issuer: string; ready: boolean; lastError: string | null }> };
    assert.equal(detail.status, 'not_ready');
    assert.equal(detail.issuers[0]?.issuer, issuer.issuer);
    assert.equal(detail.issuers[0]?.ready, false);
    assert.ok(detail.issuers[0]?.lastError);
    const refused = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${issuer.sessionToken('user_a')}` } });
    assert.equal(refused.statusCode, 503);
    assert.equal(refused.json().code, 'keys_unavailable');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((await t.app.inject('/healthz')).statusCode, 200, 'liveness does not depend on the issuer');

    issuer.mode = 'ok';
    await new Promise((r) => setTimeout(r, 1100));
    const issued = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${issuer.sessionToken('user_a')}` } });
    assert.equal(issued.statusCode, 200, issued.body);
    assert.equal((await t.app.inject('/readyz')).statusCode, 200);
  } finally {
    await t.app.close();
    await issuer.close();
  }
});

test('CLERK_JWT_KEY verifies without any network: the JWKS is never fetched', async () => {
  const issuer = await startTestIssuer();
  const t = await startProductionApp(issuer, { ...base, CLERK_JWT_KEY: issuer.publicKeyPem });
  try {
    assert.equal((await t.app.inject('/readyz')).statusCode, 200);
    const res = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${issuer.sessionToken('user_pem')}` } });
    assert.equal(res.statusCode, 200, res.body);
    const forged = await t.app.inject({
      method: 'POST',
      url: '/stream/token',
      headers: { authorization: `Bearer ${issuer.sessionToken('user_pem').slice(0, -6)}AAAAAA` },
    });
    assert.equal(forged.statusCode, 401);
    assert.equal(issuer.jwksRequests, 0);
  } finally {
    await t.app.close();
    await issuer.close();
  }
});
