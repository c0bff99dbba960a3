/**
 * The web example (examples/react-web) built with Vite and run in Chromium:
 * the token provider, stream-chat and stream-chat-react as the app ships them,
 * against the service in dev mode and the Stream stand-in
 * (test/support/stream-standin.ts) as Stream's API and WebSocket edge. The
 * build uses VITE_AUTH_MODE=dev, so session tokens come from the service's
 * POST /dev/token instead of Clerk, which cannot be reached from here.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, NO_CHROMIUM } from '../support/chromium.js';
import { installExample, listExamples, runCommand, tail, withExampleLock } from '../support/examples.js';
import { startDevApp, type TestApp } from '../support/harness.js';
import { startStreamStandIn, waitUntil, type StreamStandIn } from '../support/stream-standin.js';

const API_KEY = 'webexamplekey';
const API_SECRET = 'web-example-stream-secret-0123456789';
const USER = 'web-alice';
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
};

/** Serves a built app's files as a static host would; unknown paths get index.html. */
async function serveStatic(root: () => string): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://site').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(root(), path);
    if (!existsSync(file) || path === '/') file = join(root(), 'index.html');
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let skipReason: string | undefined;
let browser: Browser | undefined;
let stream: StreamStandIn | undefined;
let service: TestApp | undefined;
let site: { origin: string; close(): Promise<void> } | undefined;
const outDir = mkdtempSync(join(tmpdir(), 'sts-react-web-'));

before(async () => {
  const example = listExamples().find((e) => e.name === 'react-web');
  assert.ok(example, 'examples/react-web exists');
  browser = await launchChromium();
  if (browser === undefined) {
    skipReason = NO_CHROMIUM;
    return;
  }
  const install = await installExample(example);
  if ('skip' in install) {
    skipReason = install.skip;
    return;
  }
  stream = await startStreamStandIn({ apiKey: API_KEY, apiSecret: API_SECRET });
  site = await serveStatic(() => outDir);
  service = await startDevApp({ STREAM_API_KEY: API_KEY, STREAM_API_SECRET: API_SECRET, CORS_ORIGINS: site.origin, LOG_LEVEL: 'info' });
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  const serviceURL = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
  const env = { ...process.env, VITE_AUTH_MODE: 'dev', VITE_STREAM_API_KEY: API_KEY, VITE_STREAM_TOKEN_SERVICE_URL: serviceURL, VITE_STREAM_BASE_URL: stream.baseURL };
  const vite = join(example.dir, 'node_modules/.bin/vite');
  const build = await withExampleLock(example, () => runCommand(vite, ['build', '--outDir', outDir, '--emptyOutDir'], { cwd: example.dir, env }));
  assert.equal(build.code, 0, `vite build failed:\n${tail(build.output)}`);
});

after(async () => {
  await browser?.close();
  await service?.app.close();
  await stream?.close();
  await site?.close();
  rmSync(outDir, { recursive: true, force: true });
});

/** The service's answers to POST /stream/token for the user, in order. */
function exchanges(): unknown[] {
  return (service?.logs.records ?? []).filter((r) => r.msg === 'request' && r.route === '/stream/token' && r.userId === USER).map((r) => r.status);
}

function attempts(): Array<[boolean, number | null]> {
  return (stream?.connections ?? []).filter((c) => c.userId === USER).map((c) => [c.accepted, c.errorCode ?? null]);
}

describe('examples/react-web in Chromium', () => {
  it('signs in, fetches a Stream token once, fetches a new one when Stream says the token expired (code 40), and closes the socket on sign-out', { timeout: 120_000 }, async (t) => {
    if (skipReason !== undefined) {
      t.skip(skipReason);
      return;
    }
    assert.ok(browser && stream && service && site);
    const context = await browser.newContext();
    const page: Page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('request', (request) => requests.push(request.url()));
    try {
      await page.goto(site.origin);
      await page.fill('input[name="user-id"]', USER);
      await page.click('button[type="submit"]');

      // Signed in: the chat renders for the user, over one socket opened with one token.
      await page.waitForSelector('.chat-bar >> text=web-alice');
      await page.waitForSelector('.str-chat__channel-list');
      assert.deepEqual(exchanges(), [200], 'one token request');
      assert.deepEqual(attempts(), [[true, null]]);
      const [first] = stream.liveConnections().filter((c) => c.userId === USER);
      assert.ok(first?.token);

      // Stream refuses the token as expired: the SDK asks the provider again and reconnects with the new token.
      assert.equal(stream.expireConnection(USER), 1);
      await waitUntil(
        () => stream?.liveConnections().some((c) => c.userId === USER && c.accepted && c.id !== first.id) === true,
        20_000,
        'the app to reconnect after the token expired',
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(exchanges(), [200, 200], 'exactly one more token request');
      assert.deepEqual(attempts(), [
        [true, null],
        [false, 40],
        [true, null],
      ]);
      const live = stream.liveConnections().filter((c) => c.userId === USER);
      assert.equal(live.length, 1);
      assert.notEqual(live[0]?.token, first.token, 'reconnected with a new token');
      assert.ok(await page.isVisible('.chat-bar >> text=web-alice'), 'the chat stays on screen');

      // Sign out: the app disconnects, the socket is closed by the client, and the sign-in form is back.
      await page.click('.chat-bar button');
      await page.waitForSelector('input[name="user-id"]');
      await waitUntil(() => stream?.liveConnections().every((c) => c.userId !== USER) === true, 10_000, 'the socket to close');
      const last = stream.connections.filter((c) => c.userId === USER).at(-1);
      assert.equal(last?.closedBy, 'client');
      assert.equal(last?.closeCode, 1000);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepEqual(exchanges(), [200, 200], 'no token request after sign-out');
      assert.equal(attempts().length, 3, 'no reconnect after sign-out');

      assert.deepEqual(problems, [], 'no script or console errors');
      const elsewhere = requests.filter((url) => !/^(https?|wss?):\/\/127\.0\.0\.1:\d+\//.test(url) && !url.startsWith('data:'));
      assert.deepEqual(elsewhere, [], 'the page talks to the local service, stand-in and site only');
    } finally {
      await context.close();
    }
  });
});
