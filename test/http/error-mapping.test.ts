import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { Webhook } from 'svix';
import { startDevApp, type TestApp } from '../support/harness.js';
import { startStreamStandIn, type StreamFailure, type StreamStandIn } from '../support/stream-standin.js';

/**
 * One failure of Stream gets one answer, whichever route met it: the token
 * exchange (user sync), "sign out everywhere" (token revocation) and a Clerk
 * webhook (user update) all turn it into the same problem.
 */

const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

let stream: StreamStandIn;

before(async () => {
  stream = await startStreamStandIn({ apiKey: 'teststreamkey', apiSecret: 'test-stream-secret-do-not-log-0123456789' });
});
after(async () => {
  await stream.close();
});
beforeEach(() => {
  stream.reset();
});

/** A fresh app per request, so no breaker or profile cache carries over from one route to the next. */
async function app(): Promise<TestApp> {
  return startDevApp({
    STREAM_API_BASE_URL: stream.baseURL,
    STREAM_SYNC_USERS: 'true',
    STREAM_SYNC_FAILURE: 'closed',
    STREAM_API_TIMEOUT_MS: '500',
    CLERK_WEBHOOK_SECRET: WEBHOOK_SECRET,
  });
}

const routes: Record<string, (t: TestApp) => Promise<LightMyRequestResponse>> = {
  'POST /stream/token': (t) => t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${t.sessionToken('user_ada')}` } }),
  'POST /stream/revoke': (t) => t.app.inject({ method: 'POST', url: '/stream/revoke', headers: { authorization: `Bearer ${t.sessionToken('user_ada')}` } }),
  'POST /webhooks/clerk': (t) => {
    const id = `msg_${randomUUID()}`;
    const at = new Date();
    const body = JSON.stringify({
      type: 'user.updated',
      object: 'event',
      timestamp: at.getTime(),
      data: { id: 'user_ada', object: 'user', first_name: 'Ada', updated_at: at.getTime() },
    });
    const signature = new Webhook(WEBHOOK_SECRET).sign(id, at, body);
    return t.app.inject({
      method: 'POST',
      url: '/webhooks/clerk',
      headers: { 'content-type': 'application/json', 'svix-id': id, 'svix-timestamp': String(Math.floor(at.getTime() / 1000)), 'svix-signature': signature },
      payload: body,
    });
  },
};

/** What a client sees of a problem; the request id differs by design. */
function answer(response: LightMyRequestResponse): Record<string, unknown> {
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/, response.body);
  const { request_id: _requestId, ...problem } = response.json() as Record<string, unknown>;
  return { statusCode: response.statusCode, retryAfter: response.headers['retry-after'], ...problem };
}

describe('a Stream failure is answered the same on every route', () => {
  const failures: Array<[string, StreamFailure, string]> = [
    ['drops the connection', { status: 0 }, '5'],
    ['answers 503', { status: 503 }, '5'],
    ['answers 429 with Retry-After: 7', { status: 429, retryAfter: 7 }, '7'],
    // A 4xx is this service's configuration, not the caller's: retry much later.
    ['rejects the call (400)', { status: 400 }, '30'],
  ];
  for (const [name, failure, retryAfter] of failures) {
    test(`Stream ${name}`, async () => {
      const answers: Array<[string, Record<string, unknown>]> = [];
      for (const [route, send] of Object.entries(routes)) {
        const t = await app();
        try {
          stream.failure = { ...failure };
          const response = await send(t);
          stream.failure = null;
          assert.ok(
            stream.calls.some((call) => call.rejectedReason !== undefined),
            `${route}: Stream was called and failed`,
          );
          answers.push([route, answer(response)]);
        } finally {
          stream.failure = null;
          await t.app.close();
        }
      }
      const [, first] = answers[0]!;
      assert.equal(first.statusCode, 503);
      assert.equal(first.code, 'upstream_unavailable');
      assert.equal(first.retryAfter, retryAfter);
      for (const [route, other] of answers.slice(1)) assert.deepEqual(other, first, `${route} answers as POST /stream/token does`);
    });
  }
});
