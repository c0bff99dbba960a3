import assert from 'node:assert/strict';
import { generateKeyPairSync, createHmac, sign } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startProductionApp, type TestApp } from '../support/harness.js';
import { publicJwk, TestServer } from '../support/identity.js';
import { startTestIssuer, type TestIssuer } from '../support/issuer.js';

/**
 * Hostile and malformed requests against a production configuration: each
 * must be answered 4xx application/problem+json with exactly its code, never
 * 2xx or 5xx, and never echo the token.
 */

let t: TestApp;
let issuer: TestIssuer;
/** The attacker's own JWKS, which a token's jku or x5u may name: it must never be fetched. */
let trap: TestServer;
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function forge(header: Record<string, unknown>, claims: unknown, signer: 'issuer' | 'attacker' | 'none' = 'issuer'): string {
  const input = `${b64({ alg: 'RS256', kid: issuer.kid, typ: 'JWT', ...header })}.${b64(claims)}`;
  if (signer === 'none') return `${input}.`;
  if (signer === 'attacker') return `${input}.${sign('sha256', Buffer.from(input), attacker.privateKey).toString('base64url')}`;
  return issuer.sign(claims as Record<string, unknown>, header);
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { azp: 'https://app.example.com', exp: now() + 60, iat: now() - 1, iss: issuer.issuer, nbf: now() - 1, sid: 'sess_1', sub: 'user_alice', ...extra };
}

interface Case {
  name: string;
  code: string;
  status?: number;
  /** A session token, or full request parts. */
  token?: () => string;
  headers?: () => Record<string, string>;
  body?: string;
  contentType?: string;
}

