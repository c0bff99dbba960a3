/**
 * Real Redis topologies on loopback, from Debian's redis-server: a cluster of
 * masters with one replica each, and a master, a replica and three sentinels.
 * Every process is the test's own, so a test may kill one (a failover) without
 * touching the Redis other tests use.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './process.js';

export interface RedisProcess {
  port: number;
  process: ChildProcess;
  kill(): Promise<void>;
}

/** redis-cli without blocking the event loop, for checks made while a service in the same process is under load. */
export function cliAsync(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 }, (_error, stdout, stderr) =>
      resolve(`${stdout ?? ''}${stderr ?? ''}`.trim()),
    );
  });
}

export interface Topology {
  /** REDIS_URL for the service: every node of a cluster, or every sentinel. */
  url: string;
  /** The data-bearing servers (cluster nodes, or master then replica). */
  servers: RedisProcess[];
  /** Sentinel processes (empty for a cluster). */
  sentinels: RedisProcess[];
  cli(port: number, ...args: string[]): string;
  stop(): Promise<void>;
}

const WAIT_STEP_MS = 100;

function cli(port: number, ...args: string[]): string {
  const result = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function startServer(dir: string, args: string[], port?: number): Promise<RedisProcess> {
  const chosen = port ?? (await freePort());
  const child = spawn('redis-server', [...args, '--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  await until(`redis-server on ${chosen}`, () => cli(chosen, 'PING') === 'PONG');
  return {
    port: chosen,
    process: child,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** `masters` masters with one replica each, slots spread by `redis-cli --cluster create`. */
export async function startRedisCluster(masters = 3): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'sts-cluster-'));
  const servers: RedisProcess[] = [];
  for (let i = 0; i < masters * 2; i += 1) {
    const nodeDir = mkdtempSync(join(dir, 'node-'));
    // A node is declared failed after 1 s of silence, so a failover in a test takes seconds, not 15; a
    // replica of a master that has seen no writes lately would otherwise count its data as too old to take over.
    servers.push(
      await startServer(nodeDir, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '1000',
        '--cluster-replica-validity-factor',
        '0',
        '--repl-diskless-sync-delay',
        '0',
      ]),
    );
  }
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '1', '--cluster-yes'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (created.status !== 0) throw new Error(`cluster create failed: ${created.stdout}${created.stderr}`);
  await until('cluster_state:ok on every node', () => servers.every((s) => cli(s.port, 'CLUSTER', 'INFO').includes('cluster_state:ok')));
  // Until its first sync a replica holds nothing: a master killed before then takes its writes with it.
  await until('every replica in sync', () =>
    servers.every((s) => !cli(s.port, 'ROLE').startsWith('slave') || cli(s.port, 'INFO', 'replication').includes('master_link_status:up')),
  );
  return topology(`redis+cluster://${servers.map((s) => `127.0.0.1:${s.port}`).join(',')}`, servers, [], dir);
}

/** A master, one replica and three sentinels watching `mymaster` (quorum 2). */
export async function startRedisSentinel(masterName = 'mymaster'): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'sts-sentinel-'));
  const master = await startServer(mkdtempSync(join(dir, 'master-')), []);
  const replica = await startServer(mkdtempSync(join(dir, 'replica-')), ['--replicaof', '127.0.0.1', String(master.port)]);
  await until('the replica in sync', () => cli(replica.port, 'INFO', 'replication').includes('master_link_status:up'));
  const sentinels: RedisProcess[] = [];
  for (let i = 0; i < 3; i += 1) {
    const port = await freePort();
    const file = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      file,
      [
        `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${masterName} 1000`,
        `sentinel failover-timeout ${masterName} 5000`,
        `sentinel parallel-syncs ${masterName} 1`,
        '',
      ].join('\n'),
    );
    sentinels.push(await startServer(dir, [file, '--sentinel'], port));
  }
  await until('every sentinel to see the replica and the others', () =>
    sentinels.every((s) => {
      const info = cli(s.port, 'INFO', 'sentinel');
      return /slaves=1/.test(info) && /sentinels=3/.test(info);
    }),
  );
  return topology(`redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${masterName}`, [master, replica], sentinels, dir);
}

function topology(url: string, servers: RedisProcess[], sentinels: RedisProcess[], dir: string): Topology {
  return {
    url,
    servers,
    sentinels,
    cli,
    async stop() {
      await Promise.all([...servers, ...sentinels].map((p) => p.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The port of the master the sentinels name now. */
export function sentinelMasterPort(topology: Topology, masterName = 'mymaster'): number {
  const reply = cli(topology.sentinels[0]!.port, 'SENTINEL', 'get-master-addr-by-name', masterName).split('\n');
  return Number(reply[1]);
}

export { until as waitUntil };
