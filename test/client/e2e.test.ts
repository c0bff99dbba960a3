/**
 * The client module with the real `stream-chat` SDK, end to end: the service in
 * dev mode on a real port, the Stream stand-in (test/support/stream-standin.ts)
 * as Stream's edge, and `connectUser(user, createTokenProvider(...))` with
 * session tokens from `POST /dev/token`.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { StreamChat } from 'stream-chat';
import { createTokenProvider, findStreamTokenError, StreamTokenError } from 'stream-token-client';
import { startDevApp, type TestApp } from '../support/harness.js';
import { startStreamStandIn, waitUntil, type StreamStandIn } from '../support/stream-standin.js';

const API_KEY = 'e2estreamkey';
const API_SECRET = 'e2e-stream-secret-0123456789abcdef';

let stream: StreamStandIn;
let service: TestApp;
let serviceURL: string;
const clients: StreamChat[] = [];

before(async () => {
  stream = await startStreamStandIn({ apiKey: API_KEY, apiSecret: API_SECRET });
  service = await startDevApp({ STREAM_API_KEY: API_KEY, STREAM_API_SECRET: API_SECRET, LOG_LEVEL: 'info' });
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  serviceURL = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
});

after(async () => {
  await Promise.all(clients.map((client) => client.disconnectUser().catch(() => undefined)));
  await service.app.close();
  await stream.close();
});

/** A client-side SDK instance as an app makes it (not the `getInstance` singleton, so tests do not share one). */
function newClient(): StreamChat {
  const client = new StreamChat(API_KEY, { baseURL: stream.baseURL, allowServerSideConnect: true });
  clients.push(client);
  return client;
}

/** A dev session token from the service itself, as the sign-in of an app would give one. */
async function devSessionToken(userId: string, claims?: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${serviceURL}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: userId, ...(claims ? { claims } : {}) }),
  });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

interface CountingProvider {
  provider: () => Promise<string>;
  tokens: string[];
  errors: unknown[];
  readonly calls: number;
}

/** `createTokenProvider` with a record of what each call gave the SDK. */
function countingProvider(getAuthToken: () => Promise<string | null>): CountingProvider {
  const inner = createTokenProvider({ endpoint: serviceURL, getAuthToken, retry: { retries: 2, baseDelayMs: 50 } });
  const record: CountingProvider = {
    tokens: [],
    errors: [],
    get calls() {
      return record.tokens.length + record.errors.length;
    },
    provider: async () => {
      try {
        const token = await inner();
        record.tokens.push(token);
        return token;
      } catch (error) {
        record.errors.push(error);
        throw error;
      }
    },
  };
  return record;
}

