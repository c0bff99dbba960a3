import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StreamChat, type UserResponse } from 'stream-chat';
import { startStreamStandIn, waitUntil, type StreamStandIn } from './stream-standin.js';

const API_KEY = 'standinkey';
const API_SECRET = 'stand-in-secret-0123456789abcdef';

let stream: StreamStandIn;
let server: StreamChat;

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** App-specific user data, which the SDK types only know through module augmentation. */
function custom(data: Record<string, unknown>): Partial<UserResponse> {
  return data;
}

function field(user: UserResponse | undefined, name: string): unknown {
  return (user as Record<string, unknown> | undefined)?.[name];
}

/** A client-side SDK instance, as an app would create it. */
function newClient(): StreamChat {
  const client = new StreamChat(API_KEY, { baseURL: stream.baseURL, allowServerSideConnect: true });
  // connectUser races the handshake against a timer of this length that is never cleared,
  // so the default 15 s would keep the test process alive long after the last test.
  client.defaultWSTimeout = 8000;
  return client;
}

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  assert.fail('expected the call to be rejected');
}

before(async () => {
  stream = await startStreamStandIn({ apiKey: API_KEY, apiSecret: API_SECRET });
  server = new StreamChat(API_KEY, API_SECRET, { baseURL: stream.baseURL });
});

after(async () => {
  await stream.close();
});

