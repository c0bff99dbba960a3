import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, describeConfig, loadConfig, type ConfigProblem } from '../../src/config/index.js';
import { buildApp } from '../../src/server.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import { parsePolicyText, PolicyFileError } from '../../src/policy/index.js';
import { createClerkWebhookHandlers } from '../../src/clerk-webhooks/handlers.js';
import { MemorySyncStore } from '../../src/state/sync-store.js';
import { compilePolicy } from '../../src/policy/index.js';
import { LogCapture } from '../support/harness.js';
import { defaultTiming, issuerOptions } from '../support/identity.js';

const cwd = mkdtempSync(join(tmpdir(), 'sts-rules-'));
const CLERK = 'https://example.clerk.accounts.dev';
const PRODUCTION = { NODE_ENV: 'production', STREAM_API_KEY: 'key123', STREAM_API_SECRET: 'super-secret-value-123456', CLERK_JWT_ISSUER: CLERK };

function problems(env: Record<string, string>, devMode = false): ConfigProblem[] {
  try {
    loadConfig({ env, cwd, devMode });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return [...error.problems];
  }
  return [];
}

const text = (list: ConfigProblem[]) => list.map((p) => `${p.variable}: ${p.message} | ${p.fix}`).join('\n');
const oidc = (...entries: Array<Record<string, unknown>>) => JSON.stringify(entries.map((e) => ({ audience: 'chat', ...e })));

describe('issuer namespaces', () => {
  it('refuses several issuers unless each has a user id prefix of its own', () => {
    assert.match(text(problems({ ...PRODUCTION, OIDC_ISSUERS: oidc({ issuer: 'https://a.example' }) })), /https:\/\/a\.example needs a user id prefix/);
    const two = oidc({ issuer: 'https://a.example', user_id_prefix: 'a_' }, { issuer: 'https://b.example', user_id_prefix: 'a_' });
    assert.match(text(problems({ NODE_ENV: 'production', STREAM_API_KEY: 'k', STREAM_API_SECRET: 's', OIDC_ISSUERS: two })), /could be the same/);
  });

  it("refuses a prefix that begins another namespace, Clerk's user_ included", () => {
    const nested = oidc({ issuer: 'https://a.example', user_id_prefix: 'a' }, { issuer: 'https://b.example', user_id_prefix: 'ab' });
    assert.match(text(problems({ ...PRODUCTION, OIDC_ISSUERS: nested })), /https:\/\/a\.example \("a…"\) and https:\/\/b\.example \("ab…"\)/);
    assert.match(
      text(problems({ ...PRODUCTION, OIDC_ISSUERS: oidc({ issuer: 'https://a.example', user_id_prefix: 'user_' }) })),
      /\("user_…"\).*could be the same/,
    );
    assert.match(text(problems({ ...PRODUCTION, OIDC_ISSUERS: oidc({ issuer: 'https://a.example', user_id_prefix: 'us' }) })), /could be the same/);
    assert.deepEqual(problems({ ...PRODUCTION, CLERK_USER_ID_PREFIX: 'c_', OIDC_ISSUERS: oidc({ issuer: 'https://a.example', user_id_prefix: 'user_' }) }), []);
  });

  it('one issuer needs no prefix, and a single issuer keeps its ids as they are', () => {
    const config = loadConfig({
      env: { NODE_ENV: 'production', STREAM_API_KEY: 'k', STREAM_API_SECRET: 's', OIDC_ISSUERS: oidc({ issuer: 'https://a.example' }) },
      cwd,
    });
    assert.equal(config.identity.issuers[0]?.userIdPrefix, undefined);
  });

  it('puts the dev issuer under dev_ when it is allowed beside real issuers', () => {
    const env = { DEV_MODE: 'true', DEV_MODE_ALLOW_NETWORK: 'true', OIDC_ISSUERS: oidc({ issuer: 'https://a.example', user_id_prefix: 'a_' }) };
    assert.equal(loadConfig({ env, cwd }).dev.userIdPrefix, 'dev_');
    const clash = { ...env, OIDC_ISSUERS: oidc({ issuer: 'https://a.example', user_id_prefix: 'dev' }) };
    assert.match(text(problems(clash)), /\("dev_…"\)/);
  });

  it('the verifier itself refuses issuers whose ids could collide', () => {
    const issuer = (name: string, userIdPrefix?: string) =>
      issuerOptions({ kind: 'oidc', issuer: name, jwksUri: `${name}/jwks`, ...(userIdPrefix !== undefined ? { userIdPrefix } : {}) });
    const build = (...issuers: ReturnType<typeof issuer>[]) => new SessionVerifier({ issuers, keySetTiming: defaultTiming(), clockSkewSeconds: 5 });
    assert.throws(() => build(issuer('https://a.example'), issuer('https://b.example')), /could collide/);
    assert.throws(() => build(issuer('https://a.example', 'x_'), issuer('https://b.example', 'x_y')), /could collide/);
    build(issuer('https://a.example', 'a_'), issuer('https://b.example', 'b_')).close();
  });

  it('Clerk webhooks address the same Stream user as Clerk tokens', async () => {
    const calls: string[] = [];
    const sync = {
      onUserUpserted: async (user: { id: string }) => void calls.push(`upsert ${user.id}`),
      onUserDeleted: async (id: string) => void calls.push(`delete ${id}`),
      revokeTokens: async (id: string) => void calls.push(`revoke ${id}`),
      onMembershipChanged: async (change: { userId: string }) => void calls.push(`membership ${change.userId}`),
    };
    const handlers = createClerkWebhookHandlers({
      sync,
      policy: compilePolicy({ roleMap: new Map() }),
      onUserDeleted: 'deactivate',
      userIdPrefix: 'clerk_',
      events: new MemorySyncStore(),
    });
    const event = { type: 't', id: 'msg_1', deliveredAt: new Date(), occurredAt: new Date() };
    await handlers.userUpserted({ id: 'user_1' }, event);
    await handlers.userDeleted('user_1', event);
    await handlers.sessionEnded('user_1', new Date(), event);
    await handlers.membershipChanged({ kind: 'deleted', userId: 'user_1', organizationId: 'org_1' }, event);
    assert.deepEqual(calls, ['upsert clerk_user_1', 'delete clerk_user_1', 'revoke clerk_user_1', 'membership clerk_user_1']);
  });
});

