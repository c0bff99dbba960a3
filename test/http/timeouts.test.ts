import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startDevApp, type TestApp } from '../support/harness.js';
import { listeningPort, rawExchange } from '../support/raw-http.js';

/**
 * A client cannot hold a connection open by going quiet: a request must arrive whole within
 * HTTP_REQUEST_TIMEOUT_MS, and a connection on which nothing moves is closed after
 * HTTP_CONNECTION_TIMEOUT_MS. Both are set to 1 s here; the limit holds to within about a second.
 */

let requestLimited: TestApp;
let connectionLimited: TestApp;

before(async () => {
  requestLimited = await startDevApp({ HTTP_REQUEST_TIMEOUT_MS: '1000' });
  connectionLimited = await startDevApp({ HTTP_CONNECTION_TIMEOUT_MS: '1000' });
});

after(async () => {
  await requestLimited.app.close();
  await connectionLimited.app.close();
});

const head = (extra: string[] = []) => ['POST /stream/token HTTP/1.1', 'Host: localhost', 'Content-Type: application/json', ...extra, '', ''].join('\r\n');

test('a client that sends the head and part of the body, then stalls, is cut off after the request timeout', async () => {
  const port = await listeningPort(requestLimited.app);
  const res = await rawExchange(port, [head(['Content-Length: 100']), '{"user'], 6000);
  assert.notEqual(res.closedAfterMs, null, 'the connection was still open after 6 s');
  assert.ok(res.closedAfterMs! >= 900 && res.closedAfterMs! < 3000, `closed after ${res.closedAfterMs!.toFixed(0)} ms`);
  assert.ok(res.status === null || res.status === 408, res.text.slice(0, 200));
});

test('a client that stalls in the middle of the head is cut off after the request timeout', async () => {
  const port = await listeningPort(requestLimited.app);
  const res = await rawExchange(port, ['POST /stream/token HTTP/1.1\r\nHost: localhost\r\nX-Slow: '], 6000);
  assert.notEqual(res.closedAfterMs, null, 'the connection was still open after 6 s');
  assert.ok(res.closedAfterMs! < 3000, `closed after ${res.closedAfterMs!.toFixed(0)} ms`);
});

test('a connection on which nothing is sent is closed after the connection timeout', async () => {
  const port = await listeningPort(connectionLimited.app);
  const res = await rawExchange(port, [], 6000);
  assert.notEqual(res.closedAfterMs, null, 'the connection was still open after 6 s');
  assert.ok(res.closedAfterMs! >= 900 && res.closedAfterMs! < 3000, `closed after ${res.closedAfterMs!.toFixed(0)} ms`);
});

test('a keep-alive connection left idle longer than the request timeout still serves the next request', async () => {
  const port = await listeningPort(requestLimited.app);
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const responses = async (count: number) => {
    const deadline = Date.now() + 3000;
    while ((received.match(/HTTP\/1\.1 /g)?.length ?? 0) < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  try {
    await new Promise<void>((resolve) => socket.on('connect', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await responses(1);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(socket.destroyed, false, 'the idle connection was closed');
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await responses(2);
    assert.deepEqual(received.match(/HTTP\/1\.1 \d{3}/g), ['HTTP/1.1 200', 'HTTP/1.1 200']);
  } finally {
    socket.destroy();
  }
});