describe('REST with the server-side SDK', () => {
  it('upserts users and answers with Stream user shapes', async () => {
    const response = await server.upsertUsers([
      { id: 'rest-alice', name: 'Alice', image: 'https://example.com/a.png', ...custom({ color: 'red' }) },
      { id: 'rest-bob', role: 'admin' },
    ]);
    const alice = response.users['rest-alice'];
    assert.ok(alice);
    assert.equal(alice.name, 'Alice');
    assert.equal(alice.role, 'user');
    assert.deepEqual(alice.teams, []);
    assert.equal(typeof alice.created_at, 'string');
    assert.equal(typeof alice.updated_at, 'string');
    assert.equal(response.users['rest-bob']?.role, 'admin');
    assert.match(response.duration, /ms$/);
    assert.equal(stream.users.get('rest-alice')?.color, 'red');

    const call = stream.calls.at(-1);
    assert.ok(call);
    assert.equal(call.method, 'POST');
    assert.equal(call.path, '/users');
    assert.equal(call.query.api_key, API_KEY);
    assert.equal(call.headers['stream-auth-type'], 'jwt');
    assert.equal(call.authenticated, true);
    assert.equal(call.authKind, 'server');
    assert.equal(call.status, 201);
    assert.deepEqual(Object.keys((call.body as { users: object }).users), ['rest-alice', 'rest-bob']);
  });

  it('replaces custom data on upsert but keeps role and created_at', async () => {
    const first = stream.users.get('rest-bob');
    const response = await server.upsertUser({ id: 'rest-bob', name: 'Bob' });
    const bob = response.users['rest-bob'];
    assert.equal(bob?.role, 'admin');
    assert.equal(bob?.created_at, first?.created_at);
    await server.upsertUser({ id: 'rest-alice', name: 'Alice B.' });
    assert.equal(stream.users.get('rest-alice')?.color, undefined, 'custom fields not given are removed');
  });

  it('partially updates users with set and unset (dot paths included)', async () => {
    const response = await server.partialUpdateUser({
      id: 'rest-alice',
      set: custom({ 'profile.city': 'Oslo', nickname: 'Al' }),
      unset: ['image'],
    });
    const alice = response.users['rest-alice'];
    assert.deepEqual(field(alice, 'profile'), { city: 'Oslo' });
    assert.equal(field(alice, 'nickname'), 'Al');
    assert.equal(alice?.image, undefined);
    const call = stream.calls.at(-1);
    assert.equal(call?.method, 'PATCH');
    assert.deepEqual(call?.body, {
      users: [{ id: 'rest-alice', set: { 'profile.city': 'Oslo', nickname: 'Al' }, unset: ['image'] }],
    });

    const missing = await rejection(server.partialUpdateUser({ id: 'rest-nobody', set: custom({ a: 1 }) }));
    assert.equal(missing.code, 4);
    assert.equal(missing.status, 400);
  });

  it('revokes and un-revokes user tokens through partial updates', async () => {
    const before = new Date(Date.now() - 1000);
    await server.revokeUserToken('rest-alice', before);
    assert.equal(stream.revocations.get('rest-alice'), before.toISOString());
    assert.equal(stream.users.get('rest-alice')?.revoke_tokens_issued_before, before.toISOString());
    const call = stream.calls.at(-1);
    assert.equal(call?.method, 'PATCH');
    assert.equal(call?.path, '/users');
    assert.deepEqual(call?.body, {
      users: [{ id: 'rest-alice', set: { revoke_tokens_issued_before: before.toISOString() } }],
    });

    await server.revokeUserToken('rest-alice', null);
    assert.equal(stream.revocations.has('rest-alice'), false);
    assert.equal(stream.users.get('rest-alice')?.revoke_tokens_issued_before, undefined);
  });

  it('deactivates, queries, reactivates and deletes users', async () => {
    await server.upsertUsers([{ id: 'rest-carol' }, { id: 'rest-dave' }]);

    const deactivated = await server.deactivateUser('rest-carol', { mark_messages_deleted: false });
    assert.equal(typeof deactivated.user.deactivated_at, 'string');
    assert.equal(stream.calls.at(-1)?.path, '/users/rest-carol/deactivate');

    const visible = await server.queryUsers({ id: { $in: ['rest-carol', 'rest-dave'] } });
    assert.deepEqual(
      visible.users.map((u) => u.id),
      ['rest-dave'],
    );
    const all = await server.queryUsers({ id: { $in: ['rest-carol', 'rest-dave'] } }, { id: 1 }, { include_deactivated_users: true });
    assert.deepEqual(
      all.users.map((u) => u.id),
      ['rest-carol', 'rest-dave'],
    );
    const query = stream.calls.at(-1);
    assert.equal(query?.method, 'GET');
    const payload = JSON.parse(query?.query.payload ?? '{}') as Record<string, unknown>;
    assert.deepEqual(payload.filter_conditions, { id: { $in: ['rest-carol', 'rest-dave'] } });
    assert.deepEqual(payload.sort, [{ field: 'id', direction: 1 }]);

    const again = await rejection(server.deactivateUser('rest-carol'));
    assert.equal(again.code, 4);

    const reactivated = await server.reactivateUser('rest-carol', { name: 'Carol' });
    assert.equal(reactivated.user.deactivated_at, undefined);
    assert.equal(reactivated.user.name, 'Carol');

    const soft = await server.deleteUser('rest-dave');
    assert.equal(typeof soft.user.deleted_at, 'string');
    assert.ok(stream.users.has('rest-dave'), 'a soft-deleted user is kept');

    const hard = await server.deleteUser('rest-carol', { hard_delete: true, mark_messages_deleted: true });
    assert.equal(hard.user.id, 'rest-carol');
    assert.equal(stream.users.has('rest-carol'), false);
    const deletion = stream.calls.at(-1);
    assert.equal(deletion?.method, 'DELETE');
    assert.equal(deletion?.path, '/users/rest-carol');
    assert.equal(deletion?.query.hard_delete, 'true');
    assert.equal(deletion?.query.mark_messages_deleted, 'true');

    const gone = await rejection(server.deleteUser('rest-carol'));
    assert.equal(gone.code, 16);
    assert.equal(gone.status, 404);
  });

  it('queries users with $eq and plain equality', async () => {
    const byEq = await server.queryUsers({ id: { $eq: 'rest-alice' } });
    assert.deepEqual(
      byEq.users.map((u) => u.id),
      ['rest-alice'],
    );
    const byRole = await server.queryUsers({ role: 'admin' });
    assert.deepEqual(
      byRole.users.map((u) => u.id),
      ['rest-bob'],
    );
    const unknown = await rejection(server.queryUsers({ id: { $regex: 'x' } } as never));
    assert.equal(unknown.code, 4);
  });

  it('serves app settings', async () => {
    const settings = await server.getAppSettings();
    assert.equal(settings.app?.name, 'stream-standin');
    assert.equal(stream.calls.at(-1)?.path, '/app');
  });

  it('rejects a client signing with the wrong secret, with Stream error code 43', async () => {
    const impostor = new StreamChat(API_KEY, 'not-the-secret', { baseURL: stream.baseURL });
    const error = await rejection(impostor.upsertUser({ id: 'rest-mallory' }));
    assert.equal(error.name, 'ErrorFromResponse');
    assert.equal(error.code, 43);
    assert.equal(error.status, 401);
    assert.match(error.message, /^StreamChat error code 43: UpdateUsers failed with error: "JWTAuth error: signature is not valid/);
    const call = stream.calls.at(-1);
    assert.equal(call?.authenticated, false);
    assert.equal(call?.authKind, 'server');
    assert.equal(call?.status, 401);
    assert.match(call?.rejectedReason ?? '', /signature is not valid/);
    assert.equal(stream.users.has('rest-mallory'), false);
  });

  it('rejects an unknown api key with code 2', async () => {
    const other = new StreamChat('otherkey', API_SECRET, { baseURL: stream.baseURL });
    const error = await rejection(other.getAppSettings());
    assert.equal(error.code, 2);
    assert.equal(error.status, 401);
    assert.equal(stream.calls.at(-1)?.authenticated, false);
  });

  it('refuses user tokens on server-only endpoints', async () => {
    const token = server.createToken('rest-alice');
    const res = await fetch(`${stream.baseURL}/users/rest-bob/deactivate?api_key=${API_KEY}`, {
      method: 'POST',
      headers: { Authorization: token, 'stream-auth-type': 'jwt', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 403);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.code, 17);
    assert.equal(body.StatusCode, 403);
    assert.equal(typeof body.more_info, 'string');
    assert.equal(typeof body.duration, 'string');
    const call = stream.calls.at(-1);
    assert.equal(call?.authenticated, true);
    assert.equal(call?.authKind, 'user');
    assert.equal(call?.userId, 'rest-alice');
  });

  it('injects 5xx, 429, slow answers and dropped connections', async () => {
    stream.failure = { status: 503, times: 1 };
    const unavailable = await rejection(server.getAppSettings());
    assert.equal(unavailable.status, 503);
    assert.equal(stream.failure, null, 'used up');
    assert.equal(stream.calls.at(-1)?.rejectedReason, 'injected failure: HTTP 503');

    stream.failure = { status: 429, retryAfter: 7, times: 1 };
    const limited = await rejection(server.getAppSettings());
    assert.equal(limited.code, 9);
    assert.equal(limited.status, 429);
    const response = limited.response as { headers: Record<string, string> };
    assert.equal(response.headers['retry-after'], '7');

    stream.failure = { status: 0, times: 1 };
    const dropped = await rejection(server.getAppSettings());
    assert.equal(dropped.response, undefined);
    assert.equal(stream.calls.at(-1)?.status, 0);

    stream.failure = { delayMs: 150, times: 1, path: '/app' };
    const started = Date.now();
    await server.getAppSettings();
    assert.ok(Date.now() - started >= 140);

    stream.failure = { status: 500, path: '/users', method: 'PATCH' };
    await server.getAppSettings();
    const failed = await rejection(server.partialUpdateUser({ id: 'rest-alice', set: custom({ a: 1 }) }));
    assert.equal(failed.code, -1);
    assert.equal(failed.status, 500);
    stream.failure = null;
  });

  it('records only correctly authenticated calls from the real server client', () => {
    const fromServer = stream.calls.filter((call) => call.headers.authorization === server._getToken() && call.query.api_key === API_KEY);
    assert.ok(fromServer.length > 10);
    assert.ok(fromServer.every((call) => call.authenticated && call.authKind === 'server'));
  });
});

describe('WebSocket with the client-side SDK', { concurrency: true }, () => {
  it('connects with a valid token from a token provider and disconnects cleanly', async () => {
    const client = newClient();
    let calls = 0;
    const response = await client.connectUser({ id: 'ws-erin', name: 'Erin' }, async () => {
      calls += 1;
      return server.createToken('ws-erin', nowSeconds() + 3600, nowSeconds());
    });
    assert.equal(calls, 1);
    assert.equal(client.userID, 'ws-erin');
    const connectionId = client.wsConnection?.connectionID;
    assert.ok(connectionId);
    assert.equal(response?.connection_id, connectionId);
    assert.equal(response?.me?.id, 'ws-erin');
    assert.equal(client.user?.name, 'Erin');
    assert.equal(stream.users.get('ws-erin')?.name, 'Erin', 'connectUser upserts the user');
    assert.equal(stream.users.get('ws-erin')?.online, true);

    const connection = stream.connections.find((c) => c.connectionId === connectionId);
    assert.ok(connection);
    assert.equal(connection.accepted, true);
    assert.equal(connection.userId, 'ws-erin');
    assert.equal(connection.claims?.user_id, 'ws-erin');
    assert.equal(connection.apiKey, API_KEY);
    assert.equal(connection.authType, 'jwt');

    // REST from the connected client carries the user token and connection id.
    const users = await client.queryUsers({ id: 'ws-erin' });
    assert.equal(users.users[0]?.id, 'ws-erin');
    const call = stream.calls.findLast((c) => c.userId === 'ws-erin');
    assert.equal(call?.authenticated, true);
    assert.equal(call?.authKind, 'user');
    assert.equal(call?.query.connection_id, connectionId);

    await client.disconnectUser();
    await waitUntil(() => !connection.open, 2000, 'the socket to close');
    assert.equal(connection.closeCode, 1000);
    assert.equal(connection.closedBy, 'client');
    assert.equal(stream.users.get('ws-erin')?.online, false);
    assert.equal(client.userID, undefined);
  });

  it('calls the token provider again when the first token has expired', async () => {
    const client = newClient();
    const issued: string[] = [];
    await client.connectUser({ id: 'ws-frank' }, async () => {
      const expired = issued.length === 0;
      const token = expired
        ? server.createToken('ws-frank', nowSeconds() - 60, nowSeconds() - 120)
        : server.createToken('ws-frank', nowSeconds() + 3600, nowSeconds());
      issued.push(token);
      return token;
    });
    assert.equal(issued.length, 2);
    assert.equal(client.userID, 'ws-frank');
    const attempts = stream.connections.filter((c) => c.userId === 'ws-frank');
    assert.equal(attempts[0]?.accepted, false);
    assert.equal(attempts[0]?.errorCode, 40);
    assert.equal(attempts[0]?.token, issued[0]);
    assert.equal(attempts.at(-1)?.accepted, true);
    assert.equal(attempts.at(-1)?.token, issued[1]);
    await client.disconnectUser();
  });

  it('refetches a token and reconnects when the token expires mid-session', async () => {
    const client = newClient();
    let calls = 0;
    await client.connectUser({ id: 'ws-grace' }, async () => {
      calls += 1;
      return server.createToken('ws-grace', nowSeconds() + 3600, nowSeconds() - calls);
    });
    const firstConnectionId = client.wsConnection?.connectionID;
    assert.equal(stream.expireConnection('ws-grace'), 1);
    await waitUntil(() => calls === 2 && stream.liveConnections().some((c) => c.userId === 'ws-grace'), 12_000, 'the SDK to reconnect with a new token');
    await waitUntil(() => client.wsConnection?.isHealthy === true, 2000, 'a healthy connection');
    assert.notEqual(client.wsConnection?.connectionID, firstConnectionId);
    const attempts = stream.connections.filter((c) => c.userId === 'ws-grace');
    assert.deepEqual(
      attempts.map((c) => [c.accepted, c.errorCode ?? null]),
      [
        [true, null],
        [false, 40],
        [true, null],
      ],
      'accepted, reconnect with the expired token refused with 40, reconnect with a new token',
    );
    assert.equal(attempts[0]?.closeCode, 4000);
    assert.equal(attempts[0]?.closedBy, 'server');
    await client.disconnectUser();
  });

  it('answers REST calls with an expired user token with code 40, so the SDK refreshes and retries', async () => {
    const client = newClient();
    let calls = 0;
    let firstExp = 0;
    await client.connectUser({ id: 'ws-kim' }, async () => {
      calls += 1;
      const exp = calls === 1 ? nowSeconds() + 1 : nowSeconds() + 3600;
      if (calls === 1) firstExp = exp;
      return server.createToken('ws-kim', exp, nowSeconds());
    });
    await waitUntil(() => nowSeconds() > firstExp, 3000, 'the first token to expire');
    const result = await client.queryUsers({ id: 'ws-kim' });
    assert.equal(result.users[0]?.id, 'ws-kim');
    assert.equal(calls, 2);
    const queries = stream.calls.filter((c) => c.userId === 'ws-kim' && c.path === '/users');
    assert.deepEqual(
      queries.map((c) => [c.status, c.authenticated]),
      [
        [401, false],
        [200, true],
      ],
    );
    assert.match(queries[0]?.rejectedReason ?? '', /token is expired/);
    await client.disconnectUser();
  });

  it('treats a token issued before the revocation time as expired', async () => {
    await server.upsertUser({ id: 'ws-heidi' });
    await server.revokeUserToken('ws-heidi', new Date(Date.now() + 1500));
    const client = newClient();
    const tokens: string[] = [];
    const connecting = client.connectUser({ id: 'ws-heidi' }, async () => {
      const token = server.createToken('ws-heidi', nowSeconds() + 3600, nowSeconds());
      tokens.push(token);
      return token;
    });
    await waitUntil(() => stream.connections.some((c) => c.userId === 'ws-heidi' && c.errorCode === 40), 3000, 'a refused attempt');
    await server.revokeUserToken('ws-heidi', null);
    await connecting;
    assert.ok(tokens.length >= 2);
    assert.equal(stream.connections.filter((c) => c.userId === 'ws-heidi').at(-1)?.accepted, true);
    await client.disconnectUser();
  });

  it('fails connectUser for a token signed with another secret', async () => {
    const client = newClient();
    const forged = new StreamChat(API_KEY, 'another-secret').createToken('ws-ivan');
    const error = await rejection(client.connectUser({ id: 'ws-ivan' }, forged));
    const detail = JSON.parse(error.message) as Record<string, unknown>;
    assert.equal(detail.code, 43);
    assert.equal(detail.StatusCode, 401);
    assert.equal(detail.isWSFailure, false);
    const attempt = stream.connections.find((c) => c.userId === 'ws-ivan');
    assert.equal(attempt?.accepted, false);
    assert.equal(attempt?.errorCode, 43);
    assert.equal(stream.users.has('ws-ivan'), false);
  });

  it('refuses a token made for another user', async () => {
    const client = newClient();
    const error = await rejection(client.connectUser({ id: 'ws-judy' }, async () => server.createToken('ws-someone-else')));
    assert.equal((JSON.parse(error.message) as Record<string, unknown>).code, 5);
    assert.equal(stream.connections.find((c) => c.userId === 'ws-judy')?.accepted, false);
  });
});
