/**
 * Which tokens an issuer's configuration lets through, end to end: user id
 * namespaces across issuers, OIDC machine tokens, audience, authorized
 * parties and token types, and Clerk's required `typ`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { startProductionApp, type TestApp } from '../support/harness.js';
import { startTestIssuer, type TestIssuer } from '../support/issuer.js';

let clerk: TestIssuer;
let oidc: TestIssuer;
const apps: TestApp[] = [];

before(async () => {
  clerk = await startTestIssuer();
  oidc = await startTestIssuer();
});

after(async () => {
  for (const t of apps) await t.app.close();
  await clerk.close();
  await oidc.close();
});

/** Clerk (`clerk`) plus one OIDC issuer (`oidc`) with these entry fields. */
async function appWith(entry: Record<string, unknown>, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const t = await startProductionApp(clerk, {
    OIDC_ISSUERS: JSON.stringify([{ issuer: oidc.issuer, jwks_uri: oidc.jwksUrl, audience: 'chat-api', user_id_prefix: 'idp_', ...entry }]),
    ...env,
  });
  apps.push(t);
  return t.app;
}

function oidcToken(claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return oidc.sign({ iss: oidc.issuer, aud: 'chat-api', iat: now, exp: now + 60, ...claims }, header);
}

async function exchange(app: FastifyInstance, token: string): Promise<{ status: number; userId?: string; code?: string }> {
  const response = await app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${token}` } });
  const body = response.json() as { user_id?: string; code?: string };
  return {
    status: response.statusCode,
    ...(body.user_id !== undefined ? { userId: body.user_id } : {}),
    ...(body.code !== undefined ? { code: body.code } : {}),
  };
}

describe('user ids are bound to their issuer', () => {
  it('the same subject from two issuers is two Stream users', async () => {
    const app = await appWith({});
    assert.deepEqual(await exchange(app, clerk.sessionToken('user_2abc')), { status: 200, userId: 'user_2abc' });
    assert.deepEqual(await exchange(app, oidcToken({ sub: 'user_2abc' })), { status: 200, userId: 'idp_user_2abc' });
  });

  it('with several issuers, a Clerk subject must have the shape of a Clerk user id', async () => {
    const app = await appWith({});
    assert.deepEqual(await exchange(app, clerk.sessionToken('idp_alice')), { status: 401, code: 'invalid_subject' });
    assert.deepEqual(await exchange(app, clerk.sessionToken('user_')), { status: 401, code: 'invalid_subject' });
  });

  it('CLERK_USER_ID_PREFIX puts Clerk users under a prefix of their own', async () => {
    const app = await appWith({}, { CLERK_USER_ID_PREFIX: 'clerk_' });
    assert.deepEqual(await exchange(app, clerk.sessionToken('user_2abc')), { status: 200, userId: 'clerk_user_2abc' });
  });

  it('a prefixed id longer than Stream allows is refused, not cut', async () => {
    const app = await appWith({});
    assert.deepEqual(await exchange(app, oidcToken({ sub: 'x'.repeat(252) })), { status: 401, code: 'invalid_subject' });
    assert.deepEqual(await exchange(app, oidcToken({ sub: 'x'.repeat(251) })), { status: 200, userId: `idp_${'x'.repeat(251)}` });
  });
});

describe('OIDC machine tokens', () => {
  const machine: Array<[string, Record<string, unknown>]> = [
    ['sub equal to client_id (RFC 9068 client credentials)', { sub: 'svc-1', client_id: 'svc-1' }],
    ['sub equal to azp', { sub: 'svc-1', azp: 'svc-1' }],
    ['Auth0 gty client-credentials', { sub: 'svc-1', gty: 'client-credentials' }],
    ['Auth0 …@clients subject', { sub: 'AbC123@clients', azp: 'AbC123' }],
    ['Okta cid', { sub: 'svc-1', cid: 'svc-1' }],
    ['Entra idtyp app', { sub: 'svc-1', idtyp: 'app' }],
    ['Keycloak service account', { sub: 'f1d2', preferred_username: 'service-account-chat' }],
  ];
  for (const [name, claims] of machine) {
    it(`refuses ${name} by default with unsupported_token_type`, async () => {
      const app = await appWith({});
      assert.deepEqual(await exchange(app, oidcToken(claims)), { status: 401, code: 'unsupported_token_type' });
    });
  }

  it('accepts them with allow_machine_tokens, and end-user tokens either way', async () => {
    const app = await appWith({ allow_machine_tokens: true });
    assert.equal((await exchange(app, oidcToken({ sub: 'svc-1', client_id: 'svc-1' }))).status, 200);
    const strict = await appWith({});
    assert.deepEqual(await exchange(strict, oidcToken({ sub: 'alice', client_id: 'web-app' })), { status: 200, userId: 'idp_alice' });
  });
});

describe('OIDC audience, authorized parties and token types', () => {
  it('a token for another audience is refused; "*" accepts any audience', async () => {
    const app = await appWith({});
    assert.deepEqual(await exchange(app, oidcToken({ sub: 'alice', aud: 'billing-api' })), { status: 401, code: 'invalid_audience' });
    const any = await appWith({ audience: '*' });
    assert.equal((await exchange(any, oidcToken({ sub: 'alice', aud: 'billing-api' }))).status, 200);
  });

  it("authorized_parties checks azp, else client_id, else an ID token's sole audience", async () => {
    const app = await appWith({ authorized_parties: ['web-app', 'chat-api'] });
    assert.equal((await exchange(app, oidcToken({ sub: 'alice', azp: 'web-app' }))).status, 200);
    assert.equal((await exchange(app, oidcToken({ sub: 'alice', client_id: 'web-app' }))).status, 200);
    assert.equal((await exchange(app, oidcToken({ sub: 'alice' }))).status, 200, 'sole audience chat-api is listed');
    assert.deepEqual(await exchange(app, oidcToken({ sub: 'alice', azp: 'other-app' })), { status: 401, code: 'unauthorized_party' });
    assert.deepEqual(await exchange(app, oidcToken({ sub: 'alice', client_id: 'other-app' })), { status: 401, code: 'unauthorized_party' });
    assert.deepEqual(await exchange(app, oidcToken({ sub: 'alice', aud: ['chat-api', 'x'] })), { status: 401, code: 'unauthorized_party' });
  });

  it('token_types requires typ and one of the listed types, compared as RFC 7515 says', async () => {
    const app = await appWith({ token_types: ['at+jwt'] });
    assert.equal((await exchange(app, oidcToken({ sub: 'alice' }, { typ: 'at+jwt' }))).status, 200);
    assert.equal((await exchange(app, oidcToken({ sub: 'alice' }, { typ: 'application/AT+JWT' }))).status, 200);
    assert.deepEqual(await exchange(app, oidcToken({ sub: 'alice' }, { typ: 'JWT' })), { status: 401, code: 'unsupported_token_type' });
    assert.deepEqual(await exchange(app, oidcToken({ sub: 'alice' }, { typ: undefined })), { status: 401, code: 'unsupported_token_type' });
  });
});

describe('typ', () => {
  it('is required for Clerk and optional for OIDC ID tokens', async () => {
    const app = await appWith({});
    assert.deepEqual(await exchange(app, clerk.sign(clerkClaims('user_2abc'), { typ: undefined })), { status: 401, code: 'unsupported_token_type' });
    assert.equal((await exchange(app, clerk.sign(clerkClaims('user_2abc')))).status, 200);
    assert.equal((await exchange(app, oidcToken({ sub: 'alice' }, { typ: undefined }))).status, 200);
  });
});

function clerkClaims(sub: string): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: clerk.issuer, sub, azp: 'https://app.example.com', iat: now, exp: now + 60 };
}