function attemptsOf(userId: string): Array<[boolean, number | null]> {
  return stream.connections.filter((c) => c.userId === userId).map((c) => [c.accepted, c.errorCode ?? null]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The cases use different users and their own clients; running them side by side keeps the SDK's
// reconnect back-off (0.25-2.5 s, then 2-4.5 s before it asks for a new token) from adding up.
describe('stream-chat with createTokenProvider', { concurrency: true }, () => {
  it('connects with a token from the service, which the Stream edge accepts', async () => {
    const client = newClient();
    const counting = countingProvider(() => devSessionToken('e2e-alice'));
    const response = await client.connectUser({ id: 'e2e-alice', name: 'Alice' }, counting.provider);

    assert.equal(counting.calls, 1);
    assert.equal(response?.me?.id, 'e2e-alice');
    const [attempt] = stream.connections.filter((c) => c.userId === 'e2e-alice');
    assert.equal(attempt?.accepted, true, 'the stand-in checked HS256 with the secret, user_id and exp');
    assert.equal(attempt?.token, counting.tokens[0]);

    // The same checks, independently of the stand-in.
    const claims = jwt.verify(counting.tokens[0] as string, API_SECRET, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    assert.equal(claims.user_id, 'e2e-alice');
    assert.ok(typeof claims.exp === 'number' && claims.exp > Date.now() / 1000);
    assert.equal(client.wsConnection?.isHealthy, true);
    const exchanges = service.logs.records.filter((r) => r.msg === 'request' && r.route === '/stream/token' && r.userId === 'e2e-alice');
    assert.deepEqual(
      exchanges.map((r) => [r.status, r.code]),
      [[200, 'ok']],
      'one exchange at the service',
    );
    await client.disconnectUser();
  });

  it('refreshes the token exactly once per expiry and reconnects', async () => {
    const client = newClient();
    const counting = countingProvider(() => devSessionToken('e2e-bob'));
    await client.connectUser({ id: 'e2e-bob' }, counting.provider);
    assert.equal(counting.calls, 1);

    for (const event of [1, 2]) {
      const before = client.wsConnection?.connectionID;
      assert.equal(stream.expireConnection('e2e-bob'), 1, `expiry event ${event}`);
      await waitUntil(
        () => client.wsConnection?.isHealthy === true && client.wsConnection.connectionID !== before,
        12_000,
        `the SDK to reconnect after expiry event ${event}`,
      );
      // Give a stray second refresh the chance to show up.
      await sleep(300);
      assert.equal(counting.calls, 1 + event, `one provider call for expiry event ${event}`);
      assert.deepEqual(counting.errors, []);
      const live = stream.liveConnections().filter((c) => c.userId === 'e2e-bob');
      assert.equal(live.length, 1);
      assert.equal(live[0]?.token, counting.tokens.at(-1), 'reconnected with the new token');
    }
    assert.notEqual(counting.tokens[1], counting.tokens[0]);
    assert.deepEqual(
      attemptsOf('e2e-bob'),
      [
        [true, null],
        [false, 40],
        [true, null],
        [false, 40],
        [true, null],
      ],
      'each expiry: the reconnect with the old token is refused with 40, the one with the new token accepted',
    );
    await client.disconnectUser();
  });

  it('stops with a typed StreamTokenError when the session is revoked mid-session', async () => {
    const client = newClient();
    let revoked = false;
    const counting = countingProvider(() =>
      revoked ? devSessionToken('e2e-carol', { exp: Math.floor(Date.now() / 1000) - 120 }) : devSessionToken('e2e-carol'),
    );
    await client.connectUser({ id: 'e2e-carol' }, counting.provider);
    assert.equal(counting.calls, 1);

    // stream-chat starts its reconnect without awaiting it, so a failed token refresh would be an
    // unhandled rejection; keep the rejections to look at them.
    const sdkFailures: unknown[] = [];
    const connection = client.wsConnection as unknown as { _reconnect: (options?: object) => Promise<void> };
    const reconnect = connection._reconnect.bind(connection);
    connection._reconnect = (options?: object) => {
      const pending = reconnect(options);
      pending.catch((error: unknown) => sdkFailures.push(error));
      return pending;
    };

    revoked = true;
    assert.equal(stream.expireConnection('e2e-carol'), 1);
    await waitUntil(() => counting.calls === 2, 12_000, 'the SDK to ask for a new token');
    await waitUntil(() => sdkFailures.length > 0, 2000, 'the SDK to give up on the reconnect');

    const error = counting.errors[0];
    assert.ok(error instanceof StreamTokenError);
    assert.equal(error.status, 401);
    assert.equal(error.code, 'token_expired');
    assert.match(error.requestId ?? '', /.+/);
    assert.equal(findStreamTokenError(sdkFailures[0]), error, 'the SDK failed with the provider error as the cause');

    // Bounded observation: no further provider calls, no further connection attempts.
    const attemptsBefore = attemptsOf('e2e-carol').length;
    await sleep(2000);
    assert.equal(counting.calls, 2, 'no retry loop');
    assert.equal(attemptsOf('e2e-carol').length, attemptsBefore);
    assert.equal(stream.liveConnections().filter((c) => c.userId === 'e2e-carol').length, 0);
    assert.equal(client.wsConnection?.isHealthy, false);
    await client.disconnectUser();
  });

  it('fails connectUser with the typed error when the session token is refused from the start', async () => {
    const client = newClient();
    const counting = countingProvider(async () => 'not-a-session-token');
    let failure: unknown;
    try {
      await client.connectUser({ id: 'e2e-dave' }, counting.provider);
    } catch (error) {
      failure = error;
    }
    const error = findStreamTokenError(failure);
    assert.ok(error instanceof StreamTokenError, `connectUser rejected with ${String(failure)}`);
    assert.equal(error.status, 401);
    assert.equal(error.code, 'malformed_token');
    // connectUser loads the token, and its socket connect loads it once more after seeing that load
    // fail (connectUser may reject before that second load settles); the provider retries neither,
    // and nothing asks again afterwards.
    await sleep(500);
    const calls = counting.calls;
    assert.ok(calls >= 1 && calls <= 2, `${calls} provider calls`);
    assert.ok(counting.errors.every((e) => e instanceof StreamTokenError && e.status === 401));
    await sleep(1500);
    assert.equal(counting.calls, calls, 'no retry loop');
    assert.equal(stream.connections.filter((c) => c.userId === 'e2e-dave').length, 0, 'no socket opened without a token');
  });

  it('fails with missing_token, without calling the service, when the user is signed out', async () => {
    const client = newClient();
    const counting = countingProvider(async () => null);
    let failure: unknown;
    try {
      await client.connectUser({ id: 'e2e-erin' }, counting.provider);
    } catch (error) {
      failure = error;
    }
    assert.equal(findStreamTokenError(failure)?.code, 'missing_token');
    assert.equal(counting.calls, 1);
  });
});
