import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startRedisApp, type TestApp } from '../support/harness.js';
import { hasRedisServerBinary, startPrivateRedis } from '../support/redis.js';

const skip = hasRedisServerBinary() ? false : 'redis-server is not installed: Redis readiness not tested';

const instance = startRedisApp;

async function readyz(app: TestApp): Promise<{
  status: number;
  body: { status: string; redis?: { topology: string; nodes: { connected: number; known: number }; breaker: string; required: boolean } };
}> {
  const response = await app.app.inject({ method: 'GET', url: '/readyz' });
  return { status: response.statusCode, body: response.json() };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('Redis in /readyz and /metrics', { skip }, () => {
  test('with the default settings, /readyz stays 200 while Redis is away and shows it in its detail', async () => {
    const redis = await startPrivateRedis();
    const app = await instance(redis.url);
    try {
      const up = await readyz(app);
      assert.equal(up.status, 200);
      assert.deepEqual(up.body.redis, { topology: 'standalone', nodes: { connected: 1, known: 1 }, breaker: 'closed', required: false });
      assert.match((await app.app.inject('/metrics')).body, /^stream_token_service_redis_nodes\{state="connected"\} 1$/m);
      await redis.stop();
      await until(async () => (await readyz(app)).body.redis?.breaker === 'open', 'the breaker to open');
      const down = await readyz(app);
      assert.equal(down.status, 200, 'tokens are still served without Redis');
      assert.deepEqual(down.body.redis?.nodes, { connected: 0, known: 1 });
      assert.match((await app.app.inject('/metrics')).body, /^stream_token_service_redis_nodes\{state="connected"\} 0$/m);
    } finally {
      await app.app.close();
      await redis.stop();
    }
  });

  test('with RATE_LIMIT_ON_STORE_ERROR=deny, /readyz is 503 while Redis is away, since requests would be refused', async () => {
    const redis = await startPrivateRedis();
    const app = await instance(redis.url, { RATE_LIMIT_ON_STORE_ERROR: 'deny' });
    try {
      assert.equal((await readyz(app)).status, 200);
      await redis.stop();
      await until(async () => (await readyz(app)).status === 503, '/readyz to turn 503');
      assert.equal((await readyz(app)).body.redis?.required, true);
    } finally {
      await app.app.close();
      await redis.stop();
    }
  });
});
