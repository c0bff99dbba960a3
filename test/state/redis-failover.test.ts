/**
 * A master killed under load, on a real Redis Cluster and a real Sentinel
 * deployment: the service recovers by itself, answers every request within
 * 2 s while the failover lasts, and keeps the state Redis kept.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runLoad } from '../../chaos/lib/load.js';
import { closeRedis, createRedisClient, waitForRedis } from '../../src/state/redis.js';
import { RedisSyncStore } from '../../src/state/sync-store.js';
import { startRedisApp, TEST_STREAM_KEY, TEST_STREAM_SECRET, type TestApp } from '../support/harness.js';
import { freePort, spawnCli, waitForHttp } from '../support/process.js';
import { hasRedisServerBinary } from '../support/redis.js';
import { cliAsync, sentinelMasterPort, startRedisCluster, startRedisSentinel, type Topology } from '../support/redis-topologies.js';

const skip = hasRedisServerBinary() ? false : 'redis-server is not installed: failovers not tested';
const RATE = 100;
const newUserId = (): string => `user_${randomBytes(6).toString('hex')}`;

async function instance(url: string): Promise<TestApp> {
  const t = await startRedisApp(url, { RATE_LIMIT_PER_IP: '100000000', RATE_LIMIT_PER_USER: '100000000', LOG_LEVEL: 'warn' });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return t;
}

const breakerOf = async (t: TestApp): Promise<string | undefined> =>
  ((await t.app.inject({ method: 'GET', url: '/readyz' })).json() as { redis?: { breaker: string } }).redis?.breaker;

interface FailoverResult {
  /** A fresh client reads the removal written before the failover. */
  kept: boolean;
  /** When the service refused the removed user, ms after the promotion (NaN: not within 15 s). */
  refusedAfterMs: number;
  summary: string;
}

/** State Redis kept must be honoured again within 2 s of the promotion. */
function checkState(t: { diagnostic(message: string): void }, result: FailoverResult): void {
  t.diagnostic(result.summary);
  assert.ok(result.kept, 'the removal written before the failover is still in Redis');
  assert.ok(result.refusedAfterMs <= 2000, `the removed user refused ${result.refusedAfterMs.toFixed(0)} ms after the promotion`);
}

