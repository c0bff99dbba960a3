import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startDevApp, type TestApp } from '../support/harness.js';

const randomIp = () => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;

describe('rate limits in memory', () => {
  let t: TestApp;
  before(async () => {
    t = await startDevApp({ RATE_LIMIT_PER_IP: '5', RATE_LIMIT_PER_USER: '2', TRUST_PROXY: '127.0.0.1' });
  });
  after(() => t.app.close());

  test('per IP: the sixth request in a minute gets 429 rate_limited with Retry-After and RateLimit headers', async () => {
    const ip = randomIp();
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 6; i += 1) {
      last = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { 'x-forwarded-for': ip } });
      statuses.push(last.statusCode);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    assert.equal(last!.json().code, 'rate_limited');
    assert.equal(last!.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.ok(Number(last!.headers['retry-after']) >= 1 && Number(last!.headers['retry-after']) <= 60);
    assert.equal(last!.headers['ratelimit-limit'], '5');
    assert.equal(last!.headers['ratelimit-remaining'], '0');
    // another address is unaffected, and probes are never limited
    assert.equal((await t.app.inject({ method: 'POST', url: '/stream/token', headers: { 'x-forwarded-for': randomIp() } })).statusCode, 401);
    for (let i = 0; i < 10; i += 1) assert.equal((await t.app.inject({ url: '/healthz', headers: { 'x-forwarded-for': ip } })).statusCode, 200);
  });

  test('X-Forwarded-For is believed only from a trusted proxy', async () => {
    const t2 = await startDevApp({ RATE_LIMIT_PER_IP: '2' });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i += 1) {
        statuses.push((await t2.app.inject({ method: 'POST', url: '/stream/token', headers: { 'x-forwarded-for': randomIp() } })).statusCode);
      }
      assert.deepEqual(statuses, [401, 401, 429], 'spoofed X-Forwarded-For must not dodge the limit');
    } finally {
      await t2.app.close();
    }
  });

  test('per user: the third token request of one user in a minute gets 429; other users are unaffected', async () => {
    const user = `user_${randomBytes(4).toString('hex')}`;
    const statuses = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/stream/token',
        headers: { authorization: `Bearer ${t.sessionToken(user)}`, 'x-forwarded-for': randomIp() },
      });
      statuses.push(res.statusCode);
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    const other = await t.app.inject({
      method: 'POST',
      url: '/stream/token',
      headers: { authorization: `Bearer ${t.sessionToken(`${user}_b`)}`, 'x-forwarded-for': randomIp() },
    });
    assert.equal(other.statusCode, 200);
  });
});