describe('CLERK_JWT_KEY', () => {
  it('refuses a key Clerk tokens could not be verified with, before the start', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const pem of [weak, ec])
      assert.match(text(problems({ ...PRODUCTION, CLERK_JWT_KEY: pem })), /^CLERK_JWT_KEY: is not an RSA public key of at least 2048 bits/m);
  });
});

describe('user_id_claim', () => {
  it('refuses claims users can change unless the issuer allows it explicitly', () => {
    for (const claim of ['preferred_username', 'nickname', 'name', 'email']) {
      assert.match(
        text(
          problems({
            NODE_ENV: 'production',
            STREAM_API_KEY: 'k',
            STREAM_API_SECRET: 's',
            OIDC_ISSUERS: oidc({ issuer: 'https://a.example', user_id_claim: claim }),
          }),
        ),
        /is a claim users can change/,
        claim,
      );
    }
    const allowed = oidc({ issuer: 'https://a.example', user_id_claim: 'email', allow_mutable_user_id_claim: true });
    assert.equal(
      loadConfig({ env: { NODE_ENV: 'production', STREAM_API_KEY: 'k', STREAM_API_SECRET: 's', OIDC_ISSUERS: allowed }, cwd }).identity.issuers[0]?.userIdClaim,
      'email',
    );
  });
});

