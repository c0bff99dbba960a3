import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Webhook } from 'svix';
import { startRedisApp, TEST_STREAM_KEY, TEST_STREAM_SECRET, type TestApp } from '../support/harness.js';
import { startStreamStandIn } from '../support/stream-standin.js';
import { hasRedisServerBinary, NO_REDIS_MESSAGE, REDIS_URL, startPrivateRedis, type PrivateRedis } from '../support/redis.js';

const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const randomIp = () => `10.${randomBytes(3).join('.')}`;
const uniqueUser = () => `user_${randomBytes(6).toString('hex')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A dev-mode app on `redisUrl` that takes Clerk webhooks (deletions only mark the user removed). */
function instance(redisUrl: string, env: Record<string, string> = {}): Promise<TestApp> {
  return startRedisApp(redisUrl, { STREAM_ON_USER_DELETED: 'none', CLERK_WEBHOOK_SECRET: WEBHOOK_SECRET, ...env });
}

function tokenRequest(app: TestApp, userId: string) {
  return app.app.inject({
    method: 'POST',
    url: '/stream/token',
    headers: { authorization: `Bearer ${app.sessionToken(userId)}`, 'x-forwarded-for': randomIp() },
  });
}

async function deleteUserByWebhook(app: TestApp, userId: string): Promise<number> {
  const id = `msg_${randomUUID()}`;
  const at = new Date();
  const body = JSON.stringify({ type: 'user.deleted', object: 'event', data: { id: userId, object: 'user', deleted: true } });
  const response = await app.app.inject({
    method: 'POST',
    url: '/webhooks/clerk',
    headers: {
      'content-type': 'application/json',
      'svix-id': id,
      'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
      'svix-signature': new Webhook(WEBHOOK_SECRET).sign(id, at, body),
    },
    payload: body,
  });
  return response.statusCode;
}

const logCount = (app: TestApp, msg: string) => app.logs.records.filter((r) => r.msg === msg).length;

async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  poll: () => Promise<unknown> = async () => undefined,
): Promise<number> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await poll();
    await sleep(50);
  }
  return performance.now() - started;
}

/** Freezes Redis and sends requests that each wait out one command timeout, until the breaker opens. */
async function hangRedisUntilBreakerOpens(app: TestApp, redis: PrivateRedis): Promise<number[]> {
  redis.pause();
  const statuses = (await Promise.all([0, 1, 2].map(() => tokenRequest(app, uniqueUser())))).map((r) => r.statusCode);
  await waitFor('the breaker opening', () => logCount(app, 'redis breaker opened') === 1, 5000);
  return statuses;
}

describe(
  'a Redis outage with the breaker',
  { skip: REDIS_URL === null ? NO_REDIS_MESSAGE : !hasRedisServerBinary() ? 'redis-server is not installed' : false },
  () => {
    let redis: PrivateRedis;
    let inspector: Redis;
    before(async () => {
      redis = await startPrivateRedis();
      inspector = new Redis(redis.url);
    });
    after(async () => {
      redis.resume();
      inspector.disconnect();
      await redis.stop();
    });

    test('defaults: tokens keep coming fast, limits hold per process, removed users stay refused, and Redis is used again once back', async () => {
      const app = await instance(redis.url, { RATE_LIMIT_PER_USER: '3' });
      try {
        const goneHere = uniqueUser();
        assert.equal(await deleteUserByWebhook(app, goneHere), 200);
        assert.equal((await tokenRequest(app, goneHere)).statusCode, 403);
        const goneElsewhere = uniqueUser();
        await inspector.set(`sts:removed:${goneElsewhere}`, '1');
        assert.equal((await tokenRequest(app, goneElsewhere)).statusCode, 403, 'another instance removed this user');

        // Each of these waits for one command timeout: the user and removed-user checks are not sent after it.
        const first = performance.now();
        assert.deepEqual(await hangRedisUntilBreakerOpens(app, redis), [200, 200, 200]);
        assert.ok(performance.now() - first < 1900, `${performance.now() - first} ms for the requests that opened the breaker`);

        // Timed by the service itself (the request line's `ms`), so the test's own work does not count.
        const requestIds = new Set<string>();
        for (let i = 0; i < 30; i += 1) {
          const res = await tokenRequest(app, uniqueUser());
          assert.equal(res.statusCode, 200, res.body);
          requestIds.add(String(res.headers['x-request-id']));
        }
        const times = app.logs.records.filter((r) => r.msg === 'request' && requestIds.has(String(r.reqId))).map((r) => Number(r.ms));
        assert.equal(times.length, 30);
        assert.ok(Math.max(...times) < 50, `token requests while Redis hangs took ${times.join(', ')} ms`);

        const burster = uniqueUser();
        const burst = [];
        for (let i = 0; i < 5; i += 1) burst.push(await tokenRequest(app, burster));
        assert.deepEqual(
          burst.map((r) => r.statusCode),
          [200, 200, 200, 429, 429],
        );
        assert.equal(burst[3]!.json().code, 'rate_limited');
        assert.ok(Number(burst[3]!.headers['retry-after']) >= 1);
        assert.equal(burst[3]!.headers['ratelimit-limit'], '3');

        assert.equal((await tokenRequest(app, goneHere)).statusCode, 403, 'removed by a webhook this process applied');
        assert.equal((await tokenRequest(app, goneElsewhere)).statusCode, 403, 'removal this process read from Redis');

        const metrics = (await app.app.inject('/metrics')).body;
        assert.match(metrics, /^stream_token_service_redis_breaker_state [12]$/m);
        assert.match(metrics, /^stream_token_service_redis_command_failures_total\{kind="timeout"\} [3-9]$/m);
        assert.match(metrics, /^stream_token_service_redis_command_failures_total\{kind="breaker_open"\} [1-9]\d+$/m);

        redis.resume();
        const recoveryMs = await waitFor(
          'the breaker closing',
          () => logCount(app, 'redis breaker closed') === 1,
          5000,
          () => tokenRequest(app, uniqueUser()),
        );
        const counted = uniqueUser();
        assert.equal((await tokenRequest(app, counted)).statusCode, 200);
        assert.equal(
          await inspector.get(`sts:ratelimit:user:${counted}`),
          '1',
          `limits counted in Redis again ${Math.round(recoveryMs)} ms after it came back`,
        );
        assert.match((await app.app.inject('/metrics')).body, /^stream_token_service_redis_breaker_state 0$/m);

        assert.equal(logCount(app, 'redis breaker opened'), 1);
        assert.equal(logCount(app, 'redis breaker closed'), 1);
        assert.equal(logCount(app, 'rate-limit store unavailable'), 1, 'no warning per request');
        assert.ok(app.logs.records.filter((r) => r.level === 40).length <= 3, JSON.stringify(app.logs.records.filter((r) => r.level === 40)));
      } finally {
        redis.resume();
        await app.app.close();
      }
    });

    test('REMOVED_USERS_ON_STORE_ERROR=deny: token requests get 503 upstream_unavailable with Retry-After while Redis is away', async () => {
      const app = await instance(redis.url, { REMOVED_USERS_ON_STORE_ERROR: 'deny' });
      try {
        assert.equal((await tokenRequest(app, uniqueUser())).statusCode, 200);
        assert.deepEqual(await hangRedisUntilBreakerOpens(app, redis), [503, 503, 503]);
        const res = await tokenRequest(app, uniqueUser());
        const line = app.logs.records.find((r) => r.msg === 'request' && r.reqId === res.headers['x-request-id']);
        assert.ok(Number(line?.ms) < 50, `answered in ${String(line?.ms)} ms`);
        assert.equal(res.statusCode, 503, res.body);
        assert.equal(res.json().code, 'upstream_unavailable');
        assert.ok(Number(res.headers['retry-after']) >= 1);
        redis.resume();
        await waitFor(
          'the breaker closing',
          () => logCount(app, 'redis breaker closed') === 1,
          5000,
          () => tokenRequest(app, uniqueUser()),
        );
        assert.equal((await tokenRequest(app, uniqueUser())).statusCode, 200);
      } finally {
        redis.resume();
        await app.app.close();
      }
    });

    test('with STREAM_SYNC_USERS=true: tokens keep coming and a user is upserted once per process, not on every request', async () => {
      const stream = await startStreamStandIn({ apiKey: TEST_STREAM_KEY, apiSecret: TEST_STREAM_SECRET });
      const app = await instance(redis.url, { STREAM_SYNC_USERS: 'true', STREAM_API_BASE_URL: stream.baseURL });
      const upserts = (userId: string) =>
        stream.calls.filter((c) => c.method === 'POST' && c.path === '/users' && Object.hasOwn((c.body as { users?: object }).users ?? {}, userId)).length;
      try {
        const known = uniqueUser();
        assert.equal((await tokenRequest(app, known)).statusCode, 200);
        await hangRedisUntilBreakerOpens(app, redis);
        const fresh = uniqueUser();
        for (let i = 0; i < 3; i += 1) {
          assert.equal((await tokenRequest(app, known)).statusCode, 200);
          assert.equal((await tokenRequest(app, fresh)).statusCode, 200);
        }
        assert.equal(upserts(known), 1, 'the hash this process wrote before the outage still counts');
        assert.equal(upserts(fresh), 1, 'the hash written during the outage is kept in memory');
        assert.equal(app.logs.records.filter((r) => /profile cache/.test(String(r.msg))).length, 0);
      } finally {
        redis.resume();
        await app.app.close();
        await stream.close();
      }
    });
  },
);
