import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { freePort, PROJECT_ROOT, spawnCli, waitForHttp } from '../support/process.js';
import { startStreamStandIn } from '../support/stream-standin.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'sts-serve-'));

describe('serve: configuration errors', () => {
  test('production without configuration exits 2 listing every problem and its fix, with no stack trace', async () => {
    const cli = spawnCli(['serve'], { env: { NODE_ENV: 'production' }, cwd: tempDir() });
    assert.equal(await cli.exited, 2);
    const err = cli.stderr();
    assert.match(err, /Configuration is invalid \(2 problems\)/);
    assert.match(err, /STREAM_API_KEY/);
    assert.match(err, /CLERK_JWT_ISSUER/);
    assert.match(err, /fix:/);
    assert.doesNotMatch(err, /\n\s+at /);
  });

  test('dev mode is refused when NODE_ENV=production', async () => {
    const cli = spawnCli(['serve', '--dev'], { env: { NODE_ENV: 'production' }, cwd: tempDir() });
    assert.equal(await cli.exited, 2);
    assert.match(cli.stderr(), /DEV_MODE: dev mode cannot run with NODE_ENV=production/);
  });

  test('npm start runs the built CLI in production mode and fails clearly without configuration', async (t) => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, 'NODE_ENV=production node dist/cli/main.js serve');
    const built = join(PROJECT_ROOT, 'dist/cli/main.js');
    if (!existsSync(built)) return t.skip('dist/ is not built (npm install builds it): the built CLI was not run');
    let status = 0;
    let stderr = '';
    try {
      execFileSync(process.execPath, [built, 'serve'], { cwd: tempDir(), env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' }, stdio: 'pipe' });
    } catch (err) {
      status = (err as { status: number }).status;
      stderr = String((err as { stderr: Buffer }).stderr);
    }
    assert.equal(status, 2);
    assert.match(stderr, /STREAM_API_KEY/);
  });
});

describe('serve: HTTPS, metrics port and graceful shutdown', () => {
  test('serves HTTPS with TLS_CERT_FILE and TLS_KEY_FILE (self-signed certificate made now)', async (t) => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
    } catch {
      return t.skip('openssl is not installed: no certificate can be made for the HTTPS test');
    }
    const dir = tempDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const port = await freePort();
    const cli = spawnCli(['serve', '--dev'], { env: { PORT: String(port), TLS_CERT_FILE: cert, TLS_KEY_FILE: key, LOG_LEVEL: 'warn' }, cwd: dir });
    try {
      const ca = readFileSync(cert);
      const get = (path: string, method = 'GET', body?: string) =>
        new Promise<{ status: number; body: string; hsts: string | undefined }>((resolve, reject) => {
          const req = httpsRequest(
            { host: '127.0.0.1', port, path, method, ca, servername: 'localhost', headers: body ? { 'content-type': 'application/json' } : {} },
            (res) => {
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, hsts: res.headers['strict-transport-security'] }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      const deadline = Date.now() + 15_000;
      let health;
      for (;;) {
        try {
          health = await get('/healthz');
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.equal(health.status, 200);
      assert.match(String(health.hsts), /max-age=31536000/);
      const session = JSON.parse((await get('/dev/token', 'POST', '{"user_id":"tls_user"}')).body) as { token: string };
      const issued = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/stream/token',
            method: 'POST',
            ca,
            servername: 'localhost',
            headers: { authorization: `Bearer ${session.token}` },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(issued, 200);
      // Plain HTTP on the same port is not served.
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.text()));
    } finally {
      cli.child.kill('SIGTERM');
      assert.equal(await cli.exited, 0);
    }
  });

  test('METRICS_PORT moves /metrics off the main port', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const cli = spawnCli(['serve', '--dev'], { env: { PORT: String(port), METRICS_PORT: String(metricsPort), LOG_LEVEL: 'warn' }, cwd: tempDir() });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /stream_token_service_http_requests_total/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404);
    } finally {
      cli.child.kill('SIGTERM');
      assert.equal(await cli.exited, 0);
    }
  });

  test('SIGTERM under load: in-flight requests all finish, then the process exits 0', async () => {
    const apiKey = 'drainkey';
    const apiSecret = 'drain-secret-0123456789abcdefghij';
    const stream = await startStreamStandIn({ apiKey, apiSecret });
    // Every upsert takes 800 ms, so requests are in flight when the signal lands.
    stream.failure = { delayMs: 800 };
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const cli = spawnCli(['serve', '--dev'], {
      env: {
        PORT: String(port),
        STREAM_API_KEY: apiKey,
        STREAM_API_SECRET: apiSecret,
        STREAM_API_BASE_URL: stream.baseURL,
        SHUTDOWN_GRACE_SECONDS: '10',
        LOG_LEVEL: 'info',
        RATE_LIMIT_PER_IP: '100000',
      },
      cwd: tempDir(),
    });
    try {
      await waitForHttp(`${base}/healthz`);
      const tokens = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const res = await fetch(`${base}/dev/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ user_id: `drain_${i}` }),
          });
          return ((await res.json()) as { token: string }).token;
        }),
      );
      const inFlight = tokens.map((token) =>
        fetch(`${base}/stream/token`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }).then(async (r) => ({
          status: r.status,
          body: await r.text(),
        })),
      );
      // Wait until the stand-in has seen the upserts, i.e. the requests are inside the service.
      const deadline = Date.now() + 5000;
      while (stream.calls.filter((c) => c.path === '/users').length < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      cli.child.kill('SIGTERM');
      const results = await Promise.all(inFlight);
      assert.deepEqual(
        results.map((r) => r.status),
        Array(30).fill(200),
        JSON.stringify(results.find((r) => r.status !== 200)),
      );
      assert.equal(await cli.exited, 0);
      assert.match(cli.stdout(), /shutting down: draining in-flight requests/);
      assert.match(cli.stdout(), /shut down cleanly/);
      // After the drain nothing listens any more.
      await assert.rejects(fetch(`${base}/healthz`));
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
      await stream.close();
    }
  });
});
