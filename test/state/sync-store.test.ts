import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { closeRedis, createRedisClient, RedisUrlError, type RedisClient } from '../../src/state/redis.js';
import { RedisBreaker } from '../../src/state/redis-breaker.js';
import { BoundedTtlMap, MemorySyncStore, RedisSyncStore, type SyncStore } from '../../src/state/sync-store.js';
import { SyncStoreUnavailableError } from '../../src/stream/sync-errors.js';

/** Behaviour every SyncStore shares. */
async function contract(store: SyncStore): Promise<void> {
  const user = `user_${randomUUID()}`;
  assert.equal(await store.getProfileHash(user), null);
  await store.setProfileHash(user, 'h1', 60);
  assert.equal(await store.getProfileHash(user), 'h1');
  await store.setProfileHash(user, 'h2', 60);
  assert.equal(await store.getProfileHash(user), 'h2');
  await store.forget(user);
  assert.equal(await store.getProfileHash(user), null);
  await store.forget(user); // idempotent
  await store.setProfileHash(user, 'h3', 0);
  assert.equal(await store.getProfileHash(user), null, 'a TTL of 0 caches nothing');

  assert.equal(await store.isRemoved(user), false);
  await store.markRemoved(user);
  await store.markRemoved(user);
  assert.equal(await store.isRemoved(user), true);
  await store.clearRemoved(user);
  assert.equal(await store.isRemoved(user), false);
  await store.clearRemoved(user);

  const id = `msg_${randomUUID()}`;
  assert.equal(await store.claimWebhookId(id, 600), true);
  assert.equal(await store.claimWebhookId(id, 600), false);
  assert.equal(await store.claimWebhookId(id, 600), false);
  await store.releaseWebhookId(id);
  assert.equal(await store.claimWebhookId(id, 600), true);

  // Concurrent claims of one id: exactly one wins.
  const raced = `msg_${randomUUID()}`;
  const results = await Promise.all(Array.from({ length: 20 }, () => store.claimWebhookId(raced, 600)));
  assert.equal(results.filter(Boolean).length, 1);

  await userEventContract(store);
}

/** The per-user order of identity-provider events, at real-world millisecond times. */
async function userEventContract(store: SyncStore): Promise<void> {
  const t = Date.now();
  const user = `user_${randomUUID()}`;
  const record = (kind: 'upsert' | 'delete', at: number) => store.recordUserEvent(user, { kind, at });
  assert.equal(await record('upsert', t), true);
  assert.equal(await record('upsert', t - 1), false, 'an older update is stale');
  assert.equal(await record('upsert', t), true, 'the same version again applies');
  assert.equal(await store.isRemoved(user), false);
  assert.equal(await record('delete', t + 10), true);
  assert.equal(await store.isRemoved(user), true);
  assert.equal(await record('upsert', t + 10), false, 'a deletion wins a tie');
  assert.equal(await record('upsert', t + 5), false);
  await store.clearRemoved(user);
  assert.equal(await store.isRemoved(user), true, 'the event record refuses without the removal mark');
  assert.equal(await record('upsert', t + 11), true, 'a newer update lifts the deletion');
  assert.equal(await store.isRemoved(user), false);
  assert.equal(await record('delete', t - 1000), true, 'a deletion always applies, whatever its time');
  assert.equal(await store.isRemoved(user), true);
  assert.equal(await record('upsert', t + 11), false, 'and holds until a strictly newer update');
  assert.equal(await record('upsert', t + 12), true);
  assert.equal(await store.isRemoved(user), false);

  // A deletion among many older updates, all at once: the deletion stands.
  const raced = `user_${randomUUID()}`;
  const outcomes = await Promise.all(
    Array.from({ length: 41 }, (_, i) =>
      i === 20 ? store.recordUserEvent(raced, { kind: 'delete', at: t }) : store.recordUserEvent(raced, { kind: 'upsert', at: t - 1 - i }),
    ),
  );
  assert.equal(outcomes[20], true);
  assert.equal(await store.isRemoved(raced), true);
  assert.equal(await store.recordUserEvent(raced, { kind: 'upsert', at: t }), false);
}

