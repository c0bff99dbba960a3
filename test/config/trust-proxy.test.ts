import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { buildApp } from '../../src/server.js';
import { LogCapture } from '../support/harness.js';

const BASE = {
  NODE_ENV: 'production',
  STREAM_API_KEY: 'key123',
  STREAM_API_SECRET: 'super-secret-value-123456',
  CLERK_JWT_ISSUER: 'https://example.clerk.accounts.dev',
  // Nothing listens there: the keys never load, and no test here needs them.
  CLERK_JWKS_URL: 'http://127.0.0.1:9/jwks',
  STREAM_SYNC_USERS: 'false',
};

function configWith(trustProxy: string, env: Record<string, string> = {}) {
  return loadConfig({ env: { ...BASE, TRUST_PROXY: trustProxy, ...env }, cwd: tmpdir() });
}

function trustProblem(trustProxy: string): string {
  try {
    configWith(trustProxy);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const problem = error.problems.find((p) => p.variable === 'TRUST_PROXY');
    assert.ok(problem, `no TRUST_PROXY problem for ${trustProxy}`);
    return `${problem.message} | ${problem.fix}`;
  }
  assert.fail(`TRUST_PROXY=${trustProxy} was accepted`);
}

/** An app whose `/ip` route answers with what the service takes as the client address. */
async function ipApp(trustProxy: string) {
  const app = await buildApp(configWith(trustProxy), { logDestination: new LogCapture() });
  app.get('/ip', async (request) => ({ ip: request.ip }));
  await app.ready();
  return app;
}

/** Each form the configuration accepts, a peer inside it, and one outside it. */
const FORMS: Array<[string, string, string]> = [
  ['10.1.2.3', '10.1.2.3', '10.1.2.4'],
  ['10.0.0.0/8', '10.200.0.9', '11.0.0.1'],
  ['10.0.0.0/255.0.0.0', '10.9.9.9', '192.0.2.1'],
  ['127.0.0.1, 192.168.0.0/16', '192.168.4.4', '172.16.0.1'],
  ['::1', '::1', '::2'],
  ['fd00::/8', 'fd12::7', 'fe80::1'],
  ['loopback', '127.0.0.5', '10.0.0.1'],
  ['uniquelocal', '172.20.0.3', '8.8.8.8'],
  ['linklocal', '169.254.1.1', '10.0.0.1'],
];

describe('TRUST_PROXY', () => {
  for (const [setting, trusted, untrusted] of FORMS) {
    it(`"${setting}": X-Forwarded-For is believed from ${trusted} and ignored from ${untrusted}`, async () => {
      const app = await ipApp(setting);
      try {
        const headers = { 'x-forwarded-for': '203.0.113.7' };
        const viaProxy = await app.inject({ method: 'GET', url: '/ip', remoteAddress: trusted, headers });
        assert.equal(viaProxy.json().ip, '203.0.113.7');
        const direct = await app.inject({ method: 'GET', url: '/ip', remoteAddress: untrusted, headers });
        assert.equal(direct.json().ip, untrusted);
      } finally {
        await app.close();
      }
    });
  }

  it('gives every client behind a trusted proxy its own per-IP limit', async () => {
    const app = await buildApp(configWith('10.0.0.0/8', { RATE_LIMIT_PER_IP: '2' }), { logDestination: new LogCapture() });
    await app.ready();
    try {
      const send = (client: string) => app.inject({ method: 'POST', url: '/stream/token', remoteAddress: '10.0.0.2', headers: { 'x-forwarded-for': client } });
      for (let i = 0; i < 2; i++) assert.equal((await send('198.51.100.1')).statusCode, 401);
      assert.equal((await send('198.51.100.1')).statusCode, 429);
      assert.equal((await send('198.51.100.2')).statusCode, 401, 'another client is not limited by the first');
    } finally {
      await app.close();
    }
  });

  it('refuses a hop count and says what to write instead', () => {
    for (const count of ['1', '2', '0']) {
      assert.match(trustProblem(count), /hop count.*\| list the addresses or CIDRs/);
    }
  });

  it('refuses ranges that trust every address, which Fastify would crash on or believe from anyone', () => {
    for (const everyone of ['0.0.0.0/0', '::/0', '::ffff:0.0.0.0/96', '10.0.0.0/8,0.0.0.0/0', '0.0.0.0/1,128.0.0.0/1', '::/1,8000::/1']) {
      assert.match(trustProblem(everyone), /would trust every address/, everyone);
    }
  });

  it('refuses what is not an address, CIDR or range name', () => {
    for (const bad of ['true', 'proxy.internal', '10.0.0.0/33', '300.1.1.1', '10.0.0.1,1']) {
      assert.match(trustProblem(bad), /is not an IP address, CIDR or range name/, bad);
    }
  });
});
