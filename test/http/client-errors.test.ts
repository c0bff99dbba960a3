import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDevApp, type TestApp } from '../support/harness.js';
import { listeningPort, rawExchange, type RawExchange } from '../support/raw-http.js';

/**
 * Requests Node's HTTP parser refuses before Fastify sees them are answered like every other error:
 * an RFC 9457 problem with a stable code, the usual security headers, and the connection closed.
 */

let t: TestApp;
let port: number;

before(async () => {
  t = await startDevApp({ LOG_LEVEL: 'debug', HTTP_REQUEST_TIMEOUT_MS: '1000' });
  port = await listeningPort(t.app);
});

after(async () => {
  await t.app.close();
});

function assertProblem(res: RawExchange, status: number): Record<string, unknown> {
  assert.equal(res.status, status, res.text.slice(0, 300));
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(res.headers.connection, 'close');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body));
  const problem = JSON.parse(res.body) as Record<string, unknown>;
  assert.equal(problem.code, 'invalid_request');
  assert.equal(problem.status, status);
  assert.equal(problem.type, 'urn:stream-token-service:problem:invalid_request');
  assert.equal(typeof problem.title, 'string');
  assert.equal(problem.request_id, res.headers['x-request-id']);
  assert.notEqual(res.closedAfterMs, null, 'the connection was left open');
  return problem;
}

test('a header over 16 KiB gets 431 problem+json, and the log names only the parser error', async () => {
  const token = t.sessionToken('user_alice');
  const before = t.logs.lines.length;
  const res = await rawExchange(port, [
    `GET /healthz HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nCookie: pad=${'x'.repeat(20_000)}\r\n\r\n`,
  ]);
  const problem = assertProblem(res, 431);
  const lines = t.logs.lines.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
  const refused = lines.filter((line) => line.reqId === problem.request_id);
  assert.equal(refused.length, 1, JSON.stringify(lines));
  assert.equal(refused[0]?.level, 'debug');
  assert.equal(refused[0]?.reason, 'HPE_HEADER_OVERFLOW');
  assert.deepEqual(Object.keys(refused[0] ?? {}).sort(), ['code', 'level', 'msg', 'pid', 'reason', 'reqId', 'service', 'status', 'time']);
});

test('a garbage request line gets 400 problem+json', async () => {
  assertProblem(await rawExchange(port, ['GARBAGE\r\n\r\n']), 400);
  assertProblem(await rawExchange(port, ['GET / HTTP/9.9\r\nHost: localhost\r\n\r\n']), 400);
});

test('a request that does not arrive within the request timeout gets 408 problem+json', async () => {
  const res = await rawExchange(port, [
    'POST /stream/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
  ]);
  assertProblem(res, 408);
  assert.ok(res.closedAfterMs! < 3000, `closed after ${res.closedAfterMs!.toFixed(0)} ms`);
});