describe('MemorySyncStore', () => {
  it('meets the SyncStore contract', async () => {
    await contract(new MemorySyncStore());
  });

  it('expires profile hashes, removal marks and webhook ids', async () => {
    let now = 1_000_000;
    const store = new MemorySyncStore({ now: () => now, removedTtlSeconds: 100 });
    await store.setProfileHash('u', 'h', 10);
    await store.markRemoved('u');
    await store.recordUserEvent('v', { kind: 'delete', at: now });
    assert.equal(await store.claimWebhookId('m', 30), true);
    now += 9_999;
    assert.equal(await store.getProfileHash('u'), 'h');
    now += 1;
    assert.equal(await store.getProfileHash('u'), null);
    assert.equal(await store.claimWebhookId('m', 30), false);
    now += 20_000;
    assert.equal(await store.claimWebhookId('m', 30), true, 'claimable again after its TTL');
    assert.equal(await store.isRemoved('u'), true);
    assert.equal(await store.isRemoved('v'), true);
    now += 70_000;
    assert.equal(await store.isRemoved('u'), false);
    assert.equal(await store.isRemoved('v'), false, 'a user event record expires with the removal marks');
  });

  it('stays bounded with 150,000 distinct users', async () => {
    const store = new MemorySyncStore({ maxProfiles: 10_000, maxRemoved: 5_000, maxWebhookIds: 1_000, maxUserEvents: 5_000 });
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 150_000; i += 1) {
      await store.setProfileHash(`user_${i}`, 'x'.repeat(43), 3600);
      if (i % 10 === 0) await store.markRemoved(`user_${i}`);
      if (i % 5 === 0) await store.claimWebhookId(`msg_${i}`, 600);
      if (i % 3 === 0) await store.recordUserEvent(`user_${i}`, { kind: 'upsert', at: 1_750_000_000_000 + i });
    }
    const { profiles, removed, webhookIds, userEvents } = store.sizes;
    assert.ok(userEvents <= 5_000 && userEvents >= 2_500, `user events ${userEvents}`);
    assert.ok(profiles <= 10_000 && profiles >= 5_000, `profiles ${profiles}`);
    assert.ok(removed <= 5_000 && removed >= 2_500, `removed ${removed}`);
    assert.ok(webhookIds <= 1_000 && webhookIds >= 500, `webhook ids ${webhookIds}`);
    // The most recent entries are the ones kept.
    assert.equal(await store.getProfileHash('user_149999'), 'x'.repeat(43));
    assert.equal(await store.getProfileHash('user_0'), null);
    const grownMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    assert.ok(grownMiB < 64, `heap grew ${grownMiB.toFixed(1)} MiB`);
  });

  it('evicts the least recently used entry first', () => {
    const map = new BoundedTtlMap<number>(10);
    for (const [i, key] of ['a', 'b', 'c', 'd', 'e'].entries()) map.set(key, i, 60);
    assert.equal(map.get('a'), 0); // a is now more recent than b..e
    for (const [i, key] of ['f', 'g', 'h', 'i'].entries()) map.set(key, 10 + i, 60);
    assert.ok(map.size <= 10);
    assert.deepEqual(
      ['b', 'c', 'd', 'e'].map((key) => map.get(key)),
      [undefined, undefined, undefined, undefined],
    );
    assert.deepEqual(
      ['a', 'f', 'i'].map((key) => map.get(key)),
      [0, 10, 13],
    );
    map.set('a', 5, 60);
    assert.equal(map.get('a'), 5, 'overwrites keep one entry');
    map.delete('a');
    assert.equal(map.get('a'), undefined);
    assert.throws(() => new BoundedTtlMap(1), RangeError);
  });
});

