/**
 * The ioredis client behind `REDIS_URL`.
 *
 *   redis://[[user]:password@]host[:6379][/db]
 *   rediss://...                                   TLS
 *   redis+sentinel://[[user]:password@]host:26379[,host2:26379]/masterName[?db=N]
 *   redis+cluster://[[user]:password@]host:7000[,host2:7001]
 *
 * Tuned for a request path that must not hang on a dead Redis: a command is
 * retried on at most one reconnection (`maxRetriesPerRequest: 1`) and fails
 * after `commandTimeoutMs`; connecting gives up after `connectTimeoutMs`, and
 * reconnection keeps going in the background with a capped backoff.
 */

import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';

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

export class RedisUrlError extends Error {
  override readonly name = 'RedisUrlError';
}

interface ParsedMultiHost {
  username?: string;
  password?: string;
  nodes: Array<{ host: string; port: number }>;
  path: string;
  query: URLSearchParams;
}

/** Parse `scheme://[auth@]host:port,host:port[/path][?query]` (WHATWG URL cannot: several hosts). */
function parseMultiHost(url: string, defaultPort: number): ParsedMultiHost {
  const rest = url.slice(url.indexOf('://') + 3);
  const queryAt = rest.indexOf('?');
  const query = new URLSearchParams(queryAt === -1 ? '' : rest.slice(queryAt + 1));
  const beforeQuery = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const at = beforeQuery.lastIndexOf('@');
  const auth = at === -1 ? '' : beforeQuery.slice(0, at);
  const afterAuth = at === -1 ? beforeQuery : beforeQuery.slice(at + 1);
  const slash = afterAuth.indexOf('/');
  const hostList = slash === -1 ? afterAuth : afterAuth.slice(0, slash);
  const path = slash === -1 ? '' : decodeURIComponent(afterAuth.slice(slash + 1));
  const nodes = hostList
    .split(',')
    .filter((h) => h.length > 0)
    .map((h) => {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(h);
      if (m === null) throw new RedisUrlError('REDIS_URL has a malformed host list');
      return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : defaultPort };
    });
  if (nodes.length === 0) throw new RedisUrlError('REDIS_URL names no host');
  const result: ParsedMultiHost = { nodes, path, query };
  if (auth !== '') {
    const colon = auth.indexOf(':');
    const user = decodeURIComponent(colon === -1 ? auth : auth.slice(0, colon));
    const pass = colon === -1 ? '' : decodeURIComponent(auth.slice(colon + 1));
    if (colon === -1) result.password = user;
    else {
      if (user !== '') result.username = user;
      if (pass !== '') result.password = pass;
    }
  }
  return result;
}

function makeLogHook(logger: RedisLogger | undefined): (error: Error) => void {
  let last = 0;
  return (error) => {
    if (logger === undefined) return;
    const now = Date.now();
    if (now - last < 10_000) return;
    last = now;
    logger.warn({ err: { message: error.message, code: (error as NodeJS.ErrnoException).code } }, 'redis connection error');
  };
}

/** Create and connect a client for `url`. Throws `RedisUrlError` for an unsupported or malformed URL. */
export function createRedisClient(url: string, options: CreateRedisClientOptions = {}): RedisClient {
  const scheme = /^([a-z+]+):\/\//i.exec(url)?.[1]?.toLowerCase();
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
  const onError = makeLogHook(options.logger);
  let client: RedisClient;

  switch (scheme) {
    case 'redis':
    case 'rediss': {
      try {
        new URL(url);
      } catch {
        throw new RedisUrlError('REDIS_URL is not a valid URL');
      }
      client = new Redis(url, scheme === 'rediss' ? { ...common, tls: {} } : common);
      break;
    }
    case 'redis+sentinel': {
      const parsed = parseMultiHost(url, 26379);
      const name = parsed.path.replace(/\/.*$/, '');
      if (name === '') throw new RedisUrlError('a redis+sentinel URL must end with /<master name>');
      const db = parsed.query.get('db');
      client = new Redis({
        ...common,
        sentinels: parsed.nodes,
        name,
        ...(parsed.username !== undefined ? { username: parsed.username } : {}),
        ...(parsed.password !== undefined ? { password: parsed.password, sentinelPassword: parsed.password } : {}),
        ...(db !== null && /^\d+$/.test(db) ? { db: Number(db) } : {}),
        ...(parsed.query.get('tls') === 'true' ? { tls: {}, enableTLSForSentinelMode: true } : {}),
      });
      break;
    }
    case 'redis+cluster': {
      const parsed = parseMultiHost(url, 6379);
      const nodes: ClusterNode[] = parsed.nodes;
      const { maxRetriesPerRequest, commandTimeout, connectTimeout, connectionName } = common;
      client = new Cluster(nodes, {
        lazyConnect: false,
        enableOfflineQueue: true,
        clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
        redisOptions: {
          maxRetriesPerRequest,
          commandTimeout,
          connectTimeout,
          connectionName,
          ...(parsed.username !== undefined ? { username: parsed.username } : {}),
          ...(parsed.password !== undefined ? { password: parsed.password } : {}),
          ...(parsed.query.get('tls') === 'true' ? { tls: {} } : {}),
        },
      });
      break;
    }
    default:
      throw new RedisUrlError('REDIS_URL must start with redis://, rediss://, redis+sentinel:// or redis+cluster://');
  }
  client.on('error', onError);
  return client;
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
