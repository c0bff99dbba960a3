import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { ConfigError, describeConfig, frontendApiFromPublishableKey, loadConfig, readEnvironment } from '../../src/config/index.js';

const cwd = mkdtempSync(join(tmpdir(), 'sts-config-'));
const PRODUCTION = {
  NODE_ENV: 'production',
  STREAM_API_KEY: 'key123',
  STREAM_API_SECRET: 'super-secret-value-123456',
  CLERK_JWT_ISSUER: 'https://example.clerk.accounts.dev',
};

function problemsOf(env: Record<string, string>, devMode = false): string[] {
  try {
    loadConfig({ env, cwd, devMode });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.map((p) => p.variable);
  }
  return [];
}

test('production without any configuration lists every missing piece at once', () => {
  const problems = problemsOf({ NODE_ENV: 'production' });
  assert.deepEqual(problems.sort(), ['CLERK_JWT_ISSUER', 'STREAM_API_KEY']);
});

test('a valid production configuration resolves Clerk defaults', () => {
  const config = loadConfig({ env: PRODUCTION, cwd });
  assert.equal(config.devMode, false);
  assert.equal(config.http.port, 8080);
  assert.equal(config.stream.tokenTtlSeconds, 3600);
  const [clerk] = config.identity.issuers;
  assert.equal(clerk?.issuer, 'https://example.clerk.accounts.dev');
  assert.equal(clerk?.jwksUri, 'https://example.clerk.accounts.dev/.well-known/jwks.json');
  assert.deepEqual(clerk?.algorithms, ['RS256']);
  assert.equal(config.identity.clockSkewSeconds, 5);
  assert.deepEqual(config.identity.keySetTiming, {
    cacheTtlSeconds: 600,
    cooldownSeconds: 30,
    maxStaleSeconds: 86400,
    fetchTimeoutMs: 5000,
    fetchWaitMs: 1000,
  });
});

test('dev mode is refused in production, by flag or by variable', () => {
  assert.ok(problemsOf({ ...PRODUCTION, DEV_MODE: 'true' }).includes('DEV_MODE'));
  assert.ok(problemsOf(PRODUCTION, true).includes('DEV_MODE'));
});

test('dev mode without Stream credentials generates placeholders and keeps them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sts-dev-'));
  const first = loadConfig({ env: { DEV_MODE: 'true' }, cwd: dir });
  const second = loadConfig({ env: { DEV_MODE: 'true' }, cwd: dir });
  assert.equal(first.stream.placeholderCredentials, true);
  assert.equal(first.stream.apiKey, second.stream.apiKey);
  assert.equal(first.stream.apiSecret.reveal(), second.stream.apiSecret.reveal());
  assert.equal(first.sync.enabled, false);
  assert.equal(first.http.host, '127.0.0.1');
});

test('the issuer comes from CLERK_JWT_ISSUER, else CLERK_FRONTEND_API, else the publishable key', () => {
  const base = { STREAM_API_KEY: 'k', STREAM_API_SECRET: 's' };
  const pk = `pk_test_${Buffer.from('clever-fox-12.clerk.accounts.dev$').toString('base64')}`;
  assert.equal(frontendApiFromPublishableKey(pk), 'clever-fox-12.clerk.accounts.dev');
  assert.equal(loadConfig({ env: { ...base, CLERK_PUBLISHABLE_KEY: pk }, cwd }).identity.issuers[0]?.issuer, 'https://clever-fox-12.clerk.accounts.dev');
  assert.equal(
    loadConfig({ env: { ...base, CLERK_FRONTEND_API: 'clerk.example.com', CLERK_PUBLISHABLE_KEY: pk }, cwd }).identity.issuers[0]?.issuer,
    'https://clerk.example.com',
  );
  assert.equal(
    loadConfig({ env: { ...base, CLERK_JWT_ISSUER: 'https://a.example', CLERK_FRONTEND_API: 'b.example' }, cwd }).identity.issuers[0]?.issuer,
    'https://a.example',
  );
  assert.ok(problemsOf({ ...base, CLERK_PUBLISHABLE_KEY: 'pk_test_bm90LWEta2V5' }).includes('CLERK_PUBLISHABLE_KEY'));
});

