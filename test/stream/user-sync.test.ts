import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { StreamChat } from 'stream-chat';
import { MemorySyncStore } from '../../src/state/sync-store.js';
import { retryAfterFromHeaders } from '../../src/stream/sync-errors.js';
import {
  profileHash,
  StreamRejectedError,
  StreamUnavailableError,
  StreamCallGuard,
  StreamUserSync,
  UserRemovedError,
  type StreamCallOutcome,
  type StreamOperation,
  type StreamUserInput,
} from '../../src/stream/user-sync.js';
import { startStreamStandIn, type StreamStandIn } from '../support/stream-standin.js';

const apiKey = 'sync-test-key';
const apiSecret = 'sync-test-secret-0123456789abcdef';
const SDK_TIMEOUT_MS = 400;

describe('StreamUserSync against the Stream stand-in', () => {
  let stream: StreamStandIn;
  let client: StreamChat;
  let store: MemorySyncStore;
  let observed: Array<[StreamOperation, StreamCallOutcome]>;
  let sync: StreamUserSync;

  before(async () => {
    stream = await startStreamStandIn({ apiKey, apiSecret });
    client = new StreamChat(apiKey, apiSecret, { baseURL: stream.baseURL, timeout: SDK_TIMEOUT_MS });
  });

  after(async () => {
    await stream.close();
  });

  beforeEach(() => {
    stream.reset();
    store = new MemorySyncStore();
    observed = [];
    sync = new StreamUserSync({
      client,
      store,
      profileTtlSeconds: 3600,
      observer: { streamCall: (operation, outcome) => observed.push([operation, outcome]) },
    });
  });

  afterEach(() => {
    for (const call of stream.calls) {
      assert.equal(call.authenticated, true, `${call.method} ${call.path} was not authenticated: ${call.rejectedReason ?? ''}`);
      assert.equal(call.authKind, 'server');
      assert.equal(call.query.api_key, apiKey);
    }
  });

  const ada: StreamUserInput = { id: 'user_ada', name: 'Ada', image: 'https://img.example/ada.png', role: 'admin', teams: ['org_1'] };
  const upserts = (): number => stream.calls.filter((c) => c.method === 'POST' && c.path === '/users').length;

  it('upserts once, then the cached hash stops a second upsert', async () => {
    assert.equal(await sync.syncOnIssue(ada), 'synced');
    assert.equal(await sync.syncOnIssue({ ...ada, teams: ['org_1'] }), 'unchanged');
    assert.equal(await sync.syncOnIssue(ada), 'unchanged');
    assert.equal(upserts(), 1);
    const record = stream.users.get('user_ada');
    assert.equal(record?.name, 'Ada');
    assert.equal(record?.image, 'https://img.example/ada.png');
    assert.equal(record?.role, 'admin');
    assert.deepEqual(record?.teams, ['org_1']);
    assert.deepEqual(observed, [['upsert_user', 'success']]);
  });

  it('upserts again when the profile changes or the cache entry is gone', async () => {
    await sync.syncOnIssue(ada);
    assert.equal(await sync.syncOnIssue({ ...ada, role: 'user' }), 'synced');
    assert.equal(stream.users.get('user_ada')?.role, 'user');
    await store.forget('user_ada');
    assert.equal(await sync.syncOnIssue({ ...ada, role: 'user' }), 'synced');
    assert.equal(upserts(), 3);
  });

  it('makes one call for a burst of concurrent requests', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => sync.syncOnIssue(ada)));
    assert.ok(results.every((r) => r === 'synced' || r === 'unchanged'));
    assert.equal(upserts(), 1);
  });

  it('keeps one upsert in flight per user: a burst shares its outcome, and only the newest other profile is written after it', async () => {
    stream.failure = { delayMs: 150, path: '/users', method: 'POST' };
    const newcomer: StreamUserInput = { id: 'user_new', name: 'New', role: 'user', teams: [] };
    const first = Array.from({ length: 10 }, () => sync.syncOnIssue(newcomer));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const asModerator = Array.from({ length: 5 }, () => sync.syncOnIssue({ ...newcomer, role: 'moderator' }));
    const asAdmin = Array.from({ length: 5 }, () => sync.syncOnIssue({ ...newcomer, role: 'admin' }));
    const results = await Promise.all([...first, ...asModerator, ...asAdmin]);
    assert.ok(results.every((r) => r === 'synced'));
    assert.equal(stream.peakInFlight, 1, 'never two calls at once for one user');
    const written = stream.calls
      .filter((c) => c.method === 'POST' && c.path === '/users')
      .map((c) => (c.body as { users: Record<string, { role: string }> }).users.user_new?.role);
    assert.deepEqual(written, ['user', 'admin'], 'the ten share one call; the pending moderator write gave way to the newer admin one');
    assert.equal(stream.users.get('user_new')?.role, 'admin');
    assert.equal(await store.getProfileHash('user_new'), profileHash({ ...newcomer, role: 'admin' }));

    // A failed call's outcome is shared the same way.
    stream.failure = { status: 503, delayMs: 50 };
    const failed = await Promise.allSettled(Array.from({ length: 10 }, () => sync.syncOnIssue(ada)));
    assert.ok(failed.every((r) => r.status === 'rejected' && r.reason instanceof StreamUnavailableError));
    assert.equal(upserts(), 3);
  });

  it('upserts on every request with a TTL of 0', async () => {
    const noCache = new StreamUserSync({ client, store, profileTtlSeconds: 0 });
    await noCache.syncOnIssue(ada);
    await noCache.syncOnIssue(ada);
    assert.equal(upserts(), 2);
  });

  it('sends an empty team list only when teams are managed', async () => {
    await sync.syncOnIssue({ id: 'user_t', role: 'user', teams: [] });
    const first = stream.calls.at(-1)?.body as { users: Record<string, Record<string, unknown>> };
    assert.equal('teams' in (first.users.user_t ?? {}), false);
    const managed = new StreamUserSync({ client, store: new MemorySyncStore(), manageTeams: true });
    await managed.syncOnIssue({ id: 'user_t', role: 'user', teams: ['a'] });
    await managed.syncOnIssue({ id: 'user_t', role: 'user', teams: [] });
    const last = stream.calls.at(-1)?.body as { users: Record<string, Record<string, unknown>> };
    assert.deepEqual(last.users.user_t?.teams, []);
    assert.deepEqual(stream.users.get('user_t')?.teams, []);
  });

  it('hashes profiles stably', () => {
    assert.equal(profileHash({ ...ada, teams: ['b', 'a', 'a'] }), profileHash({ ...ada, teams: ['a', 'b'] }));
    assert.notEqual(profileHash(ada), profileHash({ ...ada, name: 'Ada L' }));
    assert.notEqual(profileHash({ id: 'a', role: 'user', teams: [] }), profileHash({ id: 'a', role: 'user', teams: [], name: '' }));
  });

  describe('Stream failures', () => {
    it('a dropped connection is StreamUnavailableError', async () => {
      stream.failure = { status: 0 };
      await assert.rejects(sync.syncOnIssue(ada), (error: unknown) => {
        assert.ok(error instanceof StreamUnavailableError, String(error));
        assert.equal(error.status, null);
        assert.equal(error.retryAfterSeconds, 5);
        assert.equal(error.operation, 'upsert_user');
        return true;
      });
      assert.deepEqual(observed, [['upsert_user', 'unavailable']]);
      // Nothing was cached: once Stream is back, the next request upserts.
      stream.failure = null;
      assert.equal(await sync.syncOnIssue(ada), 'synced');
    });

    it('an answer slower than the SDK timeout is StreamUnavailableError', async () => {
      stream.failure = { delayMs: SDK_TIMEOUT_MS + 600, times: 1 };
      const started = Date.now();
      await assert.rejects(sync.syncOnIssue(ada), StreamUnavailableError);
      assert.ok(Date.now() - started < SDK_TIMEOUT_MS + 500, 'gave up at the SDK timeout');
    });

    for (const status of [500, 502, 503, 504]) {
      it(`HTTP ${status} is StreamUnavailableError`, async () => {
        stream.failure = { status, times: 1 };
        await assert.rejects(sync.syncOnIssue(ada), (error: unknown) => {
          assert.ok(error instanceof StreamUnavailableError);
          assert.equal(error.status, status);
          assert.equal(error.retryAfterSeconds, 5);
          return true;
        });
      });
    }

    it('HTTP 429 is StreamUnavailableError with Retry-After', async () => {
      stream.failure = { status: 429, retryAfter: 7, times: 1 };
      await assert.rejects(sync.syncOnIssue(ada), (error: unknown) => {
        assert.ok(error instanceof StreamUnavailableError);
        assert.equal(error.status, 429);
        assert.equal(error.retryAfterSeconds, 7);
        return true;
      });
    });

    it('other 4xx answers are StreamRejectedError', async () => {
      await assert.rejects(sync.syncOnIssue({ id: 'not a valid id!', role: 'user', teams: [] }), (error: unknown) => {
        assert.ok(error instanceof StreamRejectedError, String(error));
        assert.equal(error.status, 400);
        assert.equal(error.streamCode, 4);
        return true;
      });
      assert.deepEqual(observed, [['upsert_user', 'rejected']]);
      const badSecret = new StreamChat(apiKey, 'wrong-secret', { baseURL: stream.baseURL, timeout: SDK_TIMEOUT_MS });
      const other = new StreamUserSync({ client: badSecret, store: new MemorySyncStore() });
      await assert.rejects(other.syncOnIssue(ada), (error: unknown) => error instanceof StreamRejectedError && error.status === 401);
      stream.calls.length = 0; // the refused call above is expected to be unauthenticated
    });

    it('reads Retry-After and X-RateLimit-Reset', () => {
      const now = Date.parse('2026-01-01T00:00:00Z');
      assert.equal(retryAfterFromHeaders({ 'retry-after': '12' }, now), 12);
      assert.equal(retryAfterFromHeaders({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }, now), 30);
      assert.equal(retryAfterFromHeaders({ 'x-ratelimit-reset': String(now / 1000 + 42) }, now), 42);
      assert.equal(retryAfterFromHeaders({ 'retry-after': '100000' }, now), 300);
      assert.equal(retryAfterFromHeaders({}, now), 5);
      assert.equal(retryAfterFromHeaders({ 'retry-after': 'soon' }, now, 9), 9);
      // Stream sends X-RateLimit-* on every answer: a 5xx ignores the reset time.
      assert.equal(retryAfterFromHeaders({ 'x-ratelimit-reset': String(now / 1000 + 42) }, now, 5, false), 5);
    });
  });

  describe('cap and breaker', () => {
    it('after 5 failed calls, token syncs, revocations and webhook updates fail at once without calling Stream', async () => {
      const refused: Array<[StreamOperation, string]> = [];
      const guarded = new StreamUserSync({ client, store, observer: { streamCallRefused: (operation, reason) => refused.push([operation, reason]) } });
      stream.failure = { status: 500 };
      for (let i = 0; i < 5; i += 1) {
        await assert.rejects(guarded.syncOnIssue({ ...ada, id: `user_${i}` }), (e: unknown) => e instanceof StreamUnavailableError && e.refusedBy === null);
      }
      assert.equal(guarded.guard.status().breaker, 'open');
      const callsBefore = stream.calls.length;
      const isRefused = (e: unknown): boolean => e instanceof StreamUnavailableError && e.refusedBy === 'breaker_open' && e.retryAfterSeconds >= 1;
      await assert.rejects(guarded.syncOnIssue(ada), isRefused);
      await assert.rejects(guarded.revokeTokens('user_ada', new Date()), isRefused);
      await assert.rejects(guarded.onUserUpserted(ada), isRefused);
      await assert.rejects(guarded.onMembershipChanged({ userId: 'user_ada', role: 'admin' }), isRefused);
      await assert.rejects(guarded.onUserDeleted('user_ada', 'deactivate'), isRefused);
      assert.equal(stream.calls.length, callsBefore);
      assert.deepEqual(refused, [
        ['upsert_user', 'breaker_open'],
        ['revoke_tokens', 'breaker_open'],
        ['upsert_user', 'breaker_open'],
        ['partial_update_user', 'breaker_open'],
        ['deactivate_user', 'breaker_open'],
      ]);
    });

    it('a shared guard caps calls across every operation', async () => {
      const guard = new StreamCallGuard({ maxConcurrency: 2, queueTimeoutMs: 2000 });
      const guarded = new StreamUserSync({ client, store, guard });
      stream.failure = { delayMs: 60 };
      await Promise.all([
        ...Array.from({ length: 4 }, (_, i) => guarded.syncOnIssue({ ...ada, id: `user_cap_${i}` })),
        ...Array.from({ length: 3 }, (_, i) => guarded.revokeTokens(`user_cap_${i}`, new Date())),
        ...Array.from({ length: 3 }, (_, i) => guarded.onMembershipChanged({ userId: `user_cap_${i}`, role: 'admin' })),
      ]);
      assert.equal(stream.calls.length, 10);
      assert.equal(stream.peakInFlight, 2);
      assert.deepEqual(guard.status(), { inFlight: 0, queued: 0, breaker: 'closed' });
    });
  });

  describe('token revocation', () => {
    it('revokes tokens issued before a time', async () => {
      await sync.syncOnIssue(ada);
      const before = new Date('2030-01-02T03:04:05.000Z');
      await sync.revokeTokens('user_ada', before);
      assert.equal(stream.revocations.get('user_ada'), before.toISOString());
      const call = stream.calls.at(-1);
      assert.equal(call?.method, 'PATCH');
      assert.equal(call?.path, '/users');
      assert.deepEqual(observed.at(-1), ['revoke_tokens', 'success']);
    });

    it('treats a user Stream does not know as nothing to revoke', async () => {
      await sync.revokeTokens('user_unknown', new Date());
      assert.deepEqual(observed, [['revoke_tokens', 'not_found']]);
    });

    it('fails with StreamUnavailableError when Stream is down', async () => {
      await sync.syncOnIssue(ada);
      stream.failure = { status: 503 };
      await assert.rejects(sync.revokeTokens('user_ada', new Date()), StreamUnavailableError);
    });
  });

  describe('deleted users', () => {
    it('deactivate: marks removed, deactivates, refuses later token syncs', async () => {
      await sync.syncOnIssue(ada);
      await sync.onUserDeleted('user_ada', 'deactivate');
      assert.equal(await store.isRemoved('user_ada'), true);
      assert.equal(await store.getProfileHash('user_ada'), null);
      assert.equal(typeof stream.users.get('user_ada')?.deactivated_at, 'string');
      await assert.rejects(sync.syncOnIssue(ada), UserRemovedError);
      assert.equal(await sync.isRemoved('user_ada'), true);
      // Redelivery: already deactivated counts as done.
      await sync.onUserDeleted('user_ada', 'deactivate');
      assert.equal(upserts(), 1);
    });

    it('delete: soft-deletes in Stream', async () => {
      await sync.syncOnIssue(ada);
      await sync.onUserDeleted('user_ada', 'delete');
      const call = stream.calls.at(-1);
      assert.equal(call?.method, 'DELETE');
      assert.equal(call?.path, '/users/user_ada');
      assert.equal(call?.query.hard_delete, 'false');
      assert.equal(typeof stream.users.get('user_ada')?.deleted_at, 'string');
      assert.equal(await store.isRemoved('user_ada'), true);
    });

    it('none: only marks removed', async () => {
      await sync.syncOnIssue(ada);
      const callsBefore = stream.calls.length;
      await sync.onUserDeleted('user_ada', 'none');
      assert.equal(stream.calls.length, callsBefore);
      assert.equal(await store.isRemoved('user_ada'), true);
    });

    it('a user Stream does not know counts as done', async () => {
      await sync.onUserDeleted('user_ghost', 'deactivate');
      await sync.onUserDeleted('user_ghost', 'delete');
      assert.deepEqual(observed, [
        ['deactivate_user', 'not_found'],
        ['delete_user', 'not_found'],
      ]);
      assert.equal(await store.isRemoved('user_ghost'), true);
    });

    it('the user stays marked removed even when Stream is down', async () => {
      stream.failure = { status: 0 };
      await assert.rejects(sync.onUserDeleted('user_ada', 'deactivate'), StreamUnavailableError);
      assert.equal(await store.isRemoved('user_ada'), true);
    });
  });

  describe('webhook-driven updates', () => {
    it('onUserUpserted lifts the removal mark and upserts', async () => {
      await store.markRemoved('user_ada');
      await store.setProfileHash('user_ada', profileHash(ada), 3600);
      await sync.onUserUpserted(ada);
      assert.equal(await store.isRemoved('user_ada'), false);
      assert.equal(await store.getProfileHash('user_ada'), null, 'the next token request writes the session profile');
      assert.equal(stream.users.get('user_ada')?.name, 'Ada');
    });

    it('onMembershipChanged sets role and teams with a partial update and forgets the hash', async () => {
      await sync.syncOnIssue(ada);
      assert.ok(stream.users.get('user_ada')); // exists
      await sync.onMembershipChanged({ userId: 'user_ada', role: 'moderator', teams: ['org_2'] });
      const call = stream.calls.at(-1);
      assert.equal(call?.method, 'PATCH');
      assert.deepEqual((call?.body as { users: unknown[] }).users, [{ id: 'user_ada', set: { role: 'moderator', teams: ['org_2'] } }]);
      assert.equal(stream.users.get('user_ada')?.role, 'moderator');
      assert.deepEqual(stream.users.get('user_ada')?.teams, ['org_2']);
      assert.equal(stream.users.get('user_ada')?.name, 'Ada', 'other fields are kept');
      assert.equal(await store.getProfileHash('user_ada'), null);
      assert.equal(await sync.syncOnIssue(ada), 'synced');
    });

    it('onMembershipChanged without teams leaves Stream teams alone; unknown users are left for later', async () => {
      await sync.syncOnIssue(ada);
      await sync.onMembershipChanged({ userId: 'user_ada', role: 'user' });
      assert.deepEqual(stream.users.get('user_ada')?.teams, ['org_1']);
      await sync.onMembershipChanged({ userId: 'user_nobody', role: 'admin' });
      assert.deepEqual(observed.at(-1), ['partial_update_user', 'not_found']);
      assert.equal(stream.users.has('user_nobody'), false);
    });
  });
});
