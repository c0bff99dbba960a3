import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { stdSerializers } from 'pino';
import { StreamChat } from 'stream-chat';
import { createLogger, scrubLine } from '../../src/http/logging.js';
import { classifyStreamError } from '../../src/stream/sync-errors.js';
import { startProductionApp, TEST_STREAM_SECRET, type TestApp } from '../support/harness.js';
import { startTestIssuer, type TestIssuer } from '../support/issuer.js';
import { listeningPort, rawExchange } from '../support/raw-http.js';
import { startStreamStandIn } from '../support/stream-standin.js';

let t: TestApp;
let issuer: TestIssuer;
let downIssuer: TestIssuer;
const CLERK_SECRET = 'sk_test_clerk_secret_never_logged_42';
const WEBHOOK_SECRET = 'whsec_c2VjcmV0LW5ldmVyLWxvZ2dlZA==';

before(async () => {
  issuer = await startTestIssuer();
  downIssuer = await startTestIssuer();
  downIssuer.mode = 'down';
  t = await startProductionApp(issuer, {
    CLERK_AUTHORIZED_PARTIES: 'https://app.example.com',
    CLERK_SECRET_KEY: CLERK_SECRET,
    CLERK_WEBHOOK_SECRET: WEBHOOK_SECRET,
    OIDC_ISSUERS: JSON.stringify([{ issuer: downIssuer.issuer, jwks_uri: downIssuer.jwksUrl, audience: 'chat', user_id_prefix: 'oidc_' }]),
    JWKS_FETCH_TIMEOUT_MS: '500',
    LOG_LEVEL: 'trace',
  });
});

after(async () => {
  await t.app.close();
  await issuer.close();
  await downIssuer.close();
});

