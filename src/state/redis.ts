/**
 * The ioredis client behind `REDIS_URL`.
 *
 * URL forms: see `redis-url.ts`, which the configuration validates with too.
 *
 * Tuned for a request path that must not hang on a dead Redis: a command
 * fails after `commandTimeoutMs`, queued or sent; a cluster, whose own queue
 * has no timeout, fails a command at once while it has no node to send it
 * to; connecting gives up after `connectTimeoutMs`, and reconnection keeps
 * going in the background with a capped backoff.
 */

import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import { parseRedisUrl } from './redis-url.js';

export { RedisUrlError } from './redis-url.js';

export type RedisClient = Redis | Cluster;

export interface RedisLogger {
  warn(obj: object, msg?: string): void;
}

export interface CreateRedisClientOptions {
  /** Milliseconds to establish a connection. Default 2000. */
  connectTimeoutMs?: number;
  /** Milliseconds before a single command fails. Default 1000. */
  commandTimeoutMs?: number;
  /** Reconnections a pending command waits for before failing. Default 1. */
  maxRetriesPerRequest?: number;
  /** Longest pause between reconnection attempts, ms. Default 2000. */
  maxReconnectDelayMs?: number;
  /** Client name shown by `CLIENT LIST`. Default `stream-token-service`. */
  connectionName?: string;
  /** Where connection errors go (rate-limited to one line per 10 s). Without it they are dropped. */
  logger?: RedisLogger;
}

function makeLogHook(logger: RedisLogger | undefined): (error: Error) => void {
  let last = 0;
  return (error) => {
    if (logger === undefined) return;
    const now = Date.now();
    if (now - last < 10_000) return;
    last = now;
    logger.warn({ err: error }, 'redis connection error');
  };
}

/** Create and connect a client for `url`. Throws `RedisUrlError` for an unsupported or malformed URL. */
export function createRedisClient(url: string, options: CreateRedisClientOptions = {}): RedisClient {
  const target = parseRedisUrl(url);
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  const common: RedisOptions = {
    lazyConnect: false,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    commandTimeout: options.commandTimeoutMs ?? 1000,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 1,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
    connectionName: options.connectionName ?? 'stream-token-service',
  };
  const auth = {
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
  };
  const db = target.db !== undefined ? { db: target.db } : {};
  let client: RedisClient;
  switch (target.topology) {
    case 'standalone': {
      const [node] = target.nodes;
      client = new Redis({ ...common, ...auth, ...db, host: node!.host, port: node!.port, ...(target.tls ? { tls: {} } : {}) });
      break;
    }
    case 'sentinel':
      client = new Redis({
        ...common,
        ...auth,
        ...db,
        sentinels: target.nodes,
        name: target.masterName!,
        ...(target.password !== undefined ? { sentinelPassword: target.password } : {}),
        ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
      });
      break;
    case 'cluster': {
      const { maxRetriesPerRequest, commandTimeout, connectTimeout, connectionName } = common;
      const nodes: ClusterNode[] = target.nodes;
      client = new Cluster(nodes, {
        lazyConnect: false,
        // The cluster's queue (no node ready) has no timeout: without it, a cluster with no reachable node
        // would hold a request forever.
        enableOfflineQueue: false,
        // After a failover the dead master's slots are reached only through a fresh slot map: commands to
        // its old address time out rather than answer MOVED, so the map is read again every second.
        slotsRefreshInterval: 1000,
        clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
        redisOptions: { maxRetriesPerRequest, commandTimeout, connectTimeout, connectionName, ...auth, ...(target.tls ? { tls: {} } : {}) },
      });
      break;
    }
  }
  client.on('error', makeLogHook(options.logger));
  return client;
}

/** How long the service waits for Redis at start before it serves without it (degraded, as in an outage). */
export const REDIS_START_WAIT_MS = 2000;

/**
 * Waits until the client is connected, at most `timeoutMs`; false when it is not by then. A cluster
 * does not queue commands while it connects, so the service waits for this before it reports ready.
 */
export async function waitForRedis(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return true;
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => {
      onReady = () => resolve(true);
      client.once('ready', onReady);
    }),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
  if (onReady !== undefined) client.off('ready', onReady);
  return ready;
}

/** Close gracefully (`QUIT`), or drop the connection when that takes longer than `timeoutMs`. Never throws. */
export async function closeRedis(client: RedisClient, timeoutMs = 2000): Promise<void> {
  if (client.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('quit timed out')), timeoutMs);
        timer.unref();
      }),
    ]);
  } catch {
    client.disconnect();
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
