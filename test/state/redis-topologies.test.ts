/**
 * The service on a real Redis Cluster (3 masters, 3 replicas) and a real
 * Sentinel deployment (master, replica, 3 sentinels), two instances each:
 * what must hold whatever the topology.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closeRedis, createRedisClient, waitForRedis } from '../../src/state/redis.js';
import { RedisSyncStore } from '../../src/state/sync-store.js';
import { startRedisApp, type TestApp } from '../support/harness.js';
import { hasRedisServerBinary } from '../support/redis.js';
import { startRedisCluster, startRedisSentinel, type Topology } from '../support/redis-topologies.js';

const skip = hasRedisServerBinary() ? false : 'redis-server is not installed: Cluster and Sentinel deployments not tested';
const uniqueUser = () => `user_${randomBytes(6).toString('hex')}`;

const instance = startRedisApp;

const token = (app: TestApp, user: string, ip = '10.0.0.1') =>
  app.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${app.sessionToken(user)}`, 'x-forwarded-for': ip } });

const topologies: Array<[string, () => Promise<Topology>]> = [
  ['Redis Cluster', () => startRedisCluster()],
  ['Redis Sentinel', () => startRedisSentinel()],
];

for (const [name, start] of topologies) {
  describe(name, { skip }, () => {
    let topology: Topology;
    let a: TestApp;
    let b: TestApp;

    before(async () => {
      topology = await start();
      const cwd = mkdtempSync(join(tmpdir(), 'sts-topo-'));
      a = await instance(topology.url, { RATE_LIMIT_PER_USER: '4', RATE_LIMIT_PER_IP: '6' }, cwd);
      b = await instance(topology.url, { RATE_LIMIT_PER_USER: '4', RATE_LIMIT_PER_IP: '6' }, cwd);
    });

    after(async () => {
      await a?.app.close();
      await b?.app.close();
      await topology?.stop();
    });

    it('starts from a URL that lists several hosts and issues tokens on both instances', async () => {
      const user = uniqueUser();
      assert.equal((await token(a, user, '10.1.0.1')).statusCode, 200);
      assert.equal((await token(b, user, '10.1.0.2')).statusCode, 200);
    });

    it('shows the topology and its connections in /readyz', async () => {
      const ready = await a.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      const redis = (ready.json() as { redis: { topology: string; nodes: { connected: number; known: number }; breaker: string } }).redis;
      assert.equal(redis.topology, name === 'Redis Cluster' ? 'cluster' : 'sentinel');
      assert.equal(redis.breaker, 'closed');
      assert.ok(redis.nodes.connected >= 1 && redis.nodes.connected <= redis.nodes.known, JSON.stringify(redis.nodes));
    });

    it('shares the per-user limit across instances', async () => {
      const user = uniqueUser();
      const statuses = [];
      for (let i = 0; i < 8; i += 1) statuses.push((await token(i % 2 === 0 ? a : b, user, `10.2.0.${i}`)).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429, 429, 429]);
    });

    it('shares the per-IP limit across instances', async () => {
      const ip = `10.3.${randomBytes(2).join('.')}`;
      const statuses = [];
      for (let i = 0; i < 8; i += 1) statuses.push((await token(i % 2 === 0 ? a : b, uniqueUser(), ip)).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 429, 429]);
    });

    it('claims a webhook id exactly once across instances, and refuses a removed user on both', async () => {
      const clients = [createRedisClient(topology.url), createRedisClient(topology.url)];
      try {
        for (const client of clients) assert.equal(await waitForRedis(client, 10_000), true);
        const [one, two] = clients.map((client) => new RedisSyncStore({ client }));
        const ids = Array.from({ length: 20 }, () => `msg_${randomBytes(8).toString('hex')}`);
        const claims = await Promise.all(ids.flatMap((id) => [one!.claimWebhookId(id, 60), two!.claimWebhookId(id, 60)]));
        for (let i = 0; i < ids.length; i += 1) assert.equal(Number(claims[2 * i]) + Number(claims[2 * i + 1]), 1, ids[i]);
        const user = uniqueUser();
        await one!.markRemoved(user);
        assert.equal((await token(a, user, '10.4.0.1')).statusCode, 403);
        assert.equal((await token(b, user, '10.4.0.2')).statusCode, 403);
      } finally {
        await Promise.all(clients.map((client) => closeRedis(client)));
      }
    });

    it('an instance started while the first listed host is down works through the others', async () => {
      const first = name === 'Redis Cluster' ? topology.servers[0]! : topology.sentinels[0]!;
      await first.kill();
      const late = await instance(topology.url, { RATE_LIMIT_PER_USER: '4' });
      try {
        const user = uniqueUser();
        const deadline = Date.now() + 15_000;
        let status = 0;
        // A cluster whose killed node was a master answers once its replica has taken over.
        while (Date.now() < deadline && (status = (await token(late, user, '10.5.0.1')).statusCode) !== 200) await new Promise((r) => setTimeout(r, 200));
        assert.equal(status, 200);
      } finally {
        await late.app.close();
      }
    });
  });
}
