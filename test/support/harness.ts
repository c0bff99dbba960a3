import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type ServiceConfig } from '../../src/config/index.js';
import { buildApp, type AppDependencies } from '../../src/server.js';
import { loadOrCreateDevIssuer, type DevIssuer } from '../../src/dev/dev-issuer.js';
import { startTestIssuer, type TestIssuer } from './issuer.js';

export const TEST_STREAM_KEY = 'teststreamkey';
export const TEST_STREAM_SECRET = 'test-stream-secret-do-not-log-0123456789';

/** Captures every log line the app writes, as parsed JSON and as raw text. */
export class LogCapture {
  readonly lines: string[] = [];

  write(line: string): void {
    this.lines.push(line);
  }

  get records(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  get text(): string {
    return this.lines.join('');
  }
}

export interface TestApp {
  app: FastifyInstance;
  config: ServiceConfig;
  logs: LogCapture;
  devIssuer: DevIssuer;
  /** A dev session token for the user, signed by the app's own dev issuer. */
  sessionToken(userId: string, claims?: Record<string, unknown>): string;
}

/**
 * An app in dev mode with known Stream credentials, built as `serve --dev`
 * builds it, ready for `app.inject`. Apps given the same `cwd` share the dev
 * issuer's key, as instances behind one balancer would trust one issuer.
 */
export async function startDevApp(
  env: Record<string, string> = {},
  deps: AppDependencies = {},
  cwd = mkdtempSync(join(tmpdir(), 'sts-app-')),
): Promise<TestApp> {
  const config = loadConfig({
    // Fixed Stream credentials make tokens checkable; dev mode refuses them unless told they are meant.
    env: {
      DEV_MODE: 'true',
      DEV_MODE_ALLOW_NETWORK: 'true',
      STREAM_API_KEY: TEST_STREAM_KEY,
      STREAM_API_SECRET: TEST_STREAM_SECRET,
      LOG_LEVEL: 'info',
      STREAM_SYNC_USERS: 'false',
      ...env,
    },
    cwd,
  });
  return startApp(config, deps);
}

/**
 * An app outside dev mode that trusts `issuer` (as `CLERK_JWT_ISSUER`), with known
 * Stream credentials and user sync off; `env` adds to or overrides those settings.
 */
export async function startProductionApp(issuer: Pick<TestIssuer, 'issuer'>, env: Record<string, string> = {}, deps: AppDependencies = {}): Promise<TestApp> {
  const config = loadConfig({
    env: { STREAM_API_KEY: TEST_STREAM_KEY, STREAM_API_SECRET: TEST_STREAM_SECRET, CLERK_JWT_ISSUER: issuer.issuer, STREAM_SYNC_USERS: 'false', ...env },
    cwd: tmpdir(),
  });
  return startApp(config, deps);
}

/** A production app trusting one Clerk issuer by name, and a signer of tokens from any issuer with its key. */
export interface NamedIssuerApp {
  t: TestApp;
  /** A session token for `user_a` from the configured issuer, valid for a minute; `claims` add to or override that. */
  token(claims?: Record<string, unknown>): string;
  close(): Promise<void>;
}

/**
 * The app trusts `name` as `CLERK_JWT_ISSUER` with a test issuer's key as `CLERK_JWT_KEY`: no JWKS is
 * fetched, so `name` can be any issuer, such as a real Clerk instance's.
 */
export async function startNamedIssuerApp(name: string): Promise<NamedIssuerApp> {
  const issuer = await startTestIssuer();
  const t = await startProductionApp({ issuer: name }, { CLERK_JWT_KEY: issuer.publicKeyPem });
  return {
    t,
    token: (claims = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return issuer.sign({ iss: name, sub: 'user_a', sid: 'sess_1', iat: now, nbf: now, exp: now + 60, ...claims });
    },
    close: async () => {
      await t.app.close();
      await issuer.close();
    },
  };
}

export async function startApp(config: ServiceConfig, deps: AppDependencies = {}): Promise<TestApp> {
  const logs = new LogCapture();
  const app = await buildApp(config, { logDestination: logs, ...deps });
  await app.ready();
  const devIssuer = loadOrCreateDevIssuer({ directory: config.dev.directory, issuer: config.dev.issuer, ...(deps.now ? { now: deps.now } : {}) });
  return { app, config, logs, devIssuer, sessionToken: (userId, claims) => devIssuer.sign(userId, claims) };
}

/** A dev-mode app on `redisUrl`, one of several instances sharing it; X-Forwarded-For is believed from loopback. */
export function startRedisApp(redisUrl: string, env: Record<string, string> = {}, cwd?: string): Promise<TestApp> {
  return startDevApp({ REDIS_URL: redisUrl, TRUST_PROXY: '127.0.0.1', ...env }, {}, cwd);
}