async function failover(topology: Topology, removed: string, kill: () => Promise<void>, promoted: () => Promise<boolean>): Promise<FailoverResult> {
  const t = await instance(topology.url);
  const client = createRedisClient(topology.url);
  try {
    assert.equal(await waitForRedis(client, 10_000), true);
    // State Redis keeps through the failover: a removal written (and replicated) before it.
    await new RedisSyncStore({ client }).markRemoved(removed);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const users = Array.from({ length: 200 }, (_, i) => t.sessionToken(`user_fo${i}${randomBytes(3).toString('hex')}`));
    const url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    let killedAt = Number.NaN;
    let promotedAt = Number.NaN;
    let recoveredAt = Number.NaN;
    let refusedAt = Number.NaN;
    const started = performance.now();
    const elapsed = (): number => performance.now() - started;
    // From the promotion on, the removed user is asked for a token every 100 ms until the service refuses it:
    // before, its node may be unreachable and the service serves it (REMOVED_USERS_ON_STORE_ERROR=allow).
    const refusal = async (): Promise<void> => {
      const removedToken = t.sessionToken(removed);
      while (elapsed() - promotedAt < 15_000) {
        const status = (await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${removedToken}` } })).statusCode;
        if (status === 403) {
          refusedAt = elapsed();
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const faults = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      killedAt = elapsed();
      await kill();
      while (!(await promoted()) && elapsed() < 60_000) await new Promise((resolve) => setTimeout(resolve, 50));
      promotedAt = elapsed();
      const refused = refusal();
      while ((await breakerOf(t)) !== 'closed' && elapsed() < 60_000) await new Promise((resolve) => setTimeout(resolve, 50));
      recoveredAt = elapsed();
      await refused;
    })();
    const samples = await runLoad({
      target: url,
      ratePerSecond: RATE,
      durationMs: 14_000,
      connections: 50,
      next: (i) => ({ path: '/stream/token', headers: { authorization: `Bearer ${users[i % users.length]}` } }),
    });
    await faults;

    const during = samples.filter((s) => s.sentAt >= killedAt && s.sentAt < promotedAt);
    const slowest = Math.max(...samples.map((s) => (s.status === 0 ? Number.POSITIVE_INFINITY : s.latencyMs)));
    const okShare = during.filter((s) => s.status === 200).length / Math.max(1, during.length);
    assert.ok(slowest <= 2000, `every request answered within 2 s; the slowest took ${slowest.toFixed(0)} ms`);
    assert.ok(okShare >= 0.8, `${(okShare * 100).toFixed(1)}% of ${during.length} requests during the failover answered 200`);
    assert.ok(recoveredAt - promotedAt <= 2000, `Redis used again ${(recoveredAt - promotedAt).toFixed(0)} ms after the promotion`);
    const kept = await new RedisSyncStore({ client }).isRemoved(removed).catch(() => false);
    const refusedAfterMs = refusedAt - promotedAt;
    return {
      kept,
      refusedAfterMs,
      summary: `promoted ${((promotedAt - killedAt) / 1000).toFixed(1)} s after the kill; ${during.length} requests meanwhile, ${(okShare * 100).toFixed(1)}% 200; slowest ${slowest.toFixed(0)} ms; Redis used again ${(recoveredAt - promotedAt).toFixed(0)} ms after the promotion; the removal ${kept ? 'read by a fresh client' : 'not read by a fresh client'}, refused by the service ${refusedAfterMs.toFixed(0)} ms after the promotion`,
    };
  } finally {
    await closeRedis(client);
    await t.app.close();
    await topology.stop();
  }
}

describe('a master killed under load', { skip }, () => {
  it('Redis Cluster: the replica takes over; every request answered within 2 s, ≥ 80% 200, Redis used again and a removal honoured within 2 s', async (t) => {
    const topology = await startRedisCluster();
    // The master killed is the one holding the removal, so the promoted replica must have kept it.
    const removed = newUserId();
    const slot = Number(topology.cli(topology.servers[0]!.port, 'CLUSTER', 'KEYSLOT', `sts:removed:${removed}`));
    // CLUSTER NODES: <id> <host:port@bus> <flags> <master id or -> <ping> <pong> <epoch> <link> <slot ranges…>
    const nodes = topology
      .cli(topology.servers[0]!.port, 'CLUSTER', 'NODES')
      .split('\n')
      .map((line) => line.split(' '));
    const owner = nodes.find(
      (fields) =>
        fields[2]!.includes('master') &&
        fields.slice(8).some((range) => {
          const [from, to = from] = range.split('-').map(Number);
          return slot >= from! && slot <= to!;
        }),
    )!;
    const master = topology.servers.find((s) => owner[1]!.startsWith(`127.0.0.1:${s.port}@`))!;
    const survivor = topology.servers.find((s) => s !== master)!;
    const replicaId = nodes.find((fields) => fields[3] === owner[0])![0]!;
    checkState(
      t,
      await failover(
        topology,
        removed,
        () => master.kill(),
        async () => {
          const nodes = (await cliAsync(survivor.port, 'CLUSTER', 'NODES')).split('\n').map((line) => line.split(' '));
          const flags = nodes.find((fields) => fields[0] === replicaId)?.[2] ?? '';
          return flags.split(',').includes('master') && (await cliAsync(survivor.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok');
        },
      ),
    );
  });

  it('Redis Sentinel: the replica is promoted; every request answered within 2 s, ≥ 80% 200, Redis used again and a removal honoured within 2 s', async (t) => {
    const topology = await startRedisSentinel();
    const masterPort = sentinelMasterPort(topology);
    const master = topology.servers.find((s) => s.port === masterPort)!;
    checkState(
      t,
      await failover(
        topology,
        newUserId(),
        () => master.kill(),
        async () => {
          const reply = (await cliAsync(topology.sentinels[1]!.port, 'SENTINEL', 'get-master-addr-by-name', 'mymaster')).split('\n');
          return Number(reply[1]) !== masterPort;
        },
      ),
    );
  });
});

describe('a cluster with no node reachable', { skip }, () => {
  it('answers every request within 2 s (200: served from per-process state) and exits 0 on SIGTERM', async (t) => {
    const topology = await startRedisCluster();
    const port = await freePort();
    const cli = spawnCli(['serve', '--dev'], {
      env: {
        PORT: String(port),
        REDIS_URL: topology.url,
        STREAM_API_KEY: TEST_STREAM_KEY,
        STREAM_API_SECRET: TEST_STREAM_SECRET,
        DEV_MODE_ALLOW_NETWORK: 'true',
        STREAM_SYNC_USERS: 'false',
        SHUTDOWN_DELAY_SECONDS: '0',
        LOG_LEVEL: 'warn',
      },
      cwd: mkdtempSync(join(tmpdir(), 'sts-nonode-')),
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForHttp(`${base}/readyz`);
      const session = (
        (await (
          await fetch(`${base}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user_id":"user_nonode"}' })
        ).json()) as { token: string }
      ).token;
      await Promise.all(topology.servers.map((s) => s.kill()));
      const latencies: number[] = [];
      const statuses: number[] = [];
      for (let i = 0; i < 20; i += 1) {
        const started = performance.now();
        const res = await fetch(`${base}/stream/token`, { method: 'POST', headers: { authorization: `Bearer ${session}` } });
        await res.arrayBuffer();
        latencies.push(performance.now() - started);
        statuses.push(res.status);
      }
      t.diagnostic(`statuses ${[...new Set(statuses)].join(',')}; slowest ${Math.max(...latencies).toFixed(0)} ms`);
      assert.ok(Math.max(...latencies) <= 2000, `slowest ${Math.max(...latencies).toFixed(0)} ms`);
      assert.deepEqual([...new Set(statuses)], [200]);
      cli.child.kill('SIGTERM');
      assert.equal(await cli.exited, 0, cli.stderr());
    } finally {
      cli.child.kill('SIGKILL');
      await topology.stop();
    }
  });
});
