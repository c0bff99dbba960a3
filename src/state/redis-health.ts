import type { Cluster } from 'ioredis';
import type { BreakerState, RedisBreaker } from './redis-breaker.js';
import type { RedisClient } from './redis.js';
import { parseRedisUrl, type RedisTopology } from './redis-url.js';

/** Redis as /readyz and /metrics show it: no address, credential or error text. */
export interface RedisHealth {
  topology: RedisTopology;
  /** Connections up, and connections the client knows of (a cluster's nodes; one otherwise). */
  nodes: { connected: number; known: number };
  breaker: BreakerState;
  /** Requests are refused while Redis is away (a `deny` setting), so readiness follows it. */
  required: boolean;
}

/** Reads the health of the process's Redis client on demand. */
export function redisHealthOf(client: RedisClient, url: string, breaker: RedisBreaker, required: boolean): () => RedisHealth {
  const { topology } = parseRedisUrl(url);
  return () => {
    const connections = topology === 'cluster' ? (client as Cluster).nodes('all') : [client];
    return {
      topology,
      nodes: { connected: connections.filter((c) => c.status === 'ready').length, known: connections.length },
      breaker: breaker.state,
      required,
    };
  };
}