test('JWKS URLs must be https unless loopback', () => {
  assert.ok(problemsOf({ ...PRODUCTION, CLERK_JWKS_URL: 'http://evil.example/jwks' }).includes('CLERK_JWKS_URL'));
  assert.deepEqual(problemsOf({ ...PRODUCTION, CLERK_JWKS_URL: 'http://127.0.0.1:9999/jwks' }), []);
  assert.ok(problemsOf({ ...PRODUCTION, OIDC_ISSUERS: '[{"issuer":"http://auth.example.com"}]' }).includes('OIDC_ISSUERS'));
});

test('OIDC_ISSUERS is validated and mapped', () => {
  const config = loadConfig({
    env: {
      ...PRODUCTION,
      OIDC_ISSUERS: JSON.stringify([
        { issuer: 'https://tenant.eu.auth0.com/', audience: 'chat', algorithms: ['RS256', 'ES256'], user_id_claim: 'uid', user_id_prefix: 'auth0_' },
      ]),
    },
    cwd,
  });
  const oidc = config.identity.issuers[1];
  assert.equal(oidc?.kind, 'oidc');
  assert.equal(oidc?.issuer, 'https://tenant.eu.auth0.com/');
  assert.deepEqual(oidc?.audience, ['chat']);
  assert.equal(oidc?.userIdClaim, 'uid');
  assert.ok(problemsOf({ ...PRODUCTION, OIDC_ISSUERS: '{not json' }).includes('OIDC_ISSUERS'));
  assert.ok(problemsOf({ ...PRODUCTION, OIDC_ISSUERS: '[{"issuer":"https://x.example","algorithms":["HS256"]}]' }).includes('OIDC_ISSUERS'));
});

test('REMOVED_USERS_ON_STORE_ERROR is allow unless set to deny, apart from STREAM_SYNC_FAILURE', () => {
  assert.equal(loadConfig({ env: PRODUCTION, cwd }).removedUsers.onStoreError, 'allow');
  assert.equal(
    loadConfig({ env: { ...PRODUCTION, REMOVED_USERS_ON_STORE_ERROR: 'deny', STREAM_SYNC_FAILURE: 'open' }, cwd }).removedUsers.onStoreError,
    'deny',
  );
  assert.deepEqual(problemsOf({ ...PRODUCTION, REMOVED_USERS_ON_STORE_ERROR: 'open' }), ['REMOVED_USERS_ON_STORE_ERROR']);
});

