import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { startProductionApp, type TestApp } from '../support/harness.js';
import { startTestIssuer, type TestIssuer } from '../support/issuer.js';

/** Property: whatever arrives in headers, token or body, the answer is never a 5xx and always a well-formed response. */

let t: TestApp;
let issuer: TestIssuer;
let valid: string;

before(async () => {
  issuer = await startTestIssuer();
  t = await startProductionApp(issuer, { LOG_LEVEL: 'silent', JWKS_COOLDOWN_SECONDS: '3600', RATE_LIMIT_PER_IP: '1000000', RATE_LIMIT_PER_USER: '1000000' });
  valid = issuer.sessionToken('user_fuzz');
});

after(async () => {
  await t.app.close();
  await issuer.close();
});

// Header values must be legal HTTP field values, or the request would never reach a server.
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 400 });
const b64url = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), maxLength: 120 });
const jsonValue = fc.jsonValue({ maxDepth: 3 });

const mutatedToken = fc.oneof(
  // flip one character of a valid token
  fc.tuple(fc.nat(), fc.constantFrom(...'Aa0-_.=+/ '.split(''))).map(([i, ch]) => {
    const pos = i % valid.length;
    return valid.slice(0, pos) + ch + valid.slice(pos + 1);
  }),
  // rebuild with arbitrary JSON in header and/or payload, keeping the real signature
  fc.tuple(jsonValue, jsonValue).map(([h, p]) => {
    const [, , sig] = valid.split('.');
    return `${Buffer.from(JSON.stringify(h) ?? 'null').toString('base64url')}.${Buffer.from(JSON.stringify(p) ?? 'null').toString('base64url')}.${sig}`;
  }),
  // signed by the real issuer, with arbitrary header fields and claims
  fc
    .tuple(
      fc.dictionary(fc.constantFrom('alg', 'kid', 'typ', 'cat', 'crit', 'jku', 'b64', 'x5c'), jsonValue),
      fc.dictionary(fc.constantFrom('sub', 'iss', 'exp', 'nbf', 'iat', 'azp', 'sts', 'act', 'v', 'o'), jsonValue),
    )
    .map(([header, claims]) => issuer.sign({ iss: issuer.issuer, sub: 'user_fuzz', exp: Math.floor(Date.now() / 1000) + 60, ...claims }, header)),
  fc.array(b64url, { minLength: 0, maxLength: 6 }).map((parts) => parts.join('.')),
  headerText,
);

const authorization = fc.oneof(
  mutatedToken.map((tok) => `Bearer ${tok}`),
  fc
    .tuple(fc.constantFrom('Bearer', 'bearer', 'Basic', 'Token', 'DPoP', ''), fc.constantFrom(' ', '  ', '\t', ''), headerText)
    .map(([s, sep, v]) => `${s}${sep}${v}`),
  headerText,
);

const body = fc.oneof(
  fc.constant(undefined),
  jsonValue.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 2000 }),
  fc.constantFrom('{}', '', '{"user_id":"x"}', '{"__proto__":{}}', '{"constructor":{"prototype":{}}}', '[', '\u0000', '{"a":'.repeat(200)),
);

const contentType = fc.oneof(
  fc.constantFrom(
    undefined,
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/jwt',
    'APPLICATION/JSON',
  ),
  headerText,
);

test('no combination of headers, token and body produces a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      authorization,
      body,
      contentType,
      fc.constantFrom('POST', 'GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
      headerText,
      async (auth, payload, ct, method, requestId) => {
        const headers: Record<string, string> = { authorization: auth, 'x-request-id': requestId };
        if (ct !== undefined) headers['content-type'] = ct;
        const res = await t.app.inject({
          method: method as 'POST',
          url: '/stream/token',
          headers,
          ...(payload !== undefined && method !== 'GET' ? { payload } : {}),
        });
        assert.ok(res.statusCode < 500, `${res.statusCode} ${res.body}`);
        if (res.statusCode >= 400) {
          assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
          assert.equal(typeof res.json().code, 'string');
        }
      },
    ),
    { numRuns: 1500 },
  );
});

test('after the fuzzing the service still issues tokens', async () => {
  const res = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${issuer.sessionToken('user_after')}` } });
  assert.equal(res.statusCode, 200);
});
