import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DocumentFetchError, fetchJsonDocument } from '../../src/identity/fetch-json.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('fetchJsonDocument', () => {
  it('ends a fetch the server never answers after its timeout, even when garbage collection runs meanwhile', async () => {
    const held = new Set<ServerResponse>();
    const server = createServer((_req, res) => held.add(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`);
    try {
      const started = performance.now();
      const pending = fetchJsonDocument(url, { fetch, timeoutMs: 300, signal: new AbortController().signal });
      setTimeout(gc, 50);
      const outcome = await Promise.race([
        pending.then(
          () => 'answered',
          (error: unknown) => (error instanceof DocumentFetchError ? error.message : String(error)),
        ),
        new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3000).unref()),
      ]);
      assert.equal(outcome, 'request timed out after 300 ms');
      assert.ok(performance.now() - started < 2000);
    } finally {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      server.close();
    }
  });

  it('ends at once when the caller aborts (a key set closing)', async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`);
    try {
      const controller = new AbortController();
      const pending = fetchJsonDocument(url, { fetch, timeoutMs: 60_000, signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await assert.rejects(pending, (error: unknown) => error instanceof DocumentFetchError && /aborted/.test(error.message));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
