/**
 * stream-token-client's build in headless Chromium, with the browser's own
 * fetch, against a dev app on another origin; driven by playwright-core with
 * the system's `/usr/bin/chromium` (Debian's `chromium` package; nothing is
 * downloaded). Without it the cases skip with a message.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { useBrowserApps } from '../support/browser-apps.js';
import { TEST_STREAM_KEY } from '../support/harness.js';

/** Serves the built client (packages/client/dist) at /client/*.js, and an empty page at /, as an app's own web server would. */
async function serveClientModule(): Promise<{ origin: string; close(): Promise<void> }> {
  const dir = new URL('../../packages/client/dist/', import.meta.url);
  const files = new Map<string, string>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
    files.set(`/client/${name}`, readFileSync(new URL(name, dir), 'utf8'));
  }
  const server: Server = createServer((req, res) => {
    const js = files.get(req.url ?? '');
    if (js !== undefined) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(js);
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>app</title>');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const { browser, listening, skipWithoutBrowser } = useBrowserApps();

interface InPageResult {
  same: boolean;
  claims: Record<string, unknown>;
  userId: string;
  apiKey: string;
  expiresAtIsDate: boolean;
  refused: { isTyped: boolean; name: string; code: string; status: number; requestId: unknown } | null;
}

/** Runs in the page: the compiled client module with the browser's own fetch. */
const IN_PAGE_CLIENT_CHECK = `async function ({ moduleUrl, endpoint, sessionToken }) {
  const client = await import(moduleUrl);
  const provider = client.createTokenProvider({ endpoint, getAuthToken: async () => sessionToken });
  const [first, second] = await Promise.all([provider(), provider()]);
  const details = await client.fetchStreamToken({ endpoint: endpoint + '/stream/token', authToken: sessionToken });
  const refused = await client
    .createTokenProvider({ endpoint, getAuthToken: async () => 'not-a-jwt' })()
    .then(
      () => null,
      (error) => ({ isTyped: error instanceof client.StreamTokenError, name: error.name, code: error.code, status: error.status, requestId: error.requestId }),
    );
  return {
    same: first === second,
    claims: JSON.parse(atob(first.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))),
    userId: details.userId,
    apiKey: details.apiKey,
    expiresAtIsDate: details.expiresAt instanceof Date && details.expiresAt.getTime() > Date.now(),
    refused,
  };
}`;

describe('stream-token-client in Chromium', () => {
  // dist/index.js is what the package's exports give bundlers; dist/stream-token-client.js is the single file an app may vendor.
  for (const file of ['index.js', 'stream-token-client.js']) {
    it(`gets a token across origins and throws typed errors with the global fetch (dist/${file})`, async (t) => {
      if (skipWithoutBrowser(t)) return;
      const site = await serveClientModule();
      try {
        const service = await listening({ CORS_ORIGINS: site.origin });
        const session = await fetch(`${service.origin}/dev/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: 'pw-carol' }),
        });
        const sessionToken = ((await session.json()) as { token: string }).token;

        const chromium = browser();
        assert.ok(chromium);
        const context = await chromium.newContext();
        const page = await context.newPage();
        const problems: string[] = [];
        page.on('pageerror', (error) => problems.push(error.message));
        try {
          await page.goto(`${site.origin}/`);
          // A string, not a function: the test's own transform would add helpers the page does not have.
          const args = { moduleUrl: `${site.origin}/client/${file}`, endpoint: service.origin, sessionToken };
          const result = (await page.evaluate(`(${IN_PAGE_CLIENT_CHECK})(${JSON.stringify(args)})`)) as InPageResult;
          assert.equal(result.same, true, 'concurrent calls share one request');
          assert.equal(result.claims.user_id, 'pw-carol');
          assert.equal(result.userId, 'pw-carol');
          assert.equal(result.apiKey, TEST_STREAM_KEY);
          assert.equal(result.expiresAtIsDate, true);
          assert.deepEqual(
            { ...result.refused, requestId: typeof result.refused?.requestId },
            {
              isTyped: true,
              name: 'StreamTokenError',
              code: 'malformed_token',
              status: 401,
              requestId: 'string',
            },
          );
          assert.deepEqual(problems, []);
          const exchanges = service.t.logs.records.filter((r) => r.msg === 'request' && r.method === 'POST' && r.route === '/stream/token');
          assert.equal(exchanges.length, 3, 'one shared request, one fetchStreamToken, one refused');
        } finally {
          await context.close();
        }
      } finally {
        await site.close();
      }
    });
  }
});