describe('CORS and security headers', () => {
  let t: TestApp;
  before(async () => {
    t = await startDevApp({ CORS_ORIGINS: 'https://app.example.com,http://localhost:5173' });
  });
  after(() => t.app.close());

  test('an allowed origin gets a preflight answer and CORS headers on the real request', async () => {
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/stream/token',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
    assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
    const res = await t.app.inject({
      method: 'POST',
      url: '/stream/token',
      headers: { origin: 'https://app.example.com', authorization: `Bearer ${t.sessionToken('alice')}` },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(String(res.headers.vary), /Origin/i);
  });

  test('a disallowed or null origin gets no CORS headers', async () => {
    for (const origin of ['https://evil.example.com', 'null', 'https://app.example.com.evil.com', 'http://app.example.com']) {
      const preflight = await t.app.inject({ method: 'OPTIONS', url: '/stream/token', headers: { origin, 'access-control-request-method': 'POST' } });
      assert.equal(preflight.headers['access-control-allow-origin'], undefined, origin);
      const res = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { origin, authorization: `Bearer ${t.sessionToken('alice')}` } });
      assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
    }
  });

  test('a preflight from an origin not in CORS_ORIGINS: 403 origin_not_allowed, no CORS headers, logged with the setting, counted', async () => {
    const refusals = async (app: TestApp['app']) => {
      const line = (await app.inject('/metrics')).body.split('\n').find((l) => l.startsWith('stream_token_service_cors_refusals_total '));
      return Number(line?.split(' ').pop());
    };
    const without = await startDevApp();
    try {
      for (const [app, logs, allowed] of [
        [t.app, t.logs, ['https://app.example.com', 'http://localhost:5173']],
        [without.app, without.logs, []],
      ] as const) {
        const before = await refusals(app);
        const res = await app.inject({
          method: 'OPTIONS',
          url: '/stream/token',
          headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
        });
        assert.equal(res.statusCode, 403);
        assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
        assert.equal(res.json().code, 'origin_not_allowed');
        assert.equal(res.json().detail, 'Browsers on this origin may not call the service: it is not listed in CORS_ORIGINS.');
        assert.deepEqual(
          Object.keys(res.headers).filter((h) => h.startsWith('access-control-')),
          [],
        );
        const line = logs.records.find((r) => r.reqId === res.headers['x-request-id']);
        assert.equal(line?.code, 'origin_not_allowed');
        assert.equal(line?.origin, 'https://evil.example.com');
        assert.equal(line?.setting, 'CORS_ORIGINS');
        assert.deepEqual(line?.allowedOrigins, allowed);
        assert.equal((await refusals(app)) - before, 1);
      }
    } finally {
      await without.app.close();
    }
  });

  test('requests without Origin (native apps) work', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${t.sessionToken('alice')}` } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  test('security headers suited to a JSON API', async () => {
    const res = await t.app.inject('/healthz');
    assert.equal(res.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'");
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['x-powered-by'], undefined);
  });
});

describe('metrics', () => {
  let t: TestApp;
  before(async () => {
    t = await startDevApp({ RATE_LIMIT_PER_USER: '1' });
  });
  after(() => t.app.close());

  function sample(text: string, name: string, labels: Record<string, string>): number {
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
    }
    return 0;
  }

  test('/metrics counts move with traffic: requests by outcome, verification failures, rate limits, latency', async () => {
    const scrape = async () => (await t.app.inject('/metrics')).body;
    const beforeText = await scrape();
    await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${t.sessionToken('m1')}` } });
    await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${t.sessionToken('m1')}` } });
    await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: 'Bearer x.y.z' } });
    await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${t.sessionToken('m2', { exp: 1 })}` } });
    const afterText = await scrape();
    const delta = (name: string, labels: Record<string, string>) => sample(afterText, name, labels) - sample(beforeText, name, labels);
    assert.equal(delta('stream_token_service_http_requests_total', { route: '/stream/token', code: 'ok', status: '200' }), 1);
    assert.equal(delta('stream_token_service_http_requests_total', { route: '/stream/token', code: 'rate_limited' }), 1);
    assert.equal(delta('stream_token_service_verification_failures_total', { reason: 'malformed_token' }), 1);
    assert.equal(delta('stream_token_service_verification_failures_total', { reason: 'token_expired' }), 1);
    assert.equal(delta('stream_token_service_rate_limited_total', { scope: 'user' }), 1);
    assert.equal(delta('stream_token_service_http_request_duration_seconds_count', { route: '/stream/token' }), 4);
    assert.match(afterText, /stream_token_service_jwks_key_age_seconds\{issuer="http:\/\/localhost:8080\/dev"\} 0/);
    assert.match(afterText, /stream_token_service_process_resident_memory_bytes/);
  });
});

describe('metrics across WEB_CONCURRENCY workers', () => {
  test('/metrics serves what the app is given to serve, a failure to gather is a 503 problem that says so, and closing the app lets go of it', async () => {
    let fail = false;
    let closed = false;
    const t = await startDevApp(
      {},
      {
        metricsExposition: (registry) => ({
          render: async () => {
            if (fail) throw new Error('the cluster primary did not answer in time');
            return `# gathered\n${await registry.metrics()}`;
          },
          close: () => {
            closed = true;
          },
        }),
      },
    );
    try {
      const ok = await t.app.inject('/metrics');
      assert.equal(ok.statusCode, 200);
      assert.match(ok.body, /^# gathered\n/);
      assert.match(ok.headers['content-type'] as string, /^text\/plain/);
      fail = true;
      const refused = await t.app.inject('/metrics');
      assert.equal(refused.statusCode, 503);
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(refused.headers['retry-after'], '5');
      const body = refused.json() as { code: string; detail: string };
      assert.equal(body.code, 'metrics_unavailable');
      assert.doesNotMatch(refused.body, /primary|\n\s+at /);
      assert.ok(t.logs.records.some((line) => line.msg === 'metrics could not be gathered'));
      assert.equal(closed, false);
    } finally {
      await t.app.close();
    }
    assert.equal(closed, true);
  });
});