describe('OIDC audience', () => {
  const only = (entry: Record<string, unknown>) => ({
    NODE_ENV: 'production',
    STREAM_API_KEY: 'k',
    STREAM_API_SECRET: 's',
    OIDC_ISSUERS: JSON.stringify([entry]),
  });

  it('is required', () => {
    assert.match(text(problems(only({ issuer: 'https://a.example' }))), /has no "audience".*\| set "audience"/);
  });

  it('refuses a comma-separated string and says to write a JSON list', () => {
    assert.match(text(problems(only({ issuer: 'https://a.example', audience: 'a,b' }))), /contains a comma \| write several audiences as a JSON list/);
  });

  it('"*" turns the check off, shows in check-config and logs a warning at start', async () => {
    const config = loadConfig({ env: only({ issuer: 'https://a.example', audience: '*' }), cwd });
    assert.equal(config.identity.issuers[0]?.audience, undefined);
    const described = describeConfig(config) as { warnings: string[]; issuers: Array<{ audience: unknown }> };
    assert.deepEqual(described.warnings, ['https://a.example accepts tokens for any audience ("audience": "*")']);
    assert.match(String(described.issuers[0]?.audience), /any/);
    const logs = new LogCapture();
    const app = await buildApp(config, { logDestination: logs, fetch: async () => new Response('{}', { status: 500 }) });
    await app.close();
    assert.ok(logs.records.some((r) => r.level === 'warn' && r.issuer === 'https://a.example' && /"audience": "\*"/.test(String(r.msg))));
  });
});

describe('webhooks with several workers', () => {
  it('refuses WEB_CONCURRENCY > 1 with webhooks and no Redis', () => {
    const env = { ...PRODUCTION, CLERK_WEBHOOK_SECRET: 'whsec_c2VjcmV0', WEB_CONCURRENCY: '2' };
    assert.match(text(problems(env)), /^WEB_CONCURRENCY: .*once per worker.*\| set REDIS_URL/m);
    assert.deepEqual(problems({ ...env, REDIS_URL: 'redis://127.0.0.1:6379' }), []);
    assert.deepEqual(problems({ ...env, WEB_CONCURRENCY: '1' }), []);
  });
});

describe('dev mode', () => {
  it('counts NODE_ENV=production in any letter case', () => {
    for (const nodeEnv of ['production', 'Production', 'PRODUCTION', ' production ']) {
      assert.match(text(problems({ NODE_ENV: nodeEnv, DEV_MODE: 'true' })), /DEV_MODE: dev mode cannot run with NODE_ENV=production/, nodeEnv);
    }
  });

  it('is refused on a non-loopback HOST, with real Stream credentials or beside real issuers', () => {
    assert.match(text(problems({ DEV_MODE: 'true', HOST: '0.0.0.0' })), /^DEV_MODE: dev mode listens only on a loopback address/m);
    assert.match(text(problems({ DEV_MODE: 'true', STREAM_API_KEY: 'k', STREAM_API_SECRET: 's' })), /^DEV_MODE: dev mode with real Stream credentials/m);
    assert.match(text(problems({ DEV_MODE: 'true', CLERK_JWT_ISSUER: CLERK })), /^DEV_MODE: dev mode beside real identity providers/m);
    assert.match(text(problems({ HOST: '10.0.0.5' }, true)), /loopback address, not HOST=10\.0\.0\.5/);
  });

  it('runs on loopback, with a loopback Stream stand-in, or when DEV_MODE_ALLOW_NETWORK=true', () => {
    assert.deepEqual(problems({ DEV_MODE: 'true', HOST: 'localhost' }), []);
    assert.deepEqual(problems({ DEV_MODE: 'true', STREAM_API_KEY: 'k', STREAM_API_SECRET: 's', STREAM_API_BASE_URL: 'http://127.0.0.1:3030' }), []);
    const allowed = loadConfig({
      env: { DEV_MODE: 'true', HOST: '0.0.0.0', STREAM_API_KEY: 'k', STREAM_API_SECRET: 's', DEV_MODE_ALLOW_NETWORK: 'true' },
      cwd,
    });
    assert.equal(allowed.dev.allowNetwork, true);
  });
});

describe('policy file keys', () => {
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    it(`refuses "${key}" as a key instead of dropping the rule`, () => {
      const documents = [`{"allow":{"require_claims":{"${key}":"x"}}}`, `{"role":[{"claim":"org_role","map":{"${key}":"admin"}}]}`];
      for (const document of documents) {
        assert.throws(
          () => parsePolicyText(document, 'json'),
          (error: unknown) => error instanceof PolicyFileError && error.problems.some((p) => p.includes(`"${key}" is not allowed`)),
        );
      }
      assert.throws(() => parsePolicyText(`allow:\n  require_claims:\n    ${key}: x\n`, 'yaml'), PolicyFileError);
    });
  }
});
