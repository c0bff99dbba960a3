import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { describeRedisTarget, parseRedisUrl } from '../../src/state/redis-url.js';

const BASE = { NODE_ENV: 'production', STREAM_API_KEY: 'k', STREAM_API_SECRET: 's', CLERK_JWT_ISSUER: 'https://example.clerk.accounts.dev' };

function redisProblem(url: string): string | null {
  try {
    loadConfig({ env: { ...BASE, REDIS_URL: url }, cwd: tmpdir() });
    return null;
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const problem = error.problems.find((p) => p.variable === 'REDIS_URL');
    return problem === undefined ? null : `${problem.message} | ${problem.fix}`;
  }
}

describe('REDIS_URL', () => {
  const accepted: Array<[string, ReturnType<typeof parseRedisUrl>]> = [
    ['redis://127.0.0.1:6379', { topology: 'standalone', nodes: [{ host: '127.0.0.1', port: 6379 }], tls: false }],
    ['redis://cache.internal', { topology: 'standalone', nodes: [{ host: 'cache.internal', port: 6379 }], tls: false }],
    ['redis://:p%40ss@[::1]:6380/2', { topology: 'standalone', nodes: [{ host: '::1', port: 6380 }], tls: false, password: 'p@ss', db: 2 }],
    [
      'rediss://app:secret@cache.example.com:6380?db=4',
      { topology: 'standalone', nodes: [{ host: 'cache.example.com', port: 6380 }], tls: true, username: 'app', password: 'secret', db: 4 },
    ],
    [
      'redis+cluster://127.0.0.1:7001,127.0.0.1:7002,[::1]:7003',
      {
        topology: 'cluster',
        nodes: [
          { host: '127.0.0.1', port: 7001 },
          { host: '127.0.0.1', port: 7002 },
          { host: '::1', port: 7003 },
        ],
        tls: false,
      },
    ],
    [
      'redis+cluster://user:pw@clustercfg.example.com:6379?tls=true',
      { topology: 'cluster', nodes: [{ host: 'clustercfg.example.com', port: 6379 }], tls: true, username: 'user', password: 'pw' },
    ],
    [
      'redis+sentinel://h:26379,h:26380,h:26381/mymaster',
      {
        topology: 'sentinel',
        nodes: [
          { host: 'h', port: 26379 },
          { host: 'h', port: 26380 },
          { host: 'h', port: 26381 },
        ],
        tls: false,
        masterName: 'mymaster',
      },
    ],
    [
      'redis+sentinel://:pw@s1,s2:26380/main?db=3&tls=true',
      {
        topology: 'sentinel',
        nodes: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26380 },
        ],
        tls: true,
        password: 'pw',
        db: 3,
        masterName: 'main',
      },
    ],
  ];
  for (const [url, expected] of accepted) {
    it(`reads ${url}, and the configuration accepts it`, () => {
      assert.deepEqual(parseRedisUrl(url), expected);
      assert.equal(redisProblem(url), null);
    });
  }

  const refused: Array<[string, RegExp]> = [
    ['http://127.0.0.1:6379', /must start with redis:\/\//],
    ['redis://a:1,b:2', /several hosts: use redis\+sentinel:\/\/ or redis\+cluster:\/\//],
    ['redis+sentinel://h:26379,h:26380', /must end with \/<master name>/],
    ['redis+cluster://h:7000/1', /a cluster has no database number/],
    ['redis://h:99999', /port out of range/],
    ['redis://h/x', /database that is not a number/],
    ['redis://h?timeout=5', /unknown parameters \(timeout\)/],
    ['redis://h:6379,', /host that cannot be read/],
  ];
  for (const [url, message] of refused) {
    it(`refuses ${url} and shows the forms it takes`, () => {
      const problem = redisProblem(url);
      assert.match(problem ?? '', message);
      assert.match(
        problem ?? '',
        /\| set REDIS_URL to redis:\/\/.*redis\+sentinel:\/\/host:26379,host2:26379\/mymaster or redis\+cluster:\/\/host:7000,host2:7001/,
      );
    });
  }

  it('never repeats a password in a problem or a description', () => {
    const problem = redisProblem('redis://:hunter2-secret@a:1,b:2');
    assert.ok(problem !== null && !problem.includes('hunter2'));
    assert.equal(describeRedisTarget(parseRedisUrl('redis+sentinel://:hunter2@s1,[::1]:26380/main?tls=true')), 'sentinel s1:26379,[::1]:26380/main (TLS)');
  });
});