test('no secret, session token, Stream token or Authorization value reaches a log line or a response', async () => {
  const now = Math.floor(Date.now() / 1000);
  const good = issuer.sessionToken('user_alice');
  const tokens: Record<string, string> = {
    ok: good,
    expired: issuer.sessionToken('user_alice', { exp: now - 100 }),
    not_yet_valid: issuer.sessionToken('user_alice', { nbf: now + 100 }),
    unknown_key: issuer.sign({ sub: 'user_alice', iss: issuer.issuer, exp: now + 60 }, { kid: 'nope' }),
    invalid_signature: `${good.slice(0, good.lastIndexOf('.'))}.${issuer.sessionToken('user_bob').split('.')[2]}`,
    invalid_issuer: issuer.sessionToken('user_alice', { iss: 'https://other.example' }),
    unauthorized_party: issuer.sessionToken('user_alice', { azp: 'https://evil.example' }),
    invalid_subject: issuer.sessionToken('user alice'),
    session_pending: issuer.sessionToken('user_alice', { sts: 'pending' }),
    impersonation: issuer.sessionToken('user_alice', { act: { sub: 'user_admin' } }),
    unsupported: issuer.sign({ sub: 'user_alice', iss: issuer.issuer, exp: now + 60 }, { typ: 'at+jwt' }),
    keys_unavailable: downIssuer.sessionToken('user_alice'),
    malformed: `${good}.extra`,
  };
  const responses: string[] = [];
  const seenCodes = new Set<string>();
  for (const token of Object.values(tokens)) {
    for (const headers of [{ authorization: `Bearer ${token}` }, { authorization: `bearer ${token}`, 'x-forwarded-for': token }]) {
      const res = await t.app.inject({ method: 'POST', url: `/stream/token?token=${token}&access_token=${token}`, headers });
      responses.push(JSON.stringify(res.headers), res.body);
      seenCodes.add(res.statusCode === 200 ? 'ok' : (res.json() as { code: string }).code);
    }
  }
  const withBody = await t.app.inject({
    method: 'POST',
    url: '/stream/token',
    headers: { authorization: `Bearer ${good}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ token: good, secret: TEST_STREAM_SECRET }),
  });
  const brokenJson = await t.app.inject({
    method: 'POST',
    url: '/stream/token',
    headers: { authorization: `Bearer ${good}`, 'content-type': 'application/json' },
    payload: `{"token":"${good}"`,
  });
  const tooBig = await t.app.inject({
    method: 'POST',
    url: '/stream/token',
    headers: { authorization: `Bearer ${good}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ token: good, pad: 'x'.repeat(2000) }),
  });
  const notFound = await t.app.inject({ method: 'GET', url: `/nope/${good}?token=${good}`, headers: { authorization: `Bearer ${good}` } });
  const missing = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { cookie: `__session=${good}` } });
  for (const res of [withBody, brokenJson, tooBig, notFound, missing]) {
    responses.push(JSON.stringify(res.headers), res.body);
    seenCodes.add((res.json() as { code: string }).code);
  }

  // Every path above really ran.
  for (const code of [
    'ok',
    'token_expired',
    'token_not_yet_valid',
    'unknown_key',
    'invalid_signature',
    'invalid_issuer',
    'unauthorized_party',
    'invalid_subject',
    'session_pending',
    'impersonation_not_allowed',
    'unsupported_token_type',
    'keys_unavailable',
    'malformed_token',
    'invalid_request',
    'not_found',
    'missing_token',
  ]) {
    assert.ok(seenCodes.has(code), `path ${code} was not exercised: ${[...seenCodes].join(', ')}`);
  }

  const issued = responses.map((r) => /"token":"([^"]+)"/.exec(r)?.[1]).filter((x): x is string => x !== undefined);
  assert.ok(issued.length > 0);
  const logs = t.logs.text;
  assert.ok(t.logs.lines.length >= 30);
  const forbidden = [TEST_STREAM_SECRET, CLERK_SECRET, WEBHOOK_SECRET, ...Object.values(tokens), ...issued];
  for (const secret of forbidden) {
    for (const part of [secret, ...secret.split('.').filter((s) => s.length > 16)]) {
      assert.ok(!logs.includes(part), `log contains ${part.slice(0, 12)}…`);
    }
  }
  const responseText = responses.join('\n');
  for (const secret of [TEST_STREAM_SECRET, CLERK_SECRET, WEBHOOK_SECRET, ...Object.values(tokens)]) {
    for (const part of [secret, ...secret.split('.').filter((s) => s.length > 16)]) {
      const at = responseText.indexOf(part);
      assert.ok(at < 0, `response contains ${part.slice(0, 12)}…: ${responseText.slice(Math.max(0, at - 200), at + 20)}`);
    }
  }
  assert.ok(!/authorization/i.test(logs.replace(/"authorization":"\[redacted\]"/g, '')), 'an Authorization header reached the log');
});

test('a request the HTTP parser refuses leaves no trace of its Authorization header or cookie, at trace level', async () => {
  const good = issuer.sessionToken('user_alice');
  const port = await listeningPort(t.app);
  const before = t.logs.lines.length;
  // Node refuses a head over 16 KiB; the request's bytes up to there are what a client-error log could carry.
  const head = [
    'POST /stream/token HTTP/1.1',
    'Host: localhost',
    `Authorization: Bearer ${good}`,
    `Cookie: __session=${good}; pad=${'x'.repeat(20_000)}`,
    '',
    '',
  ].join('\r\n');
  const res = await rawExchange(port, [head]);
  assert.equal(res.status, 431, res.text.slice(0, 200));
  await new Promise((resolve) => setImmediate(resolve));
  const lines = t.logs.lines.slice(before);
  assert.ok(lines.length >= 1, 'the refused request was logged');

  const asBytes = (text: string) => [...Buffer.from(text)].join(',');
  const signature = good.split('.')[2] ?? '';
  const forbidden = [good, ...good.split('.').filter((s) => s.length > 16), asBytes('Bearer'), asBytes(signature.slice(0, 16)), asBytes(good.slice(0, 16))];
  for (const line of t.logs.lines) {
    for (const part of forbidden) assert.ok(!line.includes(part), `a log line holds ${part.slice(0, 24)}…: ${line.slice(0, 300)}`);
  }
});

test('the line scrubber removes JWT-shaped text, bearer credentials and secrets', () => {
  const line = '{"msg":"failed eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln with Bearer abc.def and s3cr3t-value-xyz"}';
  const out = scrubLine(line, ['s3cr3t-value-xyz']);
  assert.ok(!out.includes('eyJhbGciOiJSUzI1NiJ9'));
  assert.ok(!out.includes('abc.def'));
  assert.ok(!out.includes('s3cr3t-value-xyz'));
  assert.ok(out.includes('[redacted'));
});

