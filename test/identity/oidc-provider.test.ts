import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../../src/config/index.js';
import type { AppDependencies } from '../../src/server.js';
import { startApp, TEST_STREAM_KEY, TEST_STREAM_SECRET, type TestApp } from '../support/harness.js';
import { PROVIDER_ALGORITHMS, startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.js';

/**
 * The service against a real OpenID Provider (panva's oidc-provider): tokens
 * come out of its authorization code and client credentials grants, and the
 * service finds the keys by discovery, as it would with any provider.
 */

const RESOURCE = 'https://chat.example.test/';
const ELSEWHERE = 'https://elsewhere.example.test/';

let providerA: OidcTestProvider;
let providerB: OidcTestProvider;
const cleanup: Array<() => Promise<unknown>> = [];

before(async () => {
  [providerA, providerB] = await Promise.all([startOidcProvider(), startOidcProvider()]);
  cleanup.push(
    () => providerA.close(),
    () => providerB.close(),
  );
});
after(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** An app that trusts `issuers` (OIDC_ISSUERS entries), with a one-second JWKS cooldown. */
async function service(issuers: Array<Record<string, unknown>>, deps: AppDependencies = {}): Promise<TestApp> {
  const config = loadConfig({
    env: {
      STREAM_API_KEY: TEST_STREAM_KEY,
      STREAM_API_SECRET: TEST_STREAM_SECRET,
      STREAM_SYNC_USERS: 'false',
      JWKS_COOLDOWN_SECONDS: '1',
      OIDC_ISSUERS: JSON.stringify(issuers),
    },
    cwd: mkdtempSync(join(tmpdir(), 'sts-oidc-')),
  });
  const t = await startApp(config, deps);
  cleanup.push(() => t.app.close());
  return t;
}

async function exchange(t: TestApp, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

/** A 200 whose Stream token is for `userId`. */
async function assertExchanged(t: TestApp, token: string, userId: string): Promise<void> {
  const { status, body } = await exchange(t, token);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body['user_id'], userId);
  const claims = jwt.verify(body['token'] as string, TEST_STREAM_SECRET, { algorithms: ['HS256'] }) as Record<string, unknown>;
  assert.equal(claims['user_id'], userId);
}

async function assertRefused(t: TestApp, token: string, code: string): Promise<void> {
  const { status, body } = await exchange(t, token);
  assert.deepEqual({ status, code: body['code'] }, { status: 401, code });
}

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
  return { header: header!, payload: payload! };
}

describe('ID tokens from the authorization code flow', () => {
  let t: TestApp;
  before(async () => {
    t = await service([
      {
        issuer: providerA.issuer,
        audience: [...PROVIDER_ALGORITHMS.map((alg) => providerA.clientId(alg)), RESOURCE],
        algorithms: [...PROVIDER_ALGORITHMS],
      },
    ]);
  });

  for (const alg of PROVIDER_ALGORITHMS) {
    it(`exchanges an ID token signed with ${alg} for a Stream token of the account`, async () => {
      const { idToken, clientId } = await providerA.signIn(`ada_${alg}`, { alg });
      const { header, payload } = decode(idToken);
      assert.deepEqual(header, { alg, typ: 'JWT', kid: providerA.kid(alg) });
      assert.deepEqual([payload['iss'], payload['aud'], payload['sub']], [providerA.issuer, clientId, `ada_${alg}`]);
      await assertExchanged(t, idToken, `ada_${alg}`);
    });
  }

  it('exchanges the RFC 9068 access token a signed-in user got for the resource', async () => {
    const { accessToken } = await providerA.signIn('grace', { resource: RESOURCE });
    const { header, payload } = decode(accessToken!);
    assert.equal(header['typ'], 'at+jwt');
    assert.deepEqual([payload['aud'], payload['sub'], payload['client_id']], [RESOURCE, 'grace', providerA.clientId()]);
    await assertExchanged(t, accessToken!, 'grace');
  });

  it('refuses an ID token issued to another client: 401 invalid_audience', async () => {
    const { idToken, clientId } = await providerA.signIn('ada', { app: 'other' });
    assert.equal(decode(idToken).payload['aud'], clientId);
    await assertRefused(t, idToken, 'invalid_audience');
  });

  it('refuses an access token for another resource: 401 invalid_audience', async () => {
    const { accessToken } = await providerA.signIn('ada', { resource: ELSEWHERE });
    assert.equal(decode(accessToken!).payload['aud'], ELSEWHERE);
    await assertRefused(t, accessToken!, 'invalid_audience');
  });
});

describe('key rotation', () => {
  it('accepts the new kid after one JWKS refetch; the removed key is unknown_key, even after the next refetch', async () => {
    const provider = await startOidcProvider();
    cleanup.push(() => provider.close());
    // The clock moves past the cooldown instead of the test sleeping through it.
    let offsetMs = 0;
    const t = await service([{ issuer: provider.issuer, audience: provider.clientId() }], { now: () => Date.now() + offsetMs });
    assert.equal(provider.jwksRequests, 1);
    const original = (await provider.signIn('ada')).idToken;
    await assertExchanged(t, original, 'ada');

    const oldKid = provider.kid('RS256');
    provider.rotateKeys();
    const rotated = (await provider.signIn('ada')).idToken;
    assert.notEqual(decode(rotated).header['kid'], oldKid);
    offsetMs += 1000;
    await assertExchanged(t, rotated, 'ada');
    assert.equal(provider.jwksRequests, 2, 'the unknown kid made the service fetch the JWKS once');

    await assertRefused(t, original, 'unknown_key');
    assert.equal(provider.jwksRequests, 2, 'no second fetch inside the cooldown');
    offsetMs += 1000;
    await assertRefused(t, original, 'unknown_key');
    assert.equal(provider.jwksRequests, 3);
    await assertExchanged(t, rotated, 'ada');
  });
});

describe('two issuers', () => {
  let t: TestApp;
  before(async () => {
    t = await service([
      { issuer: providerA.issuer, audience: providerA.clientId(), user_id_prefix: 'a_' },
      { issuer: providerB.issuer, audience: providerB.clientId(), user_id_prefix: 'b_' },
    ]);
  });

  it("accepts each issuer's ID tokens, each issuer's users under its own prefix", async () => {
    await assertExchanged(t, (await providerA.signIn('ada')).idToken, 'a_ada');
    await assertExchanged(t, (await providerB.signIn('ada')).idToken, 'b_ada');
  });

  it("refuses a token naming issuer A but signed with issuer B's key, whichever kid it names", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: providerA.issuer, aud: providerA.clientId(), sub: 'mallory', iat: now, exp: now + 60 };
    await assertRefused(t, await providerB.forge(claims), 'unknown_key');
    await assertRefused(t, await providerB.forge(claims, 'RS256', providerA.kid('RS256')), 'invalid_signature');
  });
});

describe('client credentials (RFC 9068 access tokens without an end user)', () => {
  async function machineToken(): Promise<string> {
    const { accessToken, clientId } = await providerA.clientCredentials({ resource: RESOURCE });
    const { header, payload } = decode(accessToken);
    assert.equal(header['typ'], 'at+jwt');
    assert.deepEqual([payload['aud'], payload['sub'], payload['client_id']], [RESOURCE, clientId, clientId]);
    return accessToken;
  }

  it('refuses them by default: 401 unsupported_token_type', async () => {
    const t = await service([{ issuer: providerA.issuer, audience: RESOURCE }]);
    await assertRefused(t, await machineToken(), 'unsupported_token_type');
  });

  it('accepts them from an issuer with allow_machine_tokens, the client id as the user', async () => {
    const t = await service([{ issuer: providerA.issuer, audience: RESOURCE, allow_machine_tokens: true }]);
    await assertExchanged(t, await machineToken(), providerA.clientId());
  });
});