const cases: Case[] = [
  { name: 'alg none, no signature (empty third segment)', code: 'malformed_token', token: () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.` },
  { name: 'alg none with a signature', code: 'invalid_signature', token: () => `${b64({ alg: 'none', kid: issuer.kid })}.${b64(claims())}.${b64('sig')}` },
  { name: 'alg NONE upper case', code: 'invalid_signature', token: () => `${b64({ alg: 'NONE', kid: issuer.kid })}.${b64(claims())}.${b64('x')}` },
  { name: 'alg nOnE mixed case', code: 'invalid_signature', token: () => `${b64({ alg: 'nOnE', kid: issuer.kid })}.${b64(claims())}.${b64('x')}` },
  {
    name: 'HS256 signed with the issuer public key as secret',
    code: 'invalid_signature',
    token: () => {
      const input = `${b64({ alg: 'HS256', kid: issuer.kid, typ: 'JWT' })}.${b64(claims())}`;
      return `${input}.${createHmac('sha256', issuer.publicKeyPem).update(input).digest('base64url')}`;
    },
  },
  { name: 'stripped signature', code: 'malformed_token', token: () => forge({}, claims(), 'none') },
  {
    name: 'truncated signature',
    code: 'invalid_signature',
    token: () => {
      const tok = forge({}, claims());
      return tok.slice(0, -2);
    },
  },
  {
    name: 'signature swapped from another valid token',
    code: 'invalid_signature',
    token: () => {
      const other = issuer.sessionToken('user_bob').split('.')[2];
      const [h, p] = forge({}, claims()).split('.');
      return `${h}.${p}.${other}`;
    },
  },
  { name: 'attacker-signed, same kid', code: 'invalid_signature', token: () => forge({}, claims(), 'attacker') },
  { name: 'unknown kid', code: 'unknown_key', token: () => forge({ kid: 'ins_unknown' }, claims(), 'attacker') },
  { name: 'kid path traversal', code: 'unknown_key', token: () => forge({ kid: '../../../../etc/passwd' }, claims(), 'attacker') },
  { name: 'kid SQL injection', code: 'unknown_key', token: () => forge({ kid: "' OR 1=1 --" }, claims(), 'attacker') },
  { name: 'kid as a number', code: 'malformed_token', token: () => forge({ kid: 7 }, claims(), 'attacker') },
  { name: 'kid as an object', code: 'malformed_token', token: () => forge({ kid: { $ne: null } }, claims(), 'attacker') },
  {
    name: 'embedded jwk with the attacker key',
    code: 'invalid_signature',
    token: () => forge({ jwk: attacker.publicKey.export({ format: 'jwk' }) }, claims(), 'attacker'),
  },
  { name: 'jku pointing at a local server', code: 'invalid_signature', token: () => forge({ jku: trap.url('/jwks.json') }, claims(), 'attacker') },
  { name: 'x5u pointing at a local server', code: 'invalid_signature', token: () => forge({ x5u: trap.url('/jwks.json') }, claims(), 'attacker') },
  {
    name: 'x5c with an attacker certificate',
    code: 'invalid_signature',
    token: () => forge({ x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] }, claims(), 'attacker'),
  },
  { name: 'expired', code: 'token_expired', token: () => forge({}, claims({ exp: now() - 120 })) },
  { name: 'nbf in the future', code: 'token_not_yet_valid', token: () => forge({}, claims({ nbf: now() + 600 })) },
  { name: 'iat in the future', code: 'token_not_yet_valid', token: () => forge({}, claims({ iat: now() + 600 })) },
  { name: 'wrong issuer', code: 'invalid_issuer', token: () => forge({}, claims({ iss: 'https://evil.example.com' })) },
  { name: 'issuer with a trailing slash', code: 'invalid_issuer', token: () => forge({}, claims({ iss: `${issuer.issuer}/` })) },
  { name: 'issuer missing', code: 'invalid_issuer', token: () => forge({}, claims({ iss: undefined })) },
  { name: 'azp not allowed', code: 'unauthorized_party', token: () => forge({}, claims({ azp: 'https://evil.example.com' })) },
  { name: 'sub missing', code: 'invalid_subject', token: () => forge({}, claims({ sub: undefined })) },
  { name: 'sub empty', code: 'invalid_subject', token: () => forge({}, claims({ sub: '' })) },
  { name: 'sub numeric', code: 'invalid_subject', token: () => forge({}, claims({ sub: 12345 })) },
  { name: 'sub 256 characters', code: 'invalid_subject', token: () => forge({}, claims({ sub: 'a'.repeat(256) })) },
  { name: 'sub with a space', code: 'invalid_subject', token: () => forge({}, claims({ sub: 'user alice' })) },
  { name: 'sub with a dot', code: 'invalid_subject', token: () => forge({}, claims({ sub: 'user.alice' })) },
  { name: 'sub with unicode', code: 'invalid_subject', token: () => forge({}, claims({ sub: 'usér' })) },
  { name: 'sub with a newline', code: 'invalid_subject', token: () => forge({}, claims({ sub: 'alice\nadmin' })) },
  { name: 'typ at+jwt (Clerk OAuth access token)', code: 'unsupported_token_type', token: () => forge({ typ: 'at+jwt' }, claims()) },
  { name: 'cat header of a Clerk M2M token', code: 'unsupported_token_type', token: () => forge({ cat: 'cl_B7d4PD333AAA' }, claims()) },
  { name: 'unknown crit header', code: 'malformed_token', token: () => forge({ crit: ['exp'] }, claims()) },
  { name: 'pending session', code: 'session_pending', token: () => forge({}, claims({ sts: 'pending' })) },
  { name: 'impersonated session', code: 'impersonation_not_allowed', status: 403, token: () => forge({}, claims({ act: { sub: 'user_admin' } })) },
  { name: 'two segments', code: 'malformed_token', token: () => forge({}, claims()).split('.').slice(0, 2).join('.') },
  { name: 'four segments', code: 'malformed_token', token: () => `${forge({}, claims())}.${b64('x')}` },
  { name: 'five segments (JWE shape)', code: 'malformed_token', token: () => `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d` },
  { name: 'standard base64 characters', code: 'malformed_token', token: () => forge({}, claims()).replace(/-/g, '+').replace(/_/g, '/') + '+/' },
  {
    name: 'base64 padding',
    code: 'malformed_token',
    token: () => {
      const [h, p, s] = forge({}, claims()).split('.');
      return `${h}==.${p}.${s}`;
    },
  },
  { name: 'header not JSON', code: 'malformed_token', token: () => `${b64('not json')}.${b64(claims())}.${b64('s')}` },
  { name: 'payload not JSON', code: 'malformed_token', token: () => forge({}, 'not json') },
  { name: 'array payload', code: 'malformed_token', token: () => forge({}, [claims()] as unknown) },
  { name: 'null payload', code: 'malformed_token', token: () => forge({}, null) },
  { name: 'exp not finite (1e400)', code: 'malformed_token', token: () => issuer.signText(JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e400')) },
  { name: 'exp as a string', code: 'malformed_token', token: () => forge({}, claims({ exp: String(now() + 60) })) },
  { name: 'exp missing', code: 'malformed_token', token: () => forge({}, claims({ exp: undefined })) },
  { name: 'oversize token (> 8 KiB)', code: 'malformed_token', token: () => forge({}, claims({ pad: 'x'.repeat(9000) })) },
  { name: 'token with unicode', code: 'malformed_token', token: () => `é${forge({}, claims())}` },
  { name: 'empty segments', code: 'malformed_token', token: () => '..' },
  { name: 'garbage', code: 'malformed_token', token: () => 'not-a-token' },
  {
    name: 'two bearer credentials',
    code: 'malformed_token',
    headers: () => ({ authorization: `Bearer ${issuer.sessionToken('user_alice')} ${issuer.sessionToken('user_bob')}` }),
  },
  { name: 'no credentials', code: 'missing_token', headers: () => ({}) },
  { name: 'Basic credentials', code: 'missing_token', headers: () => ({ authorization: 'Basic dXNlcjpwYXNz' }) },
  { name: 'a body naming another user_id', code: 'invalid_request', token: () => issuer.sessionToken('user_alice'), body: '{"user_id":"user_mallory"}' },
  { name: 'a body with prototype pollution', code: 'invalid_request', token: () => issuer.sessionToken('user_alice'), body: '{"__proto__":{"admin":true}}' },
  { name: 'a body that is not JSON', code: 'invalid_request', token: () => issuer.sessionToken('user_alice'), body: '{"user_id":' },
  {
    name: 'a body over 1 KiB',
    code: 'body_too_large',
    status: 413,
    token: () => issuer.sessionToken('user_alice'),
    body: JSON.stringify({ x: 'y'.repeat(2000) }),
  },
  {
    name: 'a form body',
    code: 'unsupported_media_type',
    status: 415,
    token: () => issuer.sessionToken('user_alice'),
    body: 'user_id=user_mallory',
    contentType: 'application/x-www-form-urlencoded',
  },
];

before(async () => {
  issuer = await startTestIssuer();
  trap = await new TestServer().listen();
  trap.serveJson({ keys: [publicJwk(attacker.publicKey)] });
  t = await startProductionApp(issuer, { CLERK_AUTHORIZED_PARTIES: 'https://app.example.com' });
});

after(async () => {
  await t.app.close();
  await issuer.close();
  await trap.close();
});

test('the corpus is large enough to mean something', () => {
  assert.ok(cases.length >= 40, `${cases.length} cases`);
});

test('the harness accepts a good token (so refusals below are real)', async () => {
  const res = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${forge({}, claims())}` } });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().user_id, 'user_alice');
});

for (const c of cases) {
  test(`refused: ${c.name} → ${c.code}`, async () => {
    const token = c.token?.();
    const headers: Record<string, string> = c.headers?.() ?? { authorization: `Bearer ${token}` };
    if (c.body !== undefined) headers['content-type'] = c.contentType ?? 'application/json';
    const res = await t.app.inject({ method: 'POST', url: '/stream/token', headers, ...(c.body !== undefined ? { payload: c.body } : {}) });
    assert.equal(res.statusCode, c.status ?? (c.code === 'invalid_request' ? 400 : 401), `${c.name}: ${res.body}`);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    const problem = res.json() as Record<string, unknown>;
    assert.equal(problem.code, c.code, `${c.name}: ${res.body}`);
    assert.equal(problem.status, res.statusCode);
    assert.equal(typeof problem.title, 'string');
    for (const segment of token?.split('.') ?? []) if (segment.length > 20) assert.ok(!res.body.includes(segment));
    assert.ok(!res.body.includes('"stack"'));
  });
}

test('jku and x5u were never fetched', () => {
  assert.equal(trap.requests.length, 0);
});
