import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import jwt from 'jsonwebtoken';
import { Webhook } from 'svix';
import { runCli } from '../../src/cli/run.js';
import { loadConfig } from '../../src/config/index.js';
import { startApp, type TestApp } from '../support/harness.js';
import { startClerkStandIn, type ClerkStandIn } from '../support/clerk-standin.js';
import { startStreamStandIn, type StreamStandIn } from '../support/stream-standin.js';

/**
 * The whole path with the official SDKs on both sides: Clerk's Backend API
 * (@clerk/backend, through the CLI) mints real-shaped session tokens, the
 * service verifies them against the JWKS, and the Stream server SDK keeps the
 * user record in step on a stand-in that checks every call's credentials.
 */

const STREAM_KEY = 'e2estreamkey';
const STREAM_SECRET = 'e2e-stream-secret-0123456789abcdef';
const CLERK_SECRET = 'sk_test_e2e_clerk_secret_key_000';
const WEBHOOK_SECRET = `whsec_${Buffer.from('e2e-webhook-secret-bytes-32-long!').toString('base64')}`;

let clerk: ClerkStandIn;
let stream: StreamStandIn;

async function service(env: Record<string, string> = {}): Promise<TestApp> {
  const config = loadConfig({
    env: {
      STREAM_API_KEY: STREAM_KEY,
      STREAM_API_SECRET: STREAM_SECRET,
      STREAM_API_BASE_URL: stream.baseURL,
      CLERK_JWT_ISSUER: clerk.issuer,
      CLERK_JWKS_URL: clerk.jwksUrl,
      CLERK_AUTHORIZED_PARTIES: 'http://localhost:3000',
      CLERK_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STREAM_ROLE_MAP: 'org:admin=admin,org:moderator=moderator',
      JWKS_COOLDOWN_SECONDS: '1',
      STREAM_API_TIMEOUT_MS: '500',
      ...env,
    },
    cwd: mkdtempSync(join(tmpdir(), 'sts-e2e-')),
  });
  return startApp(config);
}

