import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import jwt from 'jsonwebtoken';
import { startDevApp, TEST_STREAM_KEY, TEST_STREAM_SECRET, type TestApp } from '../support/harness.js';

let t: TestApp;
before(async () => {
  t = await startDevApp();
});
after(async () => {
  await t.app.close();
});

function post(headers: Record<string, string>, payload?: string) {
  return t.app.inject({ method: 'POST', url: '/stream/token', headers, ...(payload !== undefined ? { payload } : {}) });
}

describe('POST /stream/token', () => {
  test('exchanges a verified session token for a Stream token of the same user', async () => {
    const res = await post({ authorization: `Bearer ${t.sessionToken('alice')}` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['api_key', 'expires_at', 'expires_in', 'token', 'user_id']);
    assert.equal(body.user_id, 'alice');
    assert.equal(body.api_key, TEST_STREAM_KEY);
    const claims = jwt.verify(body.token as string, TEST_STREAM_SECRET, { algorithms: ['HS256'] }) as Record<string, number | string>;
    assert.equal(claims.user_id, 'alice');
    assert.equal(claims.exp, (claims.iat as number) + 3600);
    assert.ok(Math.abs((claims.iat as number) - Date.now() / 1000) < 30);
    assert.equal(new Date(body.expires_at as string).getTime(), claims.exp * 1000);
    assert.ok(Math.abs((body.expires_in as number) - (claims.exp - Date.now() / 1000)) <= 2);
  });

  test('accepts the Bearer scheme in any case, and an empty body or {}', async () => {
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
      assert.equal((await post({ authorization: `${scheme} ${t.sessionToken('bob')}` })).statusCode, 200);
    }
    const token = t.sessionToken('bob');
    assert.equal((await post({ authorization: `Bearer ${token}`, 'content-type': 'application/json' }, '{}')).statusCode, 200);
    assert.equal((await post({ authorization: `Bearer ${token}`, 'content-type': 'application/json' }, '')).statusCode, 200);
  });

  test('the user id comes only from the token: a body naming another user is refused', async () => {
    for (const body of ['{"user_id":"mallory"}', '{"sub":"mallory"}', '[]', 'null', '"mallory"', '{"a":1}']) {
      const res = await post({ authorization: `Bearer ${t.sessionToken('alice')}`, 'content-type': 'application/json' }, body);
      assert.equal(res.statusCode, 400, body);
      assert.equal(res.json().code, 'invalid_request');
      assert.ok(!res.body.includes('mallory'));
    }
  });

  test('a body over 1 KiB or of another media type is refused with a problem', async () => {
    const big = await post(
      { authorization: `Bearer ${t.sessionToken('alice')}`, 'content-type': 'application/json' },
      JSON.stringify({ pad: 'x'.repeat(1100) }),
    );
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().code, 'body_too_large');
    const form = await post({ authorization: `Bearer ${t.sessionToken('alice')}`, 'content-type': 'application/x-www-form-urlencoded' }, 'user_id=mallory');
    assert.equal(form.statusCode, 415);
    assert.equal(form.json().code, 'unsupported_media_type');
  });

  test('no credentials: 401 missing_token with a bare Bearer challenge', async () => {
    for (const headers of <Array<Record<string, string>>>[
      {},
      { authorization: '' },
      { authorization: 'Basic YWxpY2U6cHc=' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer   ' },
    ]) {
      const res = await post(headers);
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const problem = res.json();
      assert.equal(problem.code, 'missing_token');
      assert.equal(problem.status, 401);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="stream-token-service"');
    }
  });

  test('an invalid token: 401 with error="invalid_token" and the problem code', async () => {
    const res = await post({ authorization: `Bearer ${t.sessionToken('alice', { exp: Math.floor(Date.now() / 1000) - 60 })}` });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'token_expired');
    assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
    assert.ok(!res.body.includes('stack'));
  });

  test('x-request-id is echoed when well-formed, replaced otherwise, and names the log line', async () => {
    const res = await post({ authorization: `Bearer ${t.sessionToken('alice')}`, 'x-request-id': 'req-123.abc' });
    assert.equal(res.headers['x-request-id'], 'req-123.abc');
    const line = t.logs.records.find((r) => r.reqId === 'req-123.abc');
    assert.ok(line);
    assert.equal(line.code, 'ok');
    assert.equal(line.userId, 'alice');
    assert.equal(line.status, 200);
    assert.equal(typeof line.ms, 'number');
    const bad = await post({ 'x-request-id': 'x'.repeat(300) });
    assert.notEqual(bad.headers['x-request-id'], 'x'.repeat(300));
    assert.match(String(bad.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(bad.json().request_id, bad.headers['x-request-id']);
  });

  test('one log line per request', async () => {
    const before = t.logs.lines.length;
    await post({ authorization: `Bearer ${t.sessionToken('carol')}` });
    assert.equal(t.logs.lines.length - before, 1);
  });
});

describe('health, readiness and unknown routes', () => {
  test('/healthz and /readyz answer 200 once keys are loaded', async () => {
    assert.deepEqual((await t.app.inject('/healthz')).json(), { status: 'ok' });
    const ready = await t.app.inject('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.equal(ready.json().status, 'ready');
  });

  test('an unknown route is a 404 problem', async () => {
    const res = await t.app.inject('/nope?token=abc');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'not_found');
    assert.ok(!res.body.includes('token=abc'));
  });
});

describe('dev routes', () => {
  test('exist in dev mode: JWKS and token minting', async () => {
    const jwks = (await t.app.inject('/dev/.well-known/jwks.json')).json();
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].d, undefined);
    const res = await t.app.inject({ method: 'POST', url: '/dev/token', payload: { user_id: 'dave', claims: { org_role: 'org:admin' } } });
    assert.equal(res.statusCode, 200);
    const claims = jwt.decode(res.json().token) as Record<string, unknown>;
    assert.equal(claims.sub, 'dave');
    assert.equal(claims.org_role, 'org:admin');
    assert.equal(claims.iss, t.config.dev.issuer);
  });

  test('refuse bad user ids', async () => {
    for (const user_id of ['', 'a b', 'x'.repeat(256), 'é']) {
      const res = await t.app.inject({ method: 'POST', url: '/dev/token', payload: { user_id } });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'invalid_request');
    }
  });
});