describe('createRedisClient', () => {
  it('refuses URLs that are not Redis URLs', () => {
    for (const url of ['http://127.0.0.1:6379', 'redis//x', 'memcached://x', 'redis+sentinel://h:26379']) {
      assert.throws(() => createRedisClient(url), RedisUrlError, url);
    }
  });

  it('reads sentinel and cluster URLs', async () => {
    const sentinel = createRedisClient('redis+sentinel://:s3cret@127.0.0.1:1,[::1]:2/mymaster?db=3', { connectTimeoutMs: 200 });
    const cluster = createRedisClient('redis+cluster://user:pw@127.0.0.1:1,127.0.0.1:2', { connectTimeoutMs: 200 });
    try {
      const options = (sentinel as import('ioredis').Redis).options;
      assert.deepEqual(options.sentinels, [
        { host: '127.0.0.1', port: 1 },
        { host: '::1', port: 2 },
      ]);
      assert.equal(options.name, 'mymaster');
      assert.equal(options.password, 's3cret');
      assert.equal(options.db, 3);
      assert.equal(options.maxRetriesPerRequest, 1);
      const clusterOptions = (cluster as import('ioredis').Cluster).options.redisOptions;
      assert.equal(clusterOptions?.username, 'user');
      assert.equal(clusterOptions?.password, 'pw');
    } finally {
      await closeRedis(sentinel, 200);
      await closeRedis(cluster, 200);
    }
  });

  it('fails a command fast when Redis is unreachable', async () => {
    // Port 1 on loopback: connection refused.
    const client = createRedisClient('redis://127.0.0.1:1', { connectTimeoutMs: 500, commandTimeoutMs: 500 });
    try {
      const started = Date.now();
      await assert.rejects(client.get('x'));
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 3000, `took ${elapsed} ms`);
    } finally {
      await closeRedis(client, 500);
    }
  });
});

