/**
 * What an operator sees of an issuer whose keys cannot be loaded: the log
 * names the class of failure, the URL fetched and the cause; /readyz the
 * class and fixed words, and for a discovery mismatch both issuers.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { startApp, TEST_STREAM_KEY, TEST_STREAM_SECRET, type TestApp } from '../support/harness.js';
import { sendJson, TestServer } from '../support/identity.js';

const apps: TestApp[] = [];
const servers: TestServer[] = [];

after(async () => {
  for (const t of apps) await t.app.close();
  for (const server of servers) await server.close();
});

async function appTrusting(entry: Record<string, unknown>): Promise<TestApp> {
  const config = loadConfig({
    env: {
      STREAM_API_KEY: TEST_STREAM_KEY,
      STREAM_API_SECRET: TEST_STREAM_SECRET,
      STREAM_SYNC_USERS: 'false',
      JWKS_FETCH_TIMEOUT_MS: '500',
      OIDC_ISSUERS: JSON.stringify([{ audience: 'chat-api', ...entry }]),
    },
    cwd: tmpdir(),
  });
  const t = await startApp(config);
  apps.push(t);
  return t;
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
