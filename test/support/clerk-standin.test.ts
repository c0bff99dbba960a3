import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClerkClient, verifyToken } from '@clerk/backend';
import { isClerkAPIResponseError } from '@clerk/backend/errors';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { startClerkStandIn, type ClerkStandIn } from './clerk-standin.js';

const SECRET_KEY = 'sk_test_standin0123456789abcdefghijklmnop';

let clerk: ClerkStandIn;
let client: ReturnType<typeof createClerkClient>;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

/** Verifies with a fresh remote key set, as a verifier that just started would. */
async function verifyWithJwks(token: string): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(clerk.jwksUrl)), {
    issuer: clerk.issuer,
    algorithms: ['RS256'],
  });
  return payload;
}

before(async () => {
  clerk = await startClerkStandIn({
    secretKey: SECRET_KEY,
    users: [
      { id: 'user_alice', first_name: 'Alice', last_name: 'Liddell', email_address: 'alice@example.com' },
      { id: 'user_bob', username: 'bob' },
    ],
    templates: { stream: { aud: 'stream-token-service', role: 'member' } },
  });
  client = createClerkClient({ secretKey: SECRET_KEY, apiUrl: clerk.apiUrl });
});

after(async () => {
  await clerk.close();
});

describe('Backend API with @clerk/backend', () => {
  it('creates a session for a known user', async () => {
    const session = await client.sessions.createSession({ userId: 'user_alice' });
    assert.match(session.id, /^sess_[0-9A-Za-z]{27}$/);
    assert.equal(session.userId, 'user_alice');
    assert.equal(session.status, 'active');
    assert.match(session.clientId, /^client_/);
    assert.equal(typeof session.createdAt, 'number');
    const call = clerk.calls.at(-1);
    assert.equal(call?.method, 'POST');
    assert.equal(call?.path, '/v1/sessions');
    assert.deepEqual(call?.body, { user_id: 'user_alice' });
    assert.equal(call?.authenticated, true);
    assert.equal(call?.headers.authorization, `Bearer ${SECRET_KEY}`);
    assert.ok(call?.headers['clerk-api-version']);
    const fetched = await client.sessions.getSession(session.id);
    assert.equal(fetched.id, session.id);
  });

  it('issues a session token that verifies against the JWKS', async () => {
    const session = await client.sessions.createSession({ userId: 'user_alice' });
    const token = await client.sessions.getToken(session.id);
    assert.equal(clerk.calls.at(-1)?.path, `/v1/sessions/${session.id}/tokens`);

    const header = decodeProtectedHeader(token.jwt);
    assert.deepEqual(header, { alg: 'RS256', cat: 'cl_B7d4PD111AAA', kid: clerk.kid, typ: 'JWT' });
    assert.match(clerk.kid, /^ins_/);

    const claims = await verifyWithJwks(token.jwt);
    assert.equal(claims.sub, 'user_alice');
    assert.equal(claims.sid, session.id);
    assert.equal(claims.iss, clerk.issuer);
    assert.equal(claims.azp, 'http://localhost:3000');
    assert.equal(claims.v, 2);
    assert.deepEqual(claims.fva, [0, -1]);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 60);
    assert.equal((claims.iat ?? 0) - (claims.nbf ?? 0), 10);
    assert.equal(typeof claims.jti, 'string');
    assert.equal(claims.sts, undefined);
    assert.equal(claims.o, undefined);
  });

  it('serves the same keys to verifyToken through GET /v1/jwks', async () => {
    const session = await client.sessions.createSession({ userId: 'user_bob' });
    const { jwt } = await client.sessions.getToken(session.id);
    const payload = await verifyToken(jwt, { secretKey: SECRET_KEY, apiUrl: clerk.apiUrl, skipJwksCache: true });
    assert.equal(payload.sub, 'user_bob');
    const jwksCall = clerk.calls.findLast((call) => call.path === '/v1/jwks');
    assert.equal(jwksCall?.authenticated, true);
  });

  it('issues template tokens with a custom lifetime', async () => {
    const session = await client.sessions.createSession({ userId: 'user_bob' });
    const { jwt } = await client.sessions.getToken(session.id, 'stream', 120);
    const call = clerk.calls.at(-1);
    assert.equal(call?.path, `/v1/sessions/${session.id}/tokens/stream`);
    assert.deepEqual(call?.body, { expires_in_seconds: 120 });
    const claims = await verifyWithJwks(jwt);
    assert.equal(claims.aud, 'stream-token-service');
    assert.equal(claims.role, 'member');
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 120);

    const missing = await rejection(client.sessions.getToken(session.id, 'nope'));
    assert.ok(isClerkAPIResponseError(missing));
    assert.equal(missing.status, 404);
  });

  it('adds sts for pending sessions and o for an active organization', async () => {
    const pending = clerk.createSession('user_bob', { status: 'pending' });
    const pendingClaims = await verifyWithJwks((await client.sessions.getToken(pending.id as string)).jwt);
    assert.equal(pendingClaims.sts, 'pending');

    const withOrg = clerk.createSession('user_alice', {
      organization: { id: 'org_123', slug: 'acme', role: 'admin', permissions: ['read', 'manage'], features: ['dashboard'] },
    });
    const orgClaims = await verifyWithJwks((await client.sessions.getToken(withOrg.id as string)).jwt);
    assert.deepEqual(orgClaims.o, { id: 'org_123', rol: 'admin', slg: 'acme', per: 'read,manage' });
    assert.equal(orgClaims.fea, 'o:dashboard');
  });

  it('returns the seeded user', async () => {
    const user = await client.users.getUser('user_alice');
    assert.equal(user.firstName, 'Alice');
    assert.equal(user.lastName, 'Liddell');
    assert.equal(user.primaryEmailAddress?.emailAddress, 'alice@example.com');
  });

  it('answers 404 resource_not_found for unknown users and sessions', async () => {
    const error = await rejection(client.sessions.createSession({ userId: 'user_nobody' }));
    assert.ok(isClerkAPIResponseError(error));
    assert.equal(error.status, 404);
    assert.equal(error.errors[0]?.code, 'resource_not_found');
    assert.equal(typeof error.clerkTraceId, 'string');
    const noSession = await rejection(client.sessions.getToken('sess_missing'));
    assert.ok(isClerkAPIResponseError(noSession));
    assert.equal(noSession.status, 404);
  });

  it('refuses tokens for revoked sessions', async () => {
    const session = await client.sessions.createSession({ userId: 'user_alice' });
    const revoked = await client.sessions.revokeSession(session.id);
    assert.equal(revoked.status, 'revoked');
    const error = await rejection(client.sessions.getToken(session.id));
    assert.ok(isClerkAPIResponseError(error));
    assert.equal(error.status, 404);
  });

  it('rejects a wrong secret key with 401 clerk_key_invalid and records the call as unauthenticated', async () => {
    const impostor = createClerkClient({ secretKey: 'sk_test_wrong', apiUrl: clerk.apiUrl });
    const error = await rejection(impostor.sessions.createSession({ userId: 'user_alice' }));
    assert.ok(isClerkAPIResponseError(error));
    assert.equal(error.status, 401);
    assert.equal(error.errors[0]?.code, 'clerk_key_invalid');
    const call = clerk.calls.at(-1);
    assert.equal(call?.authenticated, false);
    assert.equal(call?.status, 401);
    assert.match(call?.rejectedReason ?? '', /^clerk_key_invalid/);

    const verifyError = await rejection(
      verifyToken(clerk.mintSessionToken('user_alice'), { secretKey: 'sk_test_wrong', apiUrl: clerk.apiUrl, skipJwksCache: true }),
    );
    assert.match(String((verifyError as Error).message), /Secret Key is invalid/);
  });

  it('rejects a request without credentials with 401 authentication_invalid', async () => {
    const res = await fetch(`${clerk.apiUrl}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"user_id":"user_alice"}',
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const body = (await res.json()) as { errors: Array<Record<string, unknown>> };
    assert.equal(body.errors[0]?.code, 'authentication_invalid');
    assert.equal(typeof body.errors[0]?.long_message, 'string');
    assert.equal(clerk.calls.at(-1)?.authKind, 'none');
  });

  it('injects faults: 429 with Retry-After, 5xx, drops', async () => {
    clerk.failure = { status: 429, retryAfter: 3, times: 1 };
    const limited = await rejection(client.sessions.createSession({ userId: 'user_alice' }));
    assert.ok(isClerkAPIResponseError(limited));
    assert.equal(limited.status, 429);
    assert.equal(limited.retryAfter, 3);
    assert.equal(clerk.failure, null);

    clerk.failure = { status: 503, path: '/.well-known/jwks.json', times: 1 };
    await assert.rejects(verifyWithJwks(clerk.mintSessionToken('user_alice')));
    await verifyWithJwks(clerk.mintSessionToken('user_alice'));

    clerk.failure = { status: 0, times: 1 };
    const dropped = await rejection(client.users.getUser('user_alice'));
    assert.ok(isClerkAPIResponseError(dropped));
    assert.equal(dropped.errors[0]?.code, 'unexpected_error');
  });
});

describe('minted tokens', () => {
  it('honours extra claims, removals and lifetimes', async () => {
    const token = clerk.mintSessionToken(
      'user_carol',
      { azp: 'https://app.example.com', act: { sub: 'user_admin' }, fva: undefined },
      { expiresInSeconds: 300, sessionId: 'sess_fixed' },
    );
    const claims = await verifyWithJwks(token);
    assert.equal(claims.sub, 'user_carol');
    assert.equal(claims.sid, 'sess_fixed');
    assert.equal(claims.azp, 'https://app.example.com');
    assert.deepEqual(claims.act, { sub: 'user_admin' });
    assert.equal('fva' in claims, false);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 300);
  });

  it('mints expired, unknown-kid and badly signed tokens that fail verification', async () => {
    const expired = clerk.mintSessionToken('user_alice', {}, { expiresInSeconds: -5 });
    await assert.rejects(verifyWithJwks(expired), { code: 'ERR_JWT_EXPIRED' });
    const unknownKid = clerk.mintSessionToken('user_alice', {}, { kid: 'ins_unknown' });
    await assert.rejects(verifyWithJwks(unknownKid), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    const forged = clerk.mintSessionToken('user_alice', {}, { foreignKey: true });
    assert.equal(decodeProtectedHeader(forged).kid, clerk.kid);
    await assert.rejects(verifyWithJwks(forged), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  it('rotates the signing key', async () => {
    const oldKid = clerk.kid;
    const oldToken = clerk.mintSessionToken('user_alice');

    const kept = clerk.rotateKey({ keepPrevious: true });
    assert.notEqual(kept, oldKid);
    assert.deepEqual(
      clerk.jwks().keys.map((key) => key.kid),
      [kept, oldKid],
    );
    await verifyWithJwks(oldToken);
    const newToken = clerk.mintSessionToken('user_alice');
    assert.equal(decodeProtectedHeader(newToken).kid, kept);
    await verifyWithJwks(newToken);

    const replaced = clerk.rotateKey();
    assert.deepEqual(
      clerk.jwks().keys.map((key) => key.kid),
      [replaced],
    );
    await assert.rejects(verifyWithJwks(oldToken), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    await verifyWithJwks(clerk.mintSessionToken('user_alice'));
  });

  it('publishes RSA signing keys the way Clerk does', async () => {
    const res = await fetch(clerk.jwksUrl);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { keys: Array<Record<string, unknown>> };
    assert.deepEqual(Object.keys(body.keys[0] ?? {}).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    assert.equal(body.keys[0]?.kty, 'RSA');
    assert.equal(body.keys[0]?.use, 'sig');
    assert.equal(body.keys[0]?.e, 'AQAB');
    const call = clerk.calls.at(-1);
    assert.equal(call?.path, '/.well-known/jwks.json');
    assert.equal(call?.rejectedReason, undefined);
  });
});
