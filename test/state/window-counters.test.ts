import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { closeRedis, createRedisClient, type RedisClient } from '../../src/state/redis.js';
import { RedisBreaker } from '../../src/state/redis-breaker.js';
import { MemoryWindowCounters, RedisWindowCounters } from '../../src/state/window-counters.js';
import { SyncStoreUnavailableError } from '../../src/stream/sync-errors.js';
import { NO_REDIS_MESSAGE, REDIS_URL } from '../support/redis.js';

describe('MemoryWindowCounters', () => {
  test('counts hits in a fixed window and starts again when it is over', () => {
    let now = 0;
    const counters = new MemoryWindowCounters(100, () => now);
    assert.deepEqual(counters.incr('a', 60_000), { current: 1, ttlMs: 60_000 });
    now = 15_000;
    assert.deepEqual(counters.incr('a', 60_000), { current: 2, ttlMs: 45_000 });
    assert.deepEqual(counters.incr('b', 60_000), { current: 1, ttlMs: 60_000 }, 'keys are counted apart');
    now = 60_000;
    assert.deepEqual(counters.incr('a', 60_000), { current: 1, ttlMs: 60_000 });
  });

  test('holds at most maxKeys counters, dropping the one whose window began first', () => {
    let now = 0;
    const counters = new MemoryWindowCounters(3, () => now);
    for (const key of ['a', 'b', 'c']) {
      counters.incr(key, 60_000);
      now += 1;
    }
    counters.incr('a', 60_000);
    for (let i = 0; i < 1000; i += 1) counters.incr(`flood-${i}`, 60_000);
    assert.equal(counters.size, 3);
    assert.equal(counters.incr('flood-999', 60_000).current, 2, 'the newest key is kept');
  });
});

describe('RedisWindowCounters', () => {
  let client: RedisClient | undefined;
  const prefix = `sts-test:${randomBytes(4).toString('hex')}:`;
  before(() => {
    if (REDIS_URL !== null) client = createRedisClient(REDIS_URL);
  });
  after(async () => {
    if (client === undefined) return;
    const keys = await (client as import('ioredis').Redis).keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    await closeRedis(client);
  });

  test('counts in one key that expires with the window, shared by two counters on one client', async (t) => {
    if (client === undefined) return t.skip(NO_REDIS_MESSAGE);
    const a = new RedisWindowCounters({ client, keyPrefix: prefix });
    const b = new RedisWindowCounters({ client, keyPrefix: prefix });
    const first = await a.incr('ip:10.0.0.1', 60_000);
    assert.equal(first.current, 1);
    assert.ok(first.ttlMs > 59_000 && first.ttlMs <= 60_000, String(first.ttlMs));
    const second = await b.incr('ip:10.0.0.1', 60_000);
    assert.equal(second.current, 2);
    assert.ok(second.ttlMs <= first.ttlMs);
    const pttl = await (client as import('ioredis').Redis).pttl(`${prefix}ip:10.0.0.1`);
    assert.ok(pttl > 59_000 && pttl <= 60_000, String(pttl));
  });

  test('a key that lost its expiry gets one again', async (t) => {
    if (client === undefined) return t.skip(NO_REDIS_MESSAGE);
    await client.set(`${prefix}user:stuck`, '7');
    const count = await new RedisWindowCounters({ client, keyPrefix: prefix }).incr('user:stuck', 60_000);
    assert.deepEqual(count, { current: 8, ttlMs: 60_000 });
  });

  test('goes through the breaker: fails at once with SyncStoreUnavailableError while it is open', async (t) => {
    if (client === undefined) return t.skip(NO_REDIS_MESSAGE);
    const breaker = new RedisBreaker({ probe: () => Promise.reject(new Error('down')), failureThreshold: 1 });
    await assert.rejects(breaker.run(() => Promise.reject(new Error('down'))));
    const counters = new RedisWindowCounters({ client, keyPrefix: prefix, breaker });
    await assert.rejects(counters.incr('ip:10.0.0.2', 60_000), SyncStoreUnavailableError);
    assert.equal(await client.exists(`${prefix}ip:10.0.0.2`), 0);
  });
});
