import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { QUIET_MS } from '../../src/http/drain.js';
import { startDevApp, type TestApp } from '../support/harness.js';
import { listeningPort } from '../support/raw-http.js';

/** A raw connection that records what the server sends and when it closes. */
class RawConnection {
  readonly socket: Socket;
  text = '';
  closedAt: number | null = null;
  readonly opened: Promise<void>;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => (this.text += chunk.toString('latin1')));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closedAt = performance.now()));
    this.opened = new Promise((resolve) => this.socket.once('connect', () => resolve()));
  }

  /** Answers received so far: status and headers of each. */
  get answers(): Array<{ status: number; headers: string }> {
    return [...this.text.matchAll(/HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n/g)].map((m) => ({ status: Number(m[1]), headers: m[2]!.toLowerCase() }));
  }

  async waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check() && Date.now() < deadline) await sleep(10);
    assert.ok(check(), `gave up waiting; received: ${this.text.slice(0, 400)}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
const DEV_TOKEN_BODY = '{"user_id":"drain_user"}';
const devTokenHead = `POST /dev/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${DEV_TOKEN_BODY.length}\r\n\r\n`;

function refused(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(null);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('draining the server', () => {
  let t: TestApp;
  before(async () => {
    t = await startDevApp();
  });
  after(async () => {
    await t.app.close();
  });

  test('readiness fails from the announcement on, while every other route answers as usual', async () => {
    const fresh = await startDevApp();
    try {
      assert.equal((await fresh.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
      fresh.app.drain.announce();
      const ready = await fresh.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json<{ status: string }>().status, 'shutting_down');
      const token = await fresh.app.inject({
        method: 'POST',
        url: '/stream/token',
        headers: { authorization: `Bearer ${fresh.sessionToken('announce_user')}` },
      });
      assert.equal(token.statusCode, 200, token.body);
      assert.notEqual(token.headers.connection, 'close');
    } finally {
      await fresh.app.close();
    }
  });

  test('no new connections; a connection quiet since before the drain is closed once quiet long enough; one mid-request is answered with Connection: close first', async () => {
    const port = await listeningPort(t.app);
    const quiet = new RawConnection(port);
    const pooled = new RawConnection(port);
    const midRequest = new RawConnection(port);
    await Promise.all([quiet.opened, pooled.opened, midRequest.opened]);
    quiet.socket.write(get('/healthz'));
    pooled.socket.write(get('/healthz'));
    await quiet.waitFor(() => quiet.answers.length === 1);
    await pooled.waitFor(() => pooled.answers.length === 1);
    // The head is in, the body is not: the request is in progress.
    midRequest.socket.write(devTokenHead);
    await sleep(100);

    const startedAt = performance.now();
    const drained = t.app.drain.drain();
    assert.equal(await refused(port), 'ECONNREFUSED');

    // A client that sends its next request on a pooled connection after the drain began is answered, told to close, and closed.
    await sleep(300);
    pooled.socket.write(get('/healthz'));
    await pooled.waitFor(() => pooled.closedAt !== null);
    assert.equal(pooled.answers.length, 2, pooled.text);
    assert.equal(pooled.answers[1]!.status, 200);
    assert.match(pooled.answers[1]!.headers, /^connection: close$/m);

    // The quiet connection is closed, but not before it has been quiet for QUIET_MS.
    await quiet.waitFor(() => quiet.closedAt !== null, QUIET_MS + 2000);
    assert.ok(quiet.closedAt! - startedAt >= QUIET_MS - 50, `closed ${Math.round(quiet.closedAt! - startedAt)} ms into the drain`);
    assert.equal(quiet.answers.length, 1);

    // The request in progress is still waited for, then answered and its connection closed.
    assert.equal(midRequest.closedAt, null);
    midRequest.socket.write(DEV_TOKEN_BODY);
    await midRequest.waitFor(() => midRequest.closedAt !== null);
    assert.equal(midRequest.answers.length, 1, midRequest.text);
    assert.equal(midRequest.answers[0]!.status, 200);
    assert.match(midRequest.answers[0]!.headers, /^connection: close$/m);
    await drained;
  });
});

describe('a request that arrives once the app is closing', () => {
  test('is refused as a shutting_down problem with Retry-After and Connection: close, and logged', async () => {
    const t = await startDevApp();
    const port = await listeningPort(t.app);
    const slow = new RawConnection(port);
    await slow.opened;
    // The head arrives in two parts, the second once the app's close has begun.
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    await sleep(100);
    const closed = t.app.close();
    await sleep(100);
    slow.socket.write('\r\n');
    await slow.waitFor(() => slow.closedAt !== null);
    await closed;
    const [answer] = slow.answers;
    assert.equal(answer?.status, 503, slow.text);
    assert.match(answer.headers, /^content-type: application\/problem\+json/m);
    assert.match(answer.headers, /^retry-after: 1$/m);
    assert.match(answer.headers, /^connection: close$/m);
    assert.match(slow.text, /"code":"shutting_down"/);
    const line = t.logs.records.find((r) => r.msg === 'request' && r.code === 'shutting_down');
    assert.ok(line !== undefined, t.logs.text);
    assert.equal(line.status, 503);
  });
});

describe('HTTP_MAX_CONNECTIONS', () => {
  test('past the cap a new connection is closed as it arrives, counted and logged; once one closes, the next is served', async () => {
    const t = await startDevApp({ HTTP_MAX_CONNECTIONS: '2' });
    try {
      const port = await listeningPort(t.app);
      const held = [new RawConnection(port), new RawConnection(port)];
      for (const c of held) {
        await c.opened;
        c.socket.write(get('/healthz'));
        await c.waitFor(() => c.answers.length === 1);
      }
      const third = new RawConnection(port);
      third.socket.write(get('/healthz'));
      await third.waitFor(() => third.closedAt !== null);
      assert.equal(third.answers.length, 0, third.text);
      const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /^stream_token_service_http_connections_dropped_total 1$/m);
      assert.ok(
        t.logs.records.some((r) => r.level === 'warn' && String(r.msg).startsWith('HTTP_MAX_CONNECTIONS reached')),
        t.logs.text,
      );

      held[0]!.socket.destroy();
      await held[0]!.waitFor(() => held[0]!.closedAt !== null);
      await sleep(50);
      const next = new RawConnection(port);
      next.socket.write(get('/healthz'));
      await next.waitFor(() => next.answers.length === 1);
      assert.equal(next.answers[0]!.status, 200);
      for (const c of [held[1]!, next]) c.socket.destroy();
    } finally {
      await t.app.close();
    }
  });
});
