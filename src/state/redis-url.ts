/**
 * `REDIS_URL`, read once by the configuration and by the client, so a URL
 * that passes the configuration is exactly one the client can use:
 *
 *   redis://[[user]:password@]host[:6379][/db][?db=N]
 *   rediss://…                                          TLS
 *   redis+sentinel://[[user]:password@]host:26379[,host:port…]/masterName[?db=N][&tls=true]
 *   redis+cluster://[[user]:password@]host:6379[,host:port…][?tls=true]
 *
 * Hosts may be names, IPv4 addresses or IPv6 addresses in brackets.
 */

export type RedisTopology = 'standalone' | 'sentinel' | 'cluster';

export interface RedisNode {
  host: string;
  port: number;
}

export interface RedisTarget {
  topology: RedisTopology;
  /** The standalone server, the sentinels, or the cluster's seed nodes. */
  nodes: RedisNode[];
  username?: string;
  password?: string;
  db?: number;
  tls: boolean;
  /** Sentinel only: the monitored master's name. */
  masterName?: string;
}

export class RedisUrlError extends Error {
  override readonly name = 'RedisUrlError';
}

/** Forms to show whenever a URL is refused. */
export const REDIS_URL_FORMS =
  'redis://[:password@]host:6379[/db], rediss:// for TLS, redis+sentinel://host:26379,host2:26379/mymaster or redis+cluster://host:7000,host2:7001 (IPv6 hosts in brackets)';

const DEFAULT_PORTS: Record<string, number> = { redis: 6379, rediss: 6379, 'redis+sentinel': 26379, 'redis+cluster': 6379 };

export function parseRedisUrl(url: string): RedisTarget {
  const scheme = /^([a-z+]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || !(scheme in DEFAULT_PORTS)) {
    throw new RedisUrlError('must start with redis://, rediss://, redis+sentinel:// or redis+cluster://');
  }
  const rest = url.slice(scheme.length + 3);
  const queryAt = rest.indexOf('?');
  const query = new URLSearchParams(queryAt === -1 ? '' : rest.slice(queryAt + 1));
  const beforeQuery = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const at = beforeQuery.lastIndexOf('@');
  const afterAuth = at === -1 ? beforeQuery : beforeQuery.slice(at + 1);
  const slash = afterAuth.indexOf('/');
  const hostList = slash === -1 ? afterAuth : afterAuth.slice(0, slash);
  const path = slash === -1 ? '' : safeDecode(afterAuth.slice(slash + 1));
  const nodes = hostList.split(',').map((h) => parseNode(h.trim(), DEFAULT_PORTS[scheme]!));
  if (nodes.length === 0) throw new RedisUrlError('names no host');

  const target: RedisTarget = {
    topology: scheme === 'redis+sentinel' ? 'sentinel' : scheme === 'redis+cluster' ? 'cluster' : 'standalone',
    nodes,
    tls: scheme === 'rediss' || query.get('tls') === 'true',
    ...credentials(at === -1 ? '' : beforeQuery.slice(0, at)),
  };
  const unknown = [...query.keys()].filter((key) => key !== 'db' && key !== 'tls');
  if (unknown.length > 0) throw new RedisUrlError(`has unknown parameters (${unknown.join(', ')}); only ?db= and ?tls=true are read`);
  const tls = query.get('tls');
  if (tls !== null && tls !== 'true' && tls !== 'false') throw new RedisUrlError('?tls= must be true or false');

  if (target.topology === 'standalone') {
    if (nodes.length > 1) throw new RedisUrlError('lists several hosts: use redis+sentinel:// or redis+cluster:// for those');
    setDb(target, query.get('db') ?? (path === '' ? null : path));
  } else if (target.topology === 'sentinel') {
    const [name, extra] = path.split('/');
    if (name === undefined || name === '') throw new RedisUrlError('must end with /<master name>, e.g. redis+sentinel://h1:26379,h2:26379/mymaster');
    if (extra !== undefined && extra !== '') setDb(target, query.get('db') ?? extra);
    else setDb(target, query.get('db'));
    target.masterName = name;
  } else {
    if (path !== '' || query.get('db') !== null) throw new RedisUrlError('a cluster has no database number: drop the /db and ?db= parts');
  }
  return target;
}

function parseNode(text: string, defaultPort: number): RedisNode {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text);
  if (match === null) throw new RedisUrlError(`has a host that cannot be read ("${text}")`);
  const port = match[2] !== undefined ? Number(match[2]) : defaultPort;
  if (port < 1 || port > 65535) throw new RedisUrlError(`has a port out of range (${port})`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

function credentials(auth: string): Pick<RedisTarget, 'username' | 'password'> {
  if (auth === '') return {};
  const colon = auth.indexOf(':');
  if (colon === -1) return { password: safeDecode(auth) };
  const username = safeDecode(auth.slice(0, colon));
  const password = safeDecode(auth.slice(colon + 1));
  return { ...(username !== '' ? { username } : {}), ...(password !== '' ? { password } : {}) };
}

function setDb(target: RedisTarget, db: string | null): void {
  if (db === null || db === '') return;
  if (!/^\d{1,2}$/.test(db)) throw new RedisUrlError(`has a database that is not a number from 0 to 99 ("${db}")`);
  target.db = Number(db);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new RedisUrlError('has a malformed percent-escape');
  }
}

/** Where the URL points, without credentials, for logs, /readyz and `doctor`. */
export function describeRedisTarget(target: RedisTarget): string {
  const hosts = target.nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
  return `${target.topology} ${hosts}${target.masterName !== undefined ? `/${target.masterName}` : ''}${target.tls ? ' (TLS)' : ''}`;
}