test('the line scrubber takes time in proportion to the line, whatever the text', () => {
  // Bounds far above linear time even on a loaded machine, far below quadratic: the old pattern took
  // about 0.7 s on a 64 KiB eyJ run, and sixteen times that on 256 KiB.
  for (const [size, boundMs] of [
    [64 * 1024, 250],
    [256 * 1024, 1000],
  ] as const) {
    const fill = (unit: string) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
    const texts: Record<string, string> = {
      'an eyJ run': fill('eyJ'),
      'eyJ runs split by dots': fill('eyJeyJeyJ.'),
      'eyJ and a dot': fill('eyJ.'),
      'bearer and a run of spaces': `bearer${' '.repeat(size)}`,
      'bearer and a run of tabs and newlines': `Bearer${'\t\n'.repeat(size / 2)}`,
      'bearer repeated': fill('bearer '),
      'a mixture': fill('eyJ bearer  eyJa.b.Bearer\t'),
    };
    scrubLine('{"msg":"warm up eyJhbGciOiJSUzI1NiJ9.e30.c2ln Bearer x"}', []);
    for (const [name, text] of Object.entries(texts)) {
      const line = `${JSON.stringify({ msg: text })}\n`;
      const started = performance.now();
      const out = scrubLine(line, ['s3cr3t-value-xyz']);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < boundMs, `${name}, ${size / 1024} KiB: ${elapsed.toFixed(1)} ms`);
      assert.ok(!out.includes('eyJeyJ'), `${name}: an eyJ run is left in the line`);
    }
  }
});

test("an error is logged with pino's serializer, without the request config, headers or command arguments it carries", async () => {
  const stream = await startStreamStandIn({ apiKey: 'log_key', apiSecret: 'log-stream-secret-0123456789' });
  try {
    const sdk = new StreamChat('log_key', 'log-stream-secret-0123456789', { baseURL: stream.baseURL, timeout: 3000 });
    const caught: unknown[] = [];
    for (const status of [500, 0]) {
      stream.failure = { status, times: 1 };
      caught.push(
        await sdk.upsertUser({ id: 'user_log' }).then(
          () => assert.fail('the call succeeded'),
          (error: unknown) => error,
        ),
      );
    }
    // ioredis puts the failed command on its ReplyError; AUTH's argument is the password.
    const replyError = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      command: { name: 'auth', args: ['redis-password-never-logged'] },
    });
    for (const error of [...caught, replyError]) {
      // The hazard is real: pino's own serializer copies these members into the line.
      const members = Object.keys(stdSerializers.err(error as Error));
      assert.ok(
        members.some((name) => ['config', 'response', 'request', 'command'].includes(name)),
        members.join(', '),
      );
    }
    const errors = [...caught, classifyStreamError('upsert_user', caught[0]), replyError];

    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    for (const error of [...errors, new AggregateError([replyError], 'both failed')]) log.warn({ err: error }, 'failed');
    assert.equal(lines.length, errors.length + 1);
    for (const line of lines) {
      const err = (JSON.parse(line) as { err: Record<string, unknown> }).err;
      assert.equal(typeof err['type'], 'string', line);
      assert.equal(typeof err['message'], 'string', line);
      assert.equal(typeof err['stack'], 'string', line);
      assert.doesNotMatch(line, /authorization|"config"|"headers"|"response"|"request"|"command"|redis-password-never-logged|eyJ/i, line);
    }
    const [fromResponse, dropped, classified] = lines.map((line) => (JSON.parse(line) as { err: Record<string, unknown> }).err);
    assert.equal(fromResponse!['status'], 500, 'primitive members stay');
    assert.match(String(dropped!['message']), /socket hang up|ECONNRESET/);
    assert.match(String(classified!['message']), /StreamChat error/, 'the cause stays in the message');
    assert.equal(classified!['operation'], 'upsert_user');
  } finally {
    await stream.close();
  }
});