const exchange = (t: TestApp, token: string, url = '/stream/token') => t.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` } });

before(async () => {
  clerk = await startClerkStandIn({ secretKey: CLERK_SECRET, users: [{ id: 'user_e2e', first_name: 'Ada', last_name: 'Lovelace' }] });
  stream = await startStreamStandIn({ apiKey: STREAM_KEY, apiSecret: STREAM_SECRET });
});
after(async () => {
  await clerk.close();
  await stream.close();
});
beforeEach(() => {
  stream.reset();
  stream.failure = null;
});

describe('Clerk session token → Stream token', () => {
  test("clerk-token gets a session token through Clerk's Backend API, and the service exchanges it", async () => {
    let out = '';
    let err = '';
    const code = await runCli(['clerk-token', '--user-id', 'user_e2e'], {
      env: { CLERK_SECRET_KEY: CLERK_SECRET, CLERK_API_URL: clerk.apiUrl },
      cwd: mkdtempSync(join(tmpdir(), 'sts-e2e-cli-')),
      stdout: (s) => (out += s),
      stderr: (s) => (err += s),
    });
    assert.equal(code, 0, err);
    const sessionToken = out.trim();
    const header = JSON.parse(Buffer.from(sessionToken.split('.')[0] as string, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(header.cat, 'cl_B7d4PD111AAA', 'Clerk session tokens carry the session category');
    assert.ok(clerk.calls.some((c) => c.method === 'POST' && c.path === '/v1/sessions' && c.authenticated));

    const t = await service();
    try {
      const res = await exchange(t, sessionToken);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { token: string; user_id: string; api_key: string };
      assert.equal(body.user_id, 'user_e2e');
      assert.equal(body.api_key, STREAM_KEY);
      const claims = jwt.verify(body.token, STREAM_SECRET) as Record<string, unknown>;
      assert.equal(claims.user_id, 'user_e2e');
      // The Stream user was upserted through the SDK, authenticated as a server.
      const upserts = stream.calls.filter((c) => c.method === 'POST' && c.path === '/users');
      assert.equal(upserts.length, 1);
      assert.ok(stream.calls.every((c) => c.authenticated && c.authKind === 'server'));
      assert.equal(stream.users.get('user_e2e')?.role, 'user');
    } finally {
      await t.app.close();
    }
    const wrongKey = await runCli(['clerk-token', '--user-id', 'user_e2e'], {
      env: { CLERK_SECRET_KEY: 'sk_test_wrong', CLERK_API_URL: clerk.apiUrl },
      cwd: tmpdir(),
      stdout: () => undefined,
      stderr: (s) => (err = s),
    });
    assert.equal(wrongKey, 1);
    assert.match(err, /Clerk refused/);
    const noKey = await runCli(['clerk-token', '--user-id', 'u'], {
      env: { CLERK_API_URL: clerk.apiUrl },
      cwd: tmpdir(),
      stdout: () => undefined,
      stderr: () => undefined,
    });
    assert.equal(noKey, 2);
  });

  test('roles from organization claims, v1 and v2, and the sync cache stops a second upsert', async () => {
    const t = await service();
    try {
      const v2 = clerk.mintSessionToken('user_admin', { o: { id: 'org_1', rol: 'admin', slg: 'acme' } });
      assert.equal((await exchange(t, v2)).statusCode, 200);
      assert.equal(stream.users.get('user_admin')?.role, 'admin');
      const v1 = clerk.mintSessionToken('user_mod', { v: undefined, org_id: 'org_1', org_role: 'org:moderator' });
      assert.equal((await exchange(t, v1)).statusCode, 200);
      assert.equal(stream.users.get('user_mod')?.role, 'moderator');
      const unmapped = clerk.mintSessionToken('user_member', { o: { id: 'org_1', rol: 'member', slg: 'acme' } });
      assert.equal((await exchange(t, unmapped)).statusCode, 200);
      assert.equal(stream.users.get('user_member')?.role, 'user');
      const before = stream.calls.length;
      assert.equal((await exchange(t, clerk.mintSessionToken('user_admin', { o: { id: 'org_1', rol: 'admin', slg: 'acme' } }))).statusCode, 200);
      assert.equal(stream.calls.length, before, 'an unchanged profile is not upserted again');
    } finally {
      await t.app.close();
    }
  });

  test('teams and deny rules from a policy file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sts-policy-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'teams:\n  from: org_id\nallow:\n  require_organizations: [org_allowed]\ndeny:\n  deny_users: [user_banned]\n');
    const t = await service({ POLICY_FILE: file });
    try {
      const ok = await exchange(t, clerk.mintSessionToken('user_team', { o: { id: 'org_allowed', rol: 'member', slg: 'allowed' } }));
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(stream.users.get('user_team')?.teams, ['org_allowed']);
      const otherOrg = await exchange(t, clerk.mintSessionToken('user_other', { o: { id: 'org_else', rol: 'member', slg: 'else' } }));
      assert.equal(otherOrg.statusCode, 403);
      assert.equal(otherOrg.json().code, 'forbidden');
      const banned = await exchange(t, clerk.mintSessionToken('user_banned', { o: { id: 'org_allowed', rol: 'member', slg: 'allowed' } }));
      assert.equal(banned.statusCode, 403);
      assert.ok(!stream.users.has('user_other') && !stream.users.has('user_banned'), 'refused users are not written to Stream');
    } finally {
      await t.app.close();
    }
  });

  test('key rotation: a token signed with the new key is accepted after one refetch', async () => {
    const t = await service();
    try {
      assert.equal((await exchange(t, clerk.mintSessionToken('user_rot'))).statusCode, 200);
      clerk.rotateKey();
      await new Promise((r) => setTimeout(r, 1100)); // past JWKS_COOLDOWN_SECONDS
      const res = await exchange(t, clerk.mintSessionToken('user_rot'));
      assert.equal(res.statusCode, 200, res.body);
    } finally {
      await t.app.close();
    }
  });

  test('pending and impersonated sessions are refused', async () => {
    const t = await service();
    try {
      assert.equal((await exchange(t, clerk.mintSessionToken('user_p', { sts: 'pending' }))).json().code, 'session_pending');
      assert.equal((await exchange(t, clerk.mintSessionToken('user_i', { act: { sub: 'user_admin' } }))).json().code, 'impersonation_not_allowed');
      assert.equal((await exchange(t, clerk.mintSessionToken('user_azp', { azp: 'https://evil.example' }))).json().code, 'unauthorized_party');
    } finally {
      await t.app.close();
    }
  });
});

describe('Stream failures', () => {
  for (const [name, failure] of [
    ['down (connection dropped)', { status: 0 }],
    ['slow (past STREAM_API_TIMEOUT_MS)', { delayMs: 1500 }],
    ['5xx', { status: 500 }],
    ['429', { status: 429, retryAfter: 7 }],
  ] as const) {
    test(`Stream ${name}: closed refuses with 503 upstream_unavailable, open issues the token`, async () => {
      const closed = await service({ STREAM_SYNC_FAILURE: 'closed' });
      const open = await service({ STREAM_SYNC_FAILURE: 'open' });
      try {
        stream.failure = { ...failure };
        const refused = await exchange(closed, clerk.mintSessionToken(`user_closed_${name.length}`));
        assert.equal(refused.statusCode, 503, refused.body);
        assert.equal(refused.json().code, 'upstream_unavailable');
        assert.ok(Number(refused.headers['retry-after']) >= 1);
        assert.ok(!refused.body.includes('"token"'));
        if (failure.status === 429) assert.equal(refused.headers['retry-after'], '7');
        const issued = await exchange(open, clerk.mintSessionToken(`user_open_${name.length}`));
        assert.equal(issued.statusCode, 200, issued.body);
        assert.match((await open.app.inject('/metrics')).body, /stream_token_service_tokens_issued_without_sync_total 1/);
        // A user whose unchanged profile is cached needs no call at all.
        stream.failure = null;
        const warm = clerk.mintSessionToken('user_warm');
        assert.equal((await exchange(closed, warm)).statusCode, 200);
        stream.failure = { ...failure };
        assert.equal((await exchange(closed, clerk.mintSessionToken('user_warm'))).statusCode, 200);
      } finally {
        stream.failure = null;
        await closed.app.close();
        await open.app.close();
      }
    });
  }
});

describe('revocation and webhooks', () => {
  const sign = (id: string, payload: unknown, at = new Date()) => {
    const body = JSON.stringify(payload);
    return {
      body,
      headers: {
        'svix-id': id,
        'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
        'svix-signature': new Webhook(WEBHOOK_SECRET).sign(id, at, body),
        'content-type': 'application/json',
      },
    };
  };

  test("POST /stream/revoke revokes the caller's tokens through the SDK", async () => {
    const t = await service();
    try {
      const earlier = jwt.decode((await exchange(t, clerk.mintSessionToken('user_signout'))).json().token) as { iat: number };
      const res = await exchange(t, clerk.mintSessionToken('user_signout'), '/stream/revoke');
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().user_id, 'user_signout');
      const revokedBefore = stream.revocations.get('user_signout');
      assert.ok(revokedBefore);
      const patch = stream.calls.find((c) => c.method === 'PATCH' && c.path === '/users');
      assert.ok(patch?.authenticated);
      // Every token minted before the call is covered, despite the backdated iat.
      assert.ok(Date.parse(revokedBefore) / 1000 > earlier.iat);
      const body = await t.app.inject({
        method: 'POST',
        url: '/stream/revoke',
        headers: { authorization: `Bearer ${clerk.mintSessionToken('x')}`, 'content-type': 'application/json' },
        payload: '{"user_id":"victim"}',
      });
      assert.equal(body.statusCode, 400);
      assert.ok(!stream.revocations.has('victim'));
    } finally {
      await t.app.close();
    }
  });

  test('a user deleted through a signed webhook is deactivated and refused tokens with 403', async () => {
    const t = await service();
    try {
      assert.equal((await exchange(t, clerk.mintSessionToken('user_gone'))).statusCode, 200);
      const unsigned = await t.app.inject({
        method: 'POST',
        url: '/webhooks/clerk',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ type: 'user.deleted', data: { id: 'user_gone', deleted: true } }),
      });
      assert.equal(unsigned.statusCode, 400);
      assert.equal(unsigned.json().code, 'invalid_webhook');
      assert.equal((await exchange(t, clerk.mintSessionToken('user_gone'))).statusCode, 200, 'an unsigned webhook changes nothing');
      const signed = sign('msg_delete_1', { type: 'user.deleted', object: 'event', data: { id: 'user_gone', object: 'user', deleted: true } });
      const res = await t.app.inject({ method: 'POST', url: '/webhooks/clerk', headers: signed.headers, payload: signed.body });
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(stream.calls.some((c) => c.path === '/users/user_gone/deactivate' && c.authenticated));
      const refused = await exchange(t, clerk.mintSessionToken('user_gone'));
      assert.equal(refused.statusCode, 403);
      assert.equal(refused.json().code, 'forbidden');
    } finally {
      await t.app.close();
    }
  });

  test('a user.updated older than the user.deleted, delivered after it, leaves the user refused with 403', async () => {
    const t = await service();
    const deliver = async (id: string, payload: Record<string, unknown>) => {
      const signed = sign(id, payload);
      return t.app.inject({ method: 'POST', url: '/webhooks/clerk', headers: signed.headers, payload: signed.body });
    };
    const user = (updatedAt: number) => ({
      id: 'user_late',
      object: 'user',
      first_name: 'Late',
      last_name: 'Update',
      created_at: updatedAt - 1e6,
      updated_at: updatedAt,
    });
    try {
      assert.equal((await exchange(t, clerk.mintSessionToken('user_late'))).statusCode, 200);
      const deletedAt = Date.now();
      const deleted = await deliver('msg_late_delete', {
        type: 'user.deleted',
        object: 'event',
        timestamp: deletedAt,
        data: { id: 'user_late', object: 'user', deleted: true },
      });
      assert.equal(deleted.statusCode, 200, deleted.body);
      const upsertsBefore = stream.calls.filter((c) => c.method === 'POST' && c.path === '/users').length;
      // Svix retrying an update Clerk sent before the deletion.
      const late = await deliver('msg_late_update', { type: 'user.updated', object: 'event', timestamp: deletedAt - 59_000, data: user(deletedAt - 60_000) });
      assert.equal(late.statusCode, 200, late.body);
      assert.deepEqual(late.json(), { ok: true, stale: true });
      const refused = await exchange(t, clerk.mintSessionToken('user_late'));
      assert.equal(refused.statusCode, 403);
      assert.equal(refused.json().code, 'forbidden');
      assert.equal(stream.calls.filter((c) => c.method === 'POST' && c.path === '/users').length, upsertsBefore, 'Stream is not upserted');
      assert.match((await t.app.inject('/metrics')).body, /stream_token_service_webhooks_total\{type="user.updated",outcome="stale"\} 1/);
    } finally {
      await t.app.close();
    }
  });
});
