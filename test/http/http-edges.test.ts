/**
 * The edges of the HTTP surface: a known route asked with another method,
 * bodies too large or of another media type, and the dev playground's door.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDevApp, startProductionApp, type TestApp } from '../support/harness.js';
import { startTestIssuer } from '../support/issuer.js';

let t: TestApp;

before(async () => {
  t = await startDevApp();
});

after(() => t.app.close());

describe('a route asked with a method it does not answer', () => {
  const cases: Array<{ method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS'; url: string; allow: string }> = [
    { method: 'GET', url: '/stream/token', allow: 'POST' },
    { method: 'GET', url: '/stream/token?x=1', allow: 'POST' },
    { method: 'HEAD', url: '/stream/token', allow: 'POST' },
    { method: 'OPTIONS', url: '/stream/token', allow: 'POST' },
    { method: 'PUT', url: '/stream/revoke', allow: 'POST' },
    { method: 'POST', url: '/healthz', allow: 'GET, HEAD' },
    { method: 'DELETE', url: '/readyz', allow: 'GET, HEAD' },
    { method: 'POST', url: '/metrics', allow: 'GET, HEAD' },
    { method: 'GET', url: '/dev/token', allow: 'POST' },
    { method: 'POST', url: '/dev/', allow: 'GET, HEAD' },
    { method: 'PATCH', url: '/dev/.well-known/jwks.json', allow: 'GET, HEAD' },
  ];
  for (const c of cases) {
    it(`${c.method} ${c.url}: 405 with Allow: ${c.allow}`, async () => {
      const res = await t.app.inject({ method: c.method, url: c.url });
      assert.equal(res.statusCode, 405);
      assert.equal(res.headers.allow, c.allow);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      if (c.method !== 'HEAD') {
        const body = res.json() as { code: string; detail: string };
        assert.equal(body.code, 'invalid_request');
        assert.equal(body.detail, `This route answers only ${c.allow.replace(', ', ' and ')}.`);
      }
    });
  }

  it('a path no route has is still 404, whatever the method', async () => {
    for (const method of ['GET', 'POST', 'OPTIONS'] as const) {
      const res = await t.app.inject({ method, url: '/stream/tokens' });
      assert.equal(res.statusCode, 404, method);
      assert.equal(res.json().code, 'not_found');
      assert.equal(res.headers.allow, undefined);
    }
  });
});

describe('a body larger than the route accepts', () => {
  for (const [url, limit] of [
    ['/stream/token', 1024],
    ['/dev/token', 16 * 1024],
  ] as const) {
    it(`${url}: 413 body_too_large stating the limit, ${limit} bytes`, async () => {
      const res = await t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ user_id: 'a', pad: 'x'.repeat(limit) }),
      });
      assert.equal(res.statusCode, 413);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(res.json().code, 'body_too_large');
      assert.equal(res.json().detail, `The body is larger than the ${limit} bytes this route accepts.`);
    });
  }
});

describe('a body of another media type', () => {
  const bodies: Array<{ contentType: string | undefined; payload: string }> = [
    { contentType: 'text/plain', payload: '{}' },
    { contentType: 'text/plain;charset=UTF-8', payload: '' },
    { contentType: 'application/x-www-form-urlencoded', payload: 'user_id=mallory' },
    { contentType: 'multipart/form-data; boundary=x', payload: '--x--' },
    { contentType: 'application/xml', payload: '<a/>' },
    { contentType: 'application/jwt', payload: 'a.b.c' },
    { contentType: undefined, payload: '{}' },
  ];
  for (const url of ['/stream/token', '/stream/revoke', '/dev/token']) {
    for (const { contentType, payload } of bodies) {
      it(`${url} with ${contentType ?? 'no Content-Type'}: 415 unsupported_media_type`, async () => {
        const res = await t.app.inject({
          method: 'POST',
          url,
          headers: { authorization: `Bearer ${t.sessionToken('alice')}`, ...(contentType !== undefined ? { 'content-type': contentType } : {}) },
          payload,
        });
        assert.equal(res.statusCode, 415, res.body);
        assert.equal(res.json().code, 'unsupported_media_type');
        assert.equal(res.json().detail, 'Send no body, or a JSON body with Content-Type: application/json.');
      });
    }
  }

  it('JSON, in any letter case and with a charset, and no body at all are read', async () => {
    for (const headers of [{ 'content-type': 'application/json' }, { 'content-type': 'Application/JSON; charset=utf-8' }, {}]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/stream/token',
        headers: { authorization: `Bearer ${t.sessionToken('alice')}`, ...headers },
        ...('content-type' in headers ? { payload: '{}' } : {}),
      });
      assert.equal(res.statusCode, 200, res.body);
    }
  });
});

describe('the service opened in a browser', () => {
  it('in dev mode, GET / redirects to the playground at /dev/', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, '/dev/');
    const page = await t.app.inject({ method: 'GET', url: res.headers.location });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
  });

  it('outside dev mode, GET / is 404', async () => {
    const issuer = await startTestIssuer();
    const production = await startProductionApp(issuer);
    try {
      const res = await production.app.inject({ method: 'GET', url: '/' });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().code, 'not_found');
    } finally {
      await production.app.close();
      await issuer.close();
    }
  });
});