test('bad values are reported with the variable and a fix, all in one error', () => {
  try {
    loadConfig({ env: { ...PRODUCTION, PORT: 'eighty', CLOCK_SKEW_SECONDS: '-1', STREAM_SYNC_FAILURE: 'maybe', DEV_MODE: 'perhaps' }, cwd });
    assert.fail('expected ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems.map((p) => p.variable).sort(), ['CLOCK_SKEW_SECONDS', 'DEV_MODE', 'PORT', 'STREAM_SYNC_FAILURE']);
    for (const p of err.problems) assert.ok(p.fix.length > 10);
    assert.match(err.message, /PORT/);
  }
});

test('rate limits accept up to 100,000,000 a minute, for every request of a busy instance from one address', () => {
  const config = loadConfig({ env: { ...PRODUCTION, RATE_LIMIT_PER_IP: '100000000', RATE_LIMIT_PER_USER: '100000000' }, cwd });
  assert.equal(config.rateLimit.perIpPerMinute, 100_000_000);
  assert.equal(config.rateLimit.perUserPerMinute, 100_000_000);
  assert.deepEqual(problemsOf({ ...PRODUCTION, RATE_LIMIT_PER_IP: '100000001', RATE_LIMIT_PER_USER: '0' }).sort(), [
    'RATE_LIMIT_PER_IP',
    'RATE_LIMIT_PER_USER',
  ]);
});

test('request and connection timeouts default to 10 s and 30 s, and accept 1 s to 10 minutes', () => {
  const defaults = loadConfig({ env: PRODUCTION, cwd });
  assert.equal(defaults.http.requestTimeoutMs, 10_000);
  assert.equal(defaults.http.connectionTimeoutMs, 30_000);
  const set = loadConfig({ env: { ...PRODUCTION, HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_CONNECTION_TIMEOUT_MS: '600000' }, cwd });
  assert.equal(set.http.requestTimeoutMs, 1000);
  assert.equal(set.http.connectionTimeoutMs, 600_000);
  assert.deepEqual(problemsOf({ ...PRODUCTION, HTTP_REQUEST_TIMEOUT_MS: '999', HTTP_CONNECTION_TIMEOUT_MS: '600001' }).sort(), [
    'HTTP_CONNECTION_TIMEOUT_MS',
    'HTTP_REQUEST_TIMEOUT_MS',
  ]);
  assert.deepEqual(problemsOf({ ...PRODUCTION, HTTP_REQUEST_TIMEOUT_MS: '0', HTTP_CONNECTION_TIMEOUT_MS: '10s' }).sort(), [
    'HTTP_CONNECTION_TIMEOUT_MS',
    'HTTP_REQUEST_TIMEOUT_MS',
  ]);
});

test('JWKS_FETCH_WAIT_MS defaults to 1 s and accepts 0 (never wait) to 60 s', () => {
  assert.equal(loadConfig({ env: { ...PRODUCTION, JWKS_FETCH_WAIT_MS: '0' }, cwd }).identity.keySetTiming.fetchWaitMs, 0);
  assert.equal(loadConfig({ env: { ...PRODUCTION, JWKS_FETCH_WAIT_MS: '60000' }, cwd }).identity.keySetTiming.fetchWaitMs, 60_000);
  assert.deepEqual(problemsOf({ ...PRODUCTION, JWKS_FETCH_WAIT_MS: '60001' }), ['JWKS_FETCH_WAIT_MS']);
  assert.deepEqual(problemsOf({ ...PRODUCTION, JWKS_FETCH_WAIT_MS: '-1' }), ['JWKS_FETCH_WAIT_MS']);
});

test('SHUTDOWN_DELAY_SECONDS defaults to 5 s (0 in dev mode) and accepts 0 to 300; HTTP_MAX_CONNECTIONS defaults to 10000', () => {
  const defaults = loadConfig({ env: PRODUCTION, cwd });
  assert.equal(defaults.http.shutdownDelaySeconds, 5);
  assert.equal(defaults.http.maxConnections, 10_000);
  assert.equal(loadConfig({ env: {}, cwd, devMode: true }).http.shutdownDelaySeconds, 0);
  const set = loadConfig({ env: { ...PRODUCTION, SHUTDOWN_DELAY_SECONDS: '0', HTTP_MAX_CONNECTIONS: '1' }, cwd });
  assert.equal(set.http.shutdownDelaySeconds, 0);
  assert.equal(set.http.maxConnections, 1);
  assert.equal(loadConfig({ env: { ...PRODUCTION, SHUTDOWN_DELAY_SECONDS: '300' }, cwd }).http.shutdownDelaySeconds, 300);
  assert.deepEqual(problemsOf({ ...PRODUCTION, SHUTDOWN_DELAY_SECONDS: '301', HTTP_MAX_CONNECTIONS: '0' }).sort(), [
    'HTTP_MAX_CONNECTIONS',
    'SHUTDOWN_DELAY_SECONDS',
  ]);
  assert.deepEqual(problemsOf({ ...PRODUCTION, SHUTDOWN_DELAY_SECONDS: '-1', HTTP_MAX_CONNECTIONS: '1000001' }).sort(), [
    'HTTP_MAX_CONNECTIONS',
    'SHUTDOWN_DELAY_SECONDS',
  ]);
});

test('the token lifetime is capped by STREAM_TOKEN_MAX_TTL_SECONDS', () => {
  const config = loadConfig({ env: { ...PRODUCTION, STREAM_TOKEN_TTL_SECONDS: '7200', STREAM_TOKEN_MAX_TTL_SECONDS: '1800' }, cwd });
  assert.equal(config.stream.tokenTtlSeconds, 1800);
});

test('every secret can come from NAME_FILE, never both', () => {
  const file = join(cwd, 'stream-secret');
  writeFileSync(file, 'secret-from-file-abcdef\n');
  const { STREAM_API_SECRET: _unused, ...withoutSecret } = PRODUCTION;
  const config = loadConfig({ env: { ...withoutSecret, STREAM_API_SECRET_FILE: file }, cwd });
  assert.equal(config.stream.apiSecret.reveal(), 'secret-from-file-abcdef');
  assert.ok(problemsOf({ ...PRODUCTION, STREAM_API_SECRET_FILE: file }).includes('STREAM_API_SECRET_FILE'));
  assert.ok(problemsOf({ ...withoutSecret, STREAM_API_SECRET_FILE: join(cwd, 'missing') }).includes('STREAM_API_SECRET_FILE'));
});

test('secrets never show in the described config, JSON, or inspect output', () => {
  const config = loadConfig({ env: { ...PRODUCTION, CLERK_SECRET_KEY: 'sk_test_verysecretvalue', CLERK_WEBHOOK_SECRET: 'whsec_abcdefghijkl' }, cwd });
  const texts = [JSON.stringify(describeConfig(config)), JSON.stringify(config), inspect(config, { depth: 10 }), String(config.stream.apiSecret)];
  for (const text of texts) {
    assert.ok(!text.includes('super-secret-value-123456'));
    assert.ok(!text.includes('sk_test_verysecretvalue'));
    assert.ok(!text.includes('whsec_abcdefghijkl'));
  }
});

test('.env is read, and the real environment wins over it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sts-env-'));
  writeFileSync(join(dir, '.env'), 'PORT=9000\nLOG_LEVEL=debug\n');
  const env = readEnvironment({ processEnv: { LOG_LEVEL: 'warn' }, cwd: dir });
  assert.equal(env.PORT, '9000');
  assert.equal(env.LOG_LEVEL, 'warn');
});

