import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startRedisApp } from '../support/harness.js';
import { hasRedisServerBinary, NO_REDIS_MESSAGE, REDIS_URL, startPrivateRedis } from '../support/redis.js';

const randomIp = () => `10.${randomBytes(3).join('.')}`;
const uniqueUser = () => `user_${randomBytes(6).toString('hex')}`;

/** Dev-mode apps sharing one Redis, as several instances behind a load balancer would. */
const instance = startRedisApp;

describe('rate limits in Redis', () => {
  test('per IP and per user limits hold in Redis', async (t) => {
    if (REDIS_URL === null) return t.skip(NO_REDIS_MESSAGE);
    const app = await instance(REDIS_URL, { RATE_LIMIT_PER_IP: '3', RATE_LIMIT_PER_USER: '2' });
    try {
      const ip = randomIp();
      const byIp = [];
      for (let i = 0; i < 4; i += 1) byIp.push((await app.app.inject({ method: 'POST', url: '/stream/token', headers: { 'x-forwarded-for': ip } })).statusCode);
      assert.deepEqual(byIp, [401, 401, 401, 429]);
      const user = uniqueUser();
      const byUser = [];
      for (let i = 0; i < 3; i += 1) {
        byUser.push(
          (
            await app.app.inject({
              method: 'POST',
              url: '/stream/token',
              headers: { authorization: `Bearer ${app.sessionToken(user)}`, 'x-forwarded-for': randomIp() },
            })
          ).statusCode,
        );
      }
      assert.deepEqual(byUser, [200, 200, 429]);
    } finally {
      await app.app.close();
    }
  });

  test('two instances share a per-user limit of 5: 12 alternating requests, 5 pass and 7 get 429', async (t) => {
    if (REDIS_URL === null) return t.skip(NO_REDIS_MESSAGE);
    const cwd = mkdtempSync(join(tmpdir(), 'sts-two-'));
    const a = await instance(REDIS_URL, { RATE_LIMIT_PER_USER: '5' }, cwd);
    const b = await instance(REDIS_URL, { RATE_LIMIT_PER_USER: '5' }, cwd);
    const urls = [];
    for (const app of [a, b]) {
      await app.app.listen({ host: '127.0.0.1', port: 0 });
      urls.push(`http://127.0.0.1:${(app.app.server.address() as { port: number }).port}`);
    }
    try {
      const user = uniqueUser();
      const statuses: number[] = [];
      for (let i = 0; i < 12; i += 1) {
        const res = await fetch(`${urls[i % 2]}/stream/token`, { method: 'POST', headers: { authorization: `Bearer ${a.sessionToken(user)}` } });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      assert.equal(statuses.filter((s) => s === 200).length, 5, statuses.join(','));
      assert.equal(statuses.filter((s) => s === 429).length, 7, statuses.join(','));
      assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    } finally {
      await a.app.close();
      await b.app.close();
    }
  });
});

describe('Redis stopped mid-run', () => {
  for (const action of ['allow', 'deny'] as const) {
    test(`RATE_LIMIT_ON_STORE_ERROR=${action}: requests are ${action === 'allow' ? 'let through' : 'refused with 503'}, logged and counted`, async (t) => {
      if (REDIS_URL === null) return t.skip(NO_REDIS_MESSAGE);
      if (!hasRedisServerBinary()) return t.skip('redis-server is not installed: cannot start a private Redis to stop');
      const redis = await startPrivateRedis();
      // The removed-user check also reads Redis; its default (allow) keeps it from deciding this test.
      const app = await instance(redis.url, { RATE_LIMIT_ON_STORE_ERROR: action });
      try {
        const token = () => app.sessionToken(uniqueUser());
        const ok = await app.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${token()}` } });
        assert.equal(ok.statusCode, 200);
        await redis.stop();
        const res = await app.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${token()}` } });
        if (action === 'allow') {
          assert.equal(res.statusCode, 200, res.body);
        } else {
          assert.equal(res.statusCode, 503, res.body);
          assert.equal(res.json().code, 'rate_limited');
          assert.ok(Number(res.headers['retry-after']) >= 1);
        }
        const metrics = (await app.app.inject('/metrics')).body;
        assert.match(metrics, new RegExp(`stream_token_service_rate_limit_store_errors_total\\{action="${action}"\\} [1-9]`));
        assert.ok(app.logs.records.some((r) => r.msg === 'rate-limit store unavailable' && r.action === action));
        assert.equal((await app.app.inject('/healthz')).statusCode, 200);
      } finally {
        await app.app.close();
        await redis.stop();
      }
    });
  }
});