describe('RedisSyncStore', () => {
  const url = process.env.REDIS_URL;
  const prefix = `sts-test-${process.pid}-${randomUUID().slice(0, 8)}:`;
  let client: RedisClient | undefined;

  before(() => {
    if (url) client = createRedisClient(url);
  });

  after(async () => {
    if (client === undefined) return;
    const redis = client as import('ioredis').Redis;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await closeRedis(client);
  });

  function requireRedis(t: TestContext): RedisClient | undefined {
    if (!url || client === undefined) {
      t.skip('REDIS_URL not set: Redis store tests skipped (set REDIS_URL=redis://127.0.0.1:6379 to run them)');
      return undefined;
    }
    return client;
  }

  it('meets the SyncStore contract', async (t) => {
    const redis = requireRedis(t);
    if (!redis) return;
    await contract(new RedisSyncStore({ client: redis, keyPrefix: prefix }));
  });

  it('writes prefixed keys with the right expiry', async (t) => {
    const redis = requireRedis(t) as import('ioredis').Redis | undefined;
    if (!redis) return;
    const store = new RedisSyncStore({ client: redis, keyPrefix: prefix, removedTtlSeconds: 1000 });
    await store.setProfileHash('u1', 'h', 3600);
    await store.markRemoved('u1');
    await store.claimWebhookId('msg_1', 900);
    await store.recordUserEvent('u1', { kind: 'delete', at: Date.now() });
    const ttl = async (key: string): Promise<number> => redis.ttl(`${prefix}${key}`);
    assert.ok((await ttl('user-event:u1')) > 990 && (await ttl('user-event:u1')) <= 1000, 'the event record lives as long as a removal mark');
    assert.ok((await ttl('profile:u1')) > 3590);
    assert.ok((await ttl('removed:u1')) > 990 && (await ttl('removed:u1')) <= 1000);
    assert.ok((await ttl('webhook:msg_1')) > 890 && (await ttl('webhook:msg_1')) <= 900);
    const forever = new RedisSyncStore({ client: redis, keyPrefix: prefix, removedTtlSeconds: 0 });
    await forever.markRemoved('u2');
    assert.equal(await ttl('removed:u2'), -1);
    await forever.recordUserEvent('u2', { kind: 'upsert', at: Date.now() });
    assert.equal(await ttl('user-event:u2'), -1);
  });

  it('shares state between two stores on different connections', async (t) => {
    const redis = requireRedis(t);
    if (!redis || !url) return;
    const other = createRedisClient(url);
    try {
      const a = new RedisSyncStore({ client: redis, keyPrefix: prefix });
      const b = new RedisSyncStore({ client: other, keyPrefix: prefix });
      await a.markRemoved('shared');
      assert.equal(await b.isRemoved('shared'), true);
      assert.equal(await a.claimWebhookId('shared-msg', 60), true);
      assert.equal(await b.claimWebhookId('shared-msg', 60), false);
    } finally {
      await closeRedis(other);
    }
  });

  it('expires profile hashes', async (t) => {
    const redis = requireRedis(t);
    if (!redis) return;
    const store = new RedisSyncStore({ client: redis, keyPrefix: prefix });
    await store.setProfileHash('short', 'h', 1);
    assert.equal(await store.getProfileHash('short'), 'h');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal(await store.getProfileHash('short'), null);
  });

  it('while Redis cannot be reached: serves its own profile hashes and recent removals from memory, fails the rest at once', async (t) => {
    const redis = requireRedis(t);
    if (!redis) return;
    const breaker = new RedisBreaker({ probe: () => Promise.reject(new Error('down')), failureThreshold: 1, openMs: 60_000 });
    const store = new RedisSyncStore({ client: redis, keyPrefix: prefix, breaker });
    const other = new RedisSyncStore({ client: redis, keyPrefix: prefix });
    await store.setProfileHash('cached', 'h-cached', 3600);
    await store.markRemoved('removed-here');
    await other.markRemoved('removed-elsewhere');
    await other.markRemoved('restored-elsewhere');
    assert.equal(await store.isRemoved('removed-elsewhere'), true);
    assert.equal(await store.isRemoved('restored-elsewhere'), true);
    await other.clearRemoved('restored-elsewhere');
    assert.equal(await store.isRemoved('restored-elsewhere'), false, 'Redis has the last word while it answers');
    await other.markRemoved('never-read');

    await assert.rejects(breaker.run(() => Promise.reject(new Error('Command timed out'))));
    assert.equal(breaker.state, 'open');
    assert.equal(await store.getProfileHash('cached'), 'h-cached');
    assert.equal(await store.getProfileHash('other'), null);
    await store.setProfileHash('written-during', 'h-during', 3600);
    assert.equal(await store.getProfileHash('written-during'), 'h-during');
    await assert.rejects(store.isRemoved('removed-here'), SyncStoreUnavailableError);
    assert.deepEqual(
      ['removed-here', 'removed-elsewhere', 'restored-elsewhere', 'never-read'].map((u) => store.removedLocally(u)),
      [true, true, false, false],
    );
    await assert.rejects(store.claimWebhookId('msg_during', 60), SyncStoreUnavailableError);
    await assert.rejects(store.markRemoved('during'), SyncStoreUnavailableError);
    assert.equal(store.removedLocally('during'), true, 'a removal applied during the outage is refused here at least');
    assert.equal(await redis.exists(`${prefix}profile:written-during`, `${prefix}webhook:msg_during`), 0, 'nothing was sent');
  });

  it('forgets its own removals after recentRemovalSeconds', async (t) => {
    const redis = requireRedis(t);
    if (!redis) return;
    let now = Date.now();
    const store = new RedisSyncStore({ client: redis, keyPrefix: prefix, recentRemovalSeconds: 3600, now: () => now });
    await store.markRemoved('old');
    assert.equal(store.removedLocally('old'), true);
    now += 3600_000;
    assert.equal(store.removedLocally('old'), false);
  });
});