test('STREAM_API_MAX_CONCURRENCY and STREAM_API_QUEUE_TIMEOUT_MS default to 64 and 250 ms, and out-of-range values are refused with a fix', () => {
  const config = loadConfig({ env: PRODUCTION, cwd });
  assert.equal(config.stream.maxConcurrency, 64);
  assert.equal(config.stream.queueTimeoutMs, 250);
  const set = loadConfig({ env: { ...PRODUCTION, STREAM_API_MAX_CONCURRENCY: '10000', STREAM_API_QUEUE_TIMEOUT_MS: '0' }, cwd });
  assert.equal(set.stream.maxConcurrency, 10000);
  assert.equal(set.stream.queueTimeoutMs, 0);
  for (const value of ['0', '10001', '-1', '1.5', 'many']) {
    assert.deepEqual(problemsOf({ ...PRODUCTION, STREAM_API_MAX_CONCURRENCY: value }), ['STREAM_API_MAX_CONCURRENCY'], value);
  }
  for (const value of ['10001', '-5', 'soon']) {
    assert.deepEqual(problemsOf({ ...PRODUCTION, STREAM_API_QUEUE_TIMEOUT_MS: value }), ['STREAM_API_QUEUE_TIMEOUT_MS'], value);
  }
  try {
    loadConfig({ env: { ...PRODUCTION, STREAM_API_MAX_CONCURRENCY: '0' }, cwd });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.match(err.problems[0]?.fix ?? '', /whole number from 1 to 10000/);
  }
});

test('POLICY_FILE is read with the policy loader: a file over 1 MiB is refused at load with the reason', () => {
  const small = join(cwd, 'policy.yaml');
  writeFileSync(small, 'deny:\n  deny_users: [u1]\n');
  assert.deepEqual(loadConfig({ env: { ...PRODUCTION, POLICY_FILE: small }, cwd }).policy.document?.deny?.deny_users, ['u1']);
  const big = join(cwd, 'big-policy.yaml');
  writeFileSync(big, `deny:\n  deny_users: [u1]\n${'#'.repeat(1024 * 1024)}\n`);
  try {
    loadConfig({ env: { ...PRODUCTION, POLICY_FILE: big }, cwd });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(
      err.problems.map((p) => p.variable),
      ['POLICY_FILE'],
    );
    assert.match(err.message, /POLICY_FILE: the file is larger than 1 MiB \(1048576 bytes\)/);
  }
  assert.match(String(problemsOf({ ...PRODUCTION, POLICY_FILE: join(cwd, 'no-such-policy.yaml') })), /POLICY_FILE/);
});
