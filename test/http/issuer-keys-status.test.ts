/**
 * What an operator sees of an issuer whose keys cannot be loaded: the log
 * names the class of failure, the URL fetched and the cause; /readyz the
 * class and fixed words, and for a discovery mismatch both issuers.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import type { AppDependencies } from '../../src/server.js';
import { startApp, TEST_STREAM_KEY, TEST_STREAM_SECRET, type TestApp } from '../support/harness.js';
import { publicJwk, rsaKeyPair, sendJson, signToken, TestClock, TestServer } from '../support/identity.js';

const apps: TestApp[] = [];
const servers: TestServer[] = [];

after(async () => {
  for (const t of apps) await t.app.close();
  for (const server of servers) await server.close();
});

async function appWith(env: Record<string, string>, deps: AppDependencies = {}): Promise<TestApp> {
  const base = { STREAM_API_KEY: TEST_STREAM_KEY, STREAM_API_SECRET: TEST_STREAM_SECRET, STREAM_SYNC_USERS: 'false', JWKS_FETCH_TIMEOUT_MS: '500' };
  const t = await startApp(loadConfig({ env: { ...base, ...env }, cwd: tmpdir() }), deps);
  apps.push(t);
  return t;
}

function appTrusting(entry: Record<string, unknown>): Promise<TestApp> {
  return appWith({ OIDC_ISSUERS: JSON.stringify([{ audience: 'chat-api', ...entry }]) });
}

interface ReadyIssuer {
  issuer: string;
  ready: boolean;
  keyCount: number;
  lastError: string | null;
  lastErrorClass?: string;
}

async function readyIssuer(t: TestApp): Promise<ReadyIssuer> {
  const response = await t.app.inject('/readyz');
  assert.equal(response.statusCode, 503);
  return (response.json() as { issuers: ReadyIssuer[] }).issuers[0] as ReadyIssuer;
}

function fetchFailures(t: TestApp): string[] {
  return t.logs.records.filter((r) => r.msg === 'Signing key fetch failed; no keys loaded').map((r) => String(r.reason));
}

describe('an issuer whose keys cannot be loaded', () => {
  it('a discovery document naming another issuer: /readyz and the start-up log name both', async () => {
    const server = await new TestServer().listen();
    servers.push(server);
    server.handler = (_req, res) => sendJson(res, 200, { issuer: `${server.origin}/tenant/`, jwks_uri: server.url('/keys') });
    const configured = `${server.origin}/tenant`;
    const t = await appTrusting({ issuer: configured });
    const mismatch = `the discovery document names a different issuer, "${configured}/", not the configured "${configured}" (they differ only by a trailing slash: configure the issuer exactly as the document names it)`;

    const issuer = await readyIssuer(t);
    assert.equal(issuer.lastErrorClass, 'issuer_mismatch');
    assert.equal(issuer.lastError, mismatch);
    assert.deepEqual(fetchFailures(t), [`issuer_mismatch (GET ${configured}/.well-known/openid-configuration): ${mismatch}`]);
  });

  it('a discovery document naming an unrelated issuer says so without a hint', async () => {
    const server = await new TestServer().listen();
    servers.push(server);
    server.handler = (_req, res) => sendJson(res, 200, { issuer: 'https://other.example.com', jwks_uri: server.url('/keys') });
    const t = await appTrusting({ issuer: server.origin });
    const issuer = await readyIssuer(t);
    assert.equal(issuer.lastError, `the discovery document names a different issuer, "https://other.example.com", not the configured "${server.origin}"`);
  });

  it('an unreachable JWKS: the log names the class, the URL fetched and the cause; /readyz the class in fixed words', async () => {
    const closed = await new TestServer().listen();
    await closed.close();
    const t = await appTrusting({ issuer: closed.origin, jwks_uri: closed.url('/keys?tenant=a') });
    const issuer = await readyIssuer(t);
    assert.equal(issuer.lastErrorClass, 'unreachable');
    assert.equal(issuer.lastError, 'the issuer could not be reached');
    const [reason] = fetchFailures(t);
    assert.equal(reason, `unreachable (GET ${closed.origin}/keys): request failed (ECONNREFUSED)`, 'no query string: it could carry a credential');
  });

  it('a JWKS answering 404 is an invalid document, and the log says which URL', async () => {
    const server = await new TestServer().listen();
    servers.push(server);
    const t = await appTrusting({ issuer: server.origin, jwks_uri: server.url('/jwks') });
    const issuer = await readyIssuer(t);
    assert.equal(issuer.lastErrorClass, 'invalid_document');
    assert.equal(issuer.lastError, 'the issuer answered with no usable document');
    assert.deepEqual(fetchFailures(t), [`invalid_document (GET ${server.origin}/jwks): unexpected HTTP status 404`]);
  });
});

describe('/readyz and /metrics', () => {
  it('report the same staleness, key age and key count for every issuer, "no keys yet" apart from "stale"', async () => {
    const clock = new TestClock(Date.now());
    const pair = rsaKeyPair();
    const live = await new TestServer().listen();
    const closed = await new TestServer().listen();
    servers.push(live);
    await closed.close();
    live.serveJson({ keys: [publicJwk(pair.publicKey, { kid: 'k1', alg: 'RS256', use: 'sig' })] });
    const pem = rsaKeyPair().publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const t = await appWith(
      {
        JWKS_CACHE_TTL_SECONDS: '60',
        JWKS_COOLDOWN_SECONDS: '1',
        CLERK_JWT_ISSUER: 'https://my-app.clerk.accounts.dev',
        CLERK_JWT_KEY: pem,
        OIDC_ISSUERS: JSON.stringify([
          { issuer: live.origin, jwks_uri: live.url('/jwks'), audience: 'chat-api', user_id_prefix: 'live_' },
          { issuer: closed.origin, jwks_uri: closed.url('/jwks'), audience: 'chat-api', user_id_prefix: 'down_' },
        ]),
      },
      { now: clock.now },
    );

    // The live issuer's keys age past the cache time and their refresh fails: stale.
    clock.advanceSeconds(90);
    live.serveJson({ error: 'down' }, 500);
    const seconds = Math.floor(clock.ms / 1000);
    const unknownKid = signToken(
      { alg: 'RS256', kid: 'k2', typ: 'JWT' },
      { iss: live.origin, aud: 'chat-api', sub: 'a', iat: seconds, exp: seconds + 60 },
      pair.privateKey,
    );
    await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${unknownKid}` } });

    const ready = (await t.app.inject('/readyz')).json() as {
      issuers: Array<{ issuer: string; keyState: string; stale: boolean; keyAgeSeconds: number | null; keyCount: number }>;
    };
    const metrics = (await t.app.inject('/metrics')).body;
    const sample = (name: string, issuer: string): number | null => {
      const line = metrics.split('\n').find((l) => l.startsWith(`stream_token_service_${name}{issuer="${issuer}"}`));
      return line === undefined ? null : Number(line.split(' ').pop());
    };
    const states = Object.fromEntries(ready.issuers.map((i) => [i.issuer, i.keyState]));
    assert.deepEqual(states, { 'https://my-app.clerk.accounts.dev': 'fresh', [live.origin]: 'stale', [closed.origin]: 'no_keys' });
    for (const issuer of ready.issuers) {
      assert.equal(sample('jwks_keys_stale', issuer.issuer), issuer.stale ? 1 : 0, `${issuer.issuer}: stale`);
      assert.equal(sample('jwks_key_age_seconds', issuer.issuer), issuer.keyAgeSeconds, `${issuer.issuer}: key age`);
      assert.equal(sample('jwks_keys_loaded', issuer.issuer), issuer.keyCount, `${issuer.issuer}: keys`);
    }
    const byIssuer = new Map(ready.issuers.map((i) => [i.issuer, i]));
    assert.deepEqual(
      { stale: byIssuer.get(live.origin)?.stale, age: byIssuer.get(live.origin)?.keyAgeSeconds, keys: byIssuer.get(live.origin)?.keyCount },
      { stale: true, age: 90, keys: 1 },
    );
    assert.deepEqual(
      { stale: byIssuer.get(closed.origin)?.stale, age: byIssuer.get(closed.origin)?.keyAgeSeconds, keys: byIssuer.get(closed.origin)?.keyCount },
      { stale: false, age: null, keys: 0 },
      'no keys yet is not "stale", and has no age (no -1)',
    );
  });
});
