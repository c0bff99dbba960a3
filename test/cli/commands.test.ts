import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import jwt from 'jsonwebtoken';
import { runCli } from '../../src/cli/run.js';
import { startDevApp, TEST_STREAM_SECRET, type TestApp } from '../support/harness.js';

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

async function run(args: string[], env: Record<string, string> = {}, cwd = mkdtempSync(join(tmpdir(), 'sts-cli-'))): Promise<Ran> {
  let out = '';
  let err = '';
  const code = await runCli(args, { env, cwd, stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

describe('CLI', () => {
  test('--help on the tool and on each command', async () => {
    const top = await run(['--help']);
    assert.equal(top.code, 0);
    for (const command of ['serve', 'dev-token', 'request', 'clerk-token', 'inspect', 'check-config']) {
      assert.match(top.out, new RegExp(`\\b${command}\\b`));
      const help = await run([command, '--help']);
      assert.equal(help.code, 0, command);
      assert.match(help.out, new RegExp(`Usage: stream-token-service ${command}`));
    }
    const unknown = await run(['frobnicate']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /Unknown command "frobnicate"/);
    const badFlag = await run(['inspect', '--nope']);
    assert.equal(badFlag.code, 1);
  });

  test('check-config prints the resolved configuration without secrets, or exits 2 with the problems', async () => {
    const ok = await run(['check-config'], {
      STREAM_API_KEY: 'k1',
      STREAM_API_SECRET: 'very-secret-value-xyz',
      CLERK_FRONTEND_API: 'my-app.clerk.accounts.dev',
      CLERK_SECRET_KEY: 'sk_test_hidden_value',
    });
    assert.equal(ok.code, 0, ok.err);
    const printed = JSON.parse(ok.out) as { stream: { apiSecret: string }; issuers: Array<{ issuer: string }>; clerk: { secretKey: string } };
    assert.equal(printed.stream.apiSecret, 'set');
    assert.equal(printed.clerk.secretKey, 'set');
    assert.equal(printed.issuers[0]?.issuer, 'https://my-app.clerk.accounts.dev');
    assert.ok(!ok.out.includes('very-secret-value-xyz'));
    assert.ok(!ok.out.includes('sk_test_hidden_value'));
    const bad = await run(['check-config'], { NODE_ENV: 'production', PORT: 'x' });
    assert.equal(bad.code, 2);
    assert.match(bad.err, /PORT/);
    assert.match(bad.err, /STREAM_API_KEY/);
  });

  test('check-config warns about a variable that is set but misspelt, from the environment or .env', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sts-cli-'));
    writeFileSync(join(cwd, '.env'), 'CLERK_JWT_ISUER=https://my-app.clerk.accounts.dev\n');
    const ran = await run(['check-config'], { NODE_ENV: 'production', STREAM_API_KEY: 'k1', STREAM_API_SECRT: 'very-secret-value-xyz', HOME: '/root' }, cwd);
    assert.equal(ran.code, 2);
    assert.match(ran.err, /^warning: STREAM_API_SECRT is set but not read; did you mean STREAM_API_SECRET\?$/m);
    assert.match(ran.err, /^warning: CLERK_JWT_ISUER is set but not read; did you mean CLERK_JWT_ISSUER\?$/m);
    assert.doesNotMatch(ran.err, /HOME/);
    assert.ok(!ran.err.includes('very-secret-value-xyz'), 'the value of a misspelt secret is never shown');
  });

  test('dev-token signs a token with the dev key that a dev server in the same directory accepts', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sts-devtoken-'));
    const made = await run(['dev-token', 'cli_user', '--claims', '{"org_role":"org:admin"}'], {}, cwd);
    assert.equal(made.code, 0, made.err);
    const token = made.out.trim();
    const claims = jwt.decode(token) as Record<string, unknown>;
    assert.equal(claims.sub, 'cli_user');
    assert.equal(claims.org_role, 'org:admin');
    const app = await startDevApp({ DEV_DIRECTORY: join(cwd, '.dev') });
    try {
      const res = await app.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().user_id, 'cli_user');
    } finally {
      await app.app.close();
    }
    assert.equal((await run(['dev-token', 'bad user'])).code, 1);
    assert.equal((await run(['dev-token', 'u', '--claims', '[1]'])).code, 1);
    assert.equal((await run(['dev-token', 'u'], { NODE_ENV: 'production' })).code, 2);
  });

  test('clerk-token tells "could not reach Clerk" from "Clerk refused" and "Clerk failed"', async () => {
    let answer: { status: number; body: unknown } = { status: 401, body: {} };
    const clerk = createServer((_req, res) => {
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => clerk.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${(clerk.address() as AddressInfo).port}`;
    const key = { CLERK_SECRET_KEY: 'sk_test_0123456789secret' };
    try {
      answer = { status: 401, body: { errors: [{ code: 'authentication_invalid', message: 'Unauthorized', long_message: 'The secret key is invalid' }] } };
      const refused = await run(['clerk-token', '--user-id', 'user_1'], { ...key, CLERK_API_URL: apiUrl });
      assert.equal(refused.code, 1);
      assert.equal(refused.err, 'Clerk refused: 401 authentication_invalid: The secret key is invalid\n');
      answer = { status: 503, body: { errors: [{ code: 'service_unavailable', message: 'Try again later' }] } };
      const failed = await run(['clerk-token', '--user-id', 'user_1'], { ...key, CLERK_API_URL: apiUrl });
      assert.equal(failed.err, 'Clerk failed: HTTP 503 service_unavailable: Try again later; try again shortly.\n');
    } finally {
      await new Promise((resolve) => clerk.close(resolve));
    }
    const unreachable = await run(['clerk-token', '--user-id', 'user_1'], { ...key, CLERK_API_URL: apiUrl });
    assert.equal(unreachable.code, 1);
    assert.equal(unreachable.err, `Could not reach Clerk at ${apiUrl} (unexpected_error: fetch failed): check CLERK_API_URL and this machine's network.\n`);
    assert.ok(!unreachable.err.includes('0123456789secret'), 'the secret key is never shown');

    const publishable = await run(['clerk-token', '--user-id', 'user_1'], { CLERK_SECRET_KEY: 'pk_test_abc', CLERK_API_URL: apiUrl });
    assert.equal(publishable.code, 2);
    assert.match(publishable.err, /CLERK_SECRET_KEY: holds a Clerk publishable key \(pk_test_…\), not the secret key/);
  });

  test('inspect decodes without verifying and says so', async () => {
    const token = jwt.sign({ sub: 'x', exp: 4_000_000_000 }, 'k');
    const res = await run(['inspect', token]);
    assert.equal(res.code, 0);
    const printed = JSON.parse(res.out) as { verified: boolean; claims: { sub: string }; times: { exp: string } };
    assert.equal(printed.verified, false);
    assert.equal(printed.claims.sub, 'x');
    assert.match(printed.times.exp, /^2096-/);
    assert.equal((await run(['inspect', 'nope'])).code, 1);
  });
});

describe('CLI request against a running service', () => {
  let t: TestApp;
  let base: string;
  before(async () => {
    t = await startDevApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  after(() => t.app.close());

  test('prints the decoded Stream token and checks it, including the signature with --secret', async () => {
    const res = await run(['request', '--url', base, '--token', t.sessionToken('req_user'), '--secret', TEST_STREAM_SECRET]);
    assert.equal(res.code, 0, res.err);
    const printed = JSON.parse(res.out) as { response: { user_id: string }; stream_token: { claims: { user_id: string } }; checks: Record<string, string> };
    assert.equal(printed.response.user_id, 'req_user');
    assert.equal(printed.stream_token.claims.user_id, 'req_user');
    assert.deepEqual(printed.checks, { header: 'ok', user_id: 'ok', exp: 'ok', signature: 'ok' });
  });

  test('reads the token from a file and fails the signature check with a wrong secret', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sts-tok-')), 'session.jwt');
    writeFileSync(file, `${t.sessionToken('req_user')}\n`);
    const res = await run(['request', '--url', `${base}/stream/token`, '--token-file', file, '--secret', 'wrong-secret']);
    assert.equal(res.code, 1);
    assert.match(res.out, /does not verify with this secret/);
  });

  test('says which argument is missing before the usage', async () => {
    const token = t.sessionToken('req_user');
    for (const [args, message] of [
      [['request', '--token', token], 'Missing --url: the service to call, e.g. --url http://localhost:8080.'],
      [['request', '--url', base], 'Missing the session token: pass --token T, or --token-file F for a file that holds it.'],
      [['request', '--url', base, '--token', token, '--token-file', 'f'], 'Pass either --token or --token-file, not both.'],
    ] as const) {
      const res = await run([...args]);
      assert.equal(res.code, 1, args.join(' '));
      assert.ok(res.err.startsWith(`${message}\n\nUsage: stream-token-service request`), res.err);
      assert.ok(!res.err.includes(token), 'the token is not repeated');
    }
  });

  test('shows the problem and exits 1 when the service refuses', async () => {
    const res = await run(['request', '--url', base, '--token', 'not.a.token']);
    assert.equal(res.code, 1);
    assert.match(res.err, /HTTP 401 malformed_token/);
  });
});

describe('CLI dev-token against a running dev server on another port', () => {
  let t: TestApp;
  let base: string;
  before(async () => {
    // The server's issuer names PORT 3001, wherever it listens.
    t = await startDevApp({ PORT: '3001' });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  after(() => t.app.close());

  async function exchanged(token: string): Promise<{ status: number; code?: string; detail?: string }> {
    const res = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${token}` } });
    const body = res.json() as { code?: string; detail?: string };
    return { status: res.statusCode, ...(body.code !== undefined ? { code: body.code, detail: body.detail } : {}) };
  }

  test("without --issuer or --url the token names PORT's issuer, and this server refuses it, saying which", async () => {
    const made = await run(['dev-token', 'alice'], { DEV_DIRECTORY: t.config.dev.directory });
    assert.equal(made.code, 0, made.err);
    assert.deepEqual(await exchanged(made.out.trim()), {
      status: 401,
      code: 'invalid_issuer',
      detail: 'The token issuer "http://localhost:8080/dev" is not trusted.',
    });
  });

  test('--url asks the server for its issuer; --issuer names it', async () => {
    for (const args of [
      ['--url', base],
      ['--url', `${base}/dev/`],
      ['--issuer', 'http://localhost:3001/dev'],
    ]) {
      const made = await run(['dev-token', 'alice', ...args], { DEV_DIRECTORY: t.config.dev.directory });
      assert.equal(made.code, 0, made.err);
      const claims = jwt.decode(made.out.trim()) as Record<string, unknown>;
      assert.equal(claims.iss, 'http://localhost:3001/dev', args.join(' '));
      assert.equal((await exchanged(made.out.trim())).status, 200, args.join(' '));
    }
  });

  test('--url says when the server trusts another key, cannot be reached, or is not a dev server', async () => {
    const otherKey = await run(['dev-token', 'alice', '--url', base]);
    assert.equal(otherKey.code, 1);
    assert.match(
      otherKey.err,
      /^The dev server at http:\/\/127\.0\.0\.1:\d+ trusts another key than the one in \S+\.dev: run dev-token in the directory the server runs in, or set DEV_DIRECTORY to its \.dev directory\.\n$/,
    );

    const notDev = createServer((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{}'));
    await new Promise<void>((resolve) => notDev.listen(0, '127.0.0.1', resolve));
    const notDevUrl = `http://127.0.0.1:${(notDev.address() as AddressInfo).port}`;
    try {
      const answered = await run(['dev-token', 'alice', '--url', notDevUrl]);
      assert.equal(answered.code, 1);
      assert.equal(
        answered.err,
        `${notDevUrl} answered HTTP 404 for /dev/.well-known/openid-configuration: is it a stream-token-service in dev mode (npm run dev)?\n`,
      );
    } finally {
      await new Promise((resolve) => notDev.close(resolve));
    }
    const unreachable = await run(['dev-token', 'alice', '--url', notDevUrl]);
    assert.equal(unreachable.code, 1);
    assert.equal(unreachable.err, `Cannot reach a dev server at ${notDevUrl} (ECONNREFUSED): is it running, and on that port?\n`);

    const both = await run(['dev-token', 'alice', '--url', base, '--issuer', 'http://localhost:3001/dev']);
    assert.equal(both.code, 1);
    assert.equal(both.err, 'Pass either --issuer or --url, not both.\n');
    assert.equal((await run(['dev-token', 'alice', '--issuer', 'localhost:3001'])).code, 1);
  });
});
