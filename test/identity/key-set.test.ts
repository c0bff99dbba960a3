import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, describe, it } from 'node:test';
import { SessionTokenError, type SessionTokenErrorCode } from '../../src/identity/errors.js';
import { KeySet } from '../../src/identity/key-set.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import type { IssuerOptions, KeySetTiming } from '../../src/identity/types.js';
import {
  NOW_S,
  TestClock,
  TestServer,
  b64u,
  defaultTiming,
  ecKeyPair,
  issuerOptions,
  jsonResponse,
  memoryFetch,
  publicJwk,
  recordingLogger,
  rsaKeyPair,
  segment,
  sendJson,
  signToken,
  type KeyPair,
} from '../support/identity.js';

const ISSUER = 'https://issuer.example.test';

const keyA = rsaKeyPair();
const keyB = rsaKeyPair();
const keyC = ecKeyPair();

const jwkA = publicJwk(keyA.publicKey, { kid: 'key-a', use: 'sig', alg: 'RS256' });
const jwkB = publicJwk(keyB.publicKey, { kid: 'key-b', use: 'sig', alg: 'RS256' });

/** This file's issuer, with `overrides`. */
function options(overrides: Partial<IssuerOptions> = {}): IssuerOptions {
  return issuerOptions({ issuer: ISSUER, ...overrides });
}

function token(key: KeyPair, kid: string | undefined, extra: Record<string, unknown> = {}, iss = ISSUER): string {
  const header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT' };
  if (kid !== undefined) header['kid'] = kid;
  return signToken(header, { iss, sub: 'user_1', iat: NOW_S, exp: NOW_S + 86_400 * 30, ...extra }, key.privateKey, 'RS256');
}

async function rejectsWith(promise: Promise<unknown>, code: SessionTokenErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SessionTokenError, `not a SessionTokenError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

/** Everything one test opened, closed afterwards so the process can exit. */
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function jwksServer(document: unknown): Promise<TestServer> {
  const server = await new TestServer().listen();
  server.serveJson(document);
  cleanup.push(() => server.close());
  return server;
}

/** A verifier for one issuer (`options(issuer)`) on the test clock, closed after the test. */
function verifierWith(
  issuer: Partial<IssuerOptions>,
  clock: TestClock,
  timing: Partial<KeySetTiming> = {},
  extra: Partial<ConstructorParameters<typeof SessionVerifier>[0]> = {},
): SessionVerifier {
  const verifier = new SessionVerifier({
    issuers: [options(issuer)],
    keySetTiming: defaultTiming(timing),
    clockSkewSeconds: 0,
    now: clock.now,
    ...extra,
  });
  cleanup.push(() => verifier.close());
  return verifier;
}

/** A verifier for the Clerk issuer whose keys `server` serves at `/jwks`. */
function verifierFor(
  server: TestServer,
  clock: TestClock,
  timing: Partial<KeySetTiming> = {},
  extra: Partial<ConstructorParameters<typeof SessionVerifier>[0]> = {},
): SessionVerifier {
  return verifierWith({ jwksUri: server.url('/jwks') }, clock, timing, extra);
}

describe('key rotation', () => {
  it('accepts a new kid after one refetch and forgets the removed one', async () => {
    const server = await jwksServer({ keys: [jwkA] });
    const clock = new TestClock();
    const verifier = verifierFor(server, clock, { cooldownSeconds: 30 });
    await verifier.start();
    await verifier.verify(token(keyA, 'key-a'));
    assert.equal(server.count('/jwks'), 1);

    server.serveJson({ keys: [jwkB] });
    // Inside the cooldown nothing is fetched, so the new kid is still unknown.
    await rejectsWith(verifier.verify(token(keyB, 'key-b')), 'unknown_key');
    assert.equal(server.count('/jwks'), 1);

    clock.advanceSeconds(30);
    const session = await verifier.verify(token(keyB, 'key-b'));
    assert.equal(session.userId, 'user_1');
    assert.equal(server.count('/jwks'), 2);

    await rejectsWith(verifier.verify(token(keyA, 'key-a')), 'unknown_key');
    assert.equal(server.count('/jwks'), 2, 'the removed kid does not trigger a fetch inside the cooldown');
  });

  it('refreshes in the background once the TTL has passed, without delaying verification', async () => {
    let current: unknown = { keys: [jwkA] };
    const fetchImpl = memoryFetch(() => jsonResponse(current));
    const clock = new TestClock();
    const keySet = new KeySet({
      issuer: options({ jwksUri: 'https://keys.example.test/jwks' }),
      timing: defaultTiming({ cacheTtlSeconds: 300 }),
      fetch: fetchImpl,
      now: clock.now,
    });
    cleanup.push(() => keySet.close());
    await keySet.start();
    clock.advanceSeconds(299);
    assert.ok(keySet.getKey('key-a', 'RS256'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fetchImpl.calls.length, 1, 'no refresh before the TTL');

    current = { keys: [jwkA, jwkB] };
    clock.advanceSeconds(1);
    const key = keySet.getKey('key-a', 'RS256');
    assert.ok(!(key instanceof Promise), 'a known kid is answered at once, the refresh runs behind it');
    await keySet.refresh(); // joins the refresh the lookup started
    assert.equal(fetchImpl.calls.length, 2);
    assert.ok(!(keySet.getKey('key-b', 'RS256') instanceof Promise));
    assert.equal(keySet.status().keyCount, 2);
  });
});

describe('JWKS outage', () => {
  for (const outage of ['HTTP 500', 'connection reset'] as const) {
    it(`keeps verifying with the last good keys until maxStale, then keys_unavailable (${outage})`, async () => {
      const server = await jwksServer({ keys: [jwkA] });
      const clock = new TestClock();
      const logger = recordingLogger();
      const reports: Array<[string, string, string | undefined]> = [];
      const timing = defaultTiming({ cacheTtlSeconds: 300, cooldownSeconds: 30, maxStaleSeconds: 3600 });
      const keySet = new KeySet({
        issuer: options({ jwksUri: server.url('/jwks') }),
        timing,
        now: clock.now,
        logger,
        observer: { jwksFetch: (issuer, outcome, reason) => void reports.push([issuer, outcome, reason]) },
      });
      cleanup.push(() => keySet.close());
      const verifier = verifierFor(server, clock, timing, { logger });
      await Promise.all([keySet.start(), verifier.start()]);
      assert.deepEqual(reports, [[ISSUER, 'success', undefined]]);
      assert.equal(verifier.isReady(), true);

      server.handler = outage === 'HTTP 500' ? (_req, res) => sendJson(res, 500, { error: 'down' }) : (req) => req.socket.destroy();
      clock.advanceSeconds(301);
      await verifier.verify(token(keyA, 'key-a')); // still fine, and starts a refresh
      await keySet.refresh();
      const status = keySet.status();
      assert.equal(status.ready, true);
      assert.equal(status.stale, true);
      assert.equal(status.keyCount, 1);
      assert.equal(status.keyAgeSeconds, 301);
      assert.match(status.lastError ?? '', outage === 'HTTP 500' ? /status 500/ : /request failed/);
      assert.equal(reports.at(-1)?.[1], 'error');
      assert.equal(reports.at(-1)?.[2], status.lastError);

      clock.advanceSeconds(3600 - 301); // exactly at the limit: still usable
      await verifier.verify(token(keyA, 'key-a'));
      assert.equal(verifier.isReady(), true);

      clock.advanceSeconds(1);
      await rejectsWith(verifier.verify(token(keyA, 'key-a')), 'keys_unavailable');
      assert.equal(verifier.isReady(), false);
      const [verifierStatus] = verifier.status();
      assert.equal(verifierStatus?.ready, false);
      assert.equal(verifierStatus?.keyCount, 0);
      assert.equal(keySet.isReady(), false);

      // Nothing sensitive reaches the logs.
      const logged = JSON.stringify(logger.entries);
      assert.ok(logger.entries.some((entry) => entry.level === 'warn'));
      assert.ok(!logged.includes(String(jwkA['n']).slice(0, 32)), 'no key material in logs');
      assert.ok(!logged.includes('eyJ'), 'no token text in logs');
    });
  }

  it('with maxStaleSeconds 0, keys live one TTL and a failed refresh then leaves none', async () => {
    let down = false;
    const fetchImpl = memoryFetch(() => (down ? jsonResponse({ error: 'down' }, 500) : jsonResponse({ keys: [jwkA] })));
    const clock = new TestClock();
    const keySet = new KeySet({
      issuer: options({ jwksUri: 'https://keys.example.test/jwks' }),
      timing: defaultTiming({ cacheTtlSeconds: 300, maxStaleSeconds: 0 }),
      fetch: fetchImpl,
      now: clock.now,
    });
    cleanup.push(() => keySet.close());
    await keySet.start();
    clock.advanceSeconds(300);
    assert.ok(!(keySet.getKey('key-a', 'RS256') instanceof Promise));
    await keySet.refresh();
    assert.equal(fetchImpl.calls.length, 2, 'refreshed at the TTL');
    down = true;
    clock.advanceSeconds(301);
    await rejectsWith(
      Promise.resolve().then(() => keySet.getKey('key-a', 'RS256')),
      'keys_unavailable',
    );
    assert.equal(fetchImpl.calls.length, 3);
    assert.equal(keySet.isReady(), false);
  });

  it('recovers on the next fetch after the outage ends', async () => {
    const server = await jwksServer({ keys: [jwkA] });
    const clock = new TestClock();
    const keySet = new KeySet({ issuer: options({ jwksUri: server.url('/jwks') }), timing: defaultTiming(), now: clock.now });
    cleanup.push(() => keySet.close());
    await keySet.start();
    server.serveJson({ error: 'down' }, 503);
    clock.advanceSeconds(601);
    await keySet.refresh();
    assert.equal(keySet.status().stale, true);
    server.serveJson({ keys: [jwkA] });
    clock.advanceSeconds(30);
    await keySet.refresh();
    const status = keySet.status();
    assert.equal(status.stale, false);
    assert.equal(status.lastError, null);
    assert.equal(status.keyAgeSeconds, 0);
  });
});

describe('unknown kid flood', () => {
  it('fetches at most once per cooldown window, sharing one in-flight fetch', async () => {
    const server = await jwksServer({ keys: [jwkA] });
    const clock = new TestClock();
    const verifier = verifierFor(server, clock, { cooldownSeconds: 60 });
    await verifier.start();
    // The kid is looked up before the signature is checked, so the signature can be junk.
    const bogus = (kid: string): string =>
      `${segment({ alg: 'RS256', kid, typ: 'JWT' })}.${segment({ iss: ISSUER, sub: 'user_1', exp: NOW_S + 60 })}.${b64u(randomBytes(256))}`;
    const flood = (round: number): Promise<void>[] =>
      Array.from({ length: 500 }, (_, i) => rejectsWith(verifier.verify(bogus(`bogus-${round}-${i}`)), 'unknown_key'));

    await Promise.all(flood(0)); // inside the cooldown after start
    assert.equal(server.count('/jwks'), 1);

    clock.advanceSeconds(60);
    await Promise.all(flood(1));
    assert.equal(server.count('/jwks'), 2, 'one extra fetch for the whole flood');

    clock.advanceSeconds(59);
    await Promise.all(flood(2));
    assert.equal(server.count('/jwks'), 2);

    clock.advanceSeconds(1);
    await Promise.all(flood(3));
    assert.equal(server.count('/jwks'), 3, 'one more once the cooldown has passed');

    await verifier.verify(token(keyA, 'key-a'));
  });
});

describe('keys never loaded', () => {
  it('fails with keys_unavailable and retries no sooner than the cooldown', async () => {
    const server = await jwksServer({ error: 'down' });
    server.serveJson({ error: 'down' }, 500);
    const clock = new TestClock();
    const verifier = verifierFor(server, clock, { cooldownSeconds: 30 });
    await verifier.start(); // does not reject
    assert.equal(verifier.isReady(), false);
    const [status] = verifier.status();
    assert.equal(status?.ready, false);
    assert.equal(status?.keyCount, 0);
    assert.equal(status?.keyAgeSeconds, null);
    assert.match(status?.lastError ?? '', /500/);

    await rejectsWith(verifier.verify(token(keyA, 'key-a')), 'keys_unavailable');
    await rejectsWith(verifier.verify(token(keyA, undefined)), 'keys_unavailable');
    assert.equal(server.count('/jwks'), 1);

    clock.advanceSeconds(30);
    await rejectsWith(verifier.verify(token(keyA, 'key-a')), 'keys_unavailable');
    assert.equal(server.count('/jwks'), 2);

    server.serveJson({ keys: [jwkA] });
    clock.advanceSeconds(30);
    await verifier.verify(token(keyA, 'key-a')); // the request waits for the fetch it triggered
    assert.equal(server.count('/jwks'), 3);
    assert.equal(verifier.isReady(), true);
  });

  it('fails with keys_unavailable when keys are looked up before start', async () => {
    const fetchImpl = memoryFetch(() => jsonResponse({}, 500));
    const keySet = new KeySet({ issuer: options({ jwksUri: 'https://keys.example.test/jwks' }), timing: defaultTiming(), fetch: fetchImpl });
    cleanup.push(() => keySet.close());
    await rejectsWith(
      Promise.resolve().then(() => keySet.getKey('key-a', 'RS256')),
      'keys_unavailable',
    );
    assert.equal(fetchImpl.calls.length, 1);
  });
});

describe('JWKS content', () => {
  // An empty list is not here: the issuer's word that no key signs any more (see key-hardening.test.ts).
  const unusableSets: Array<[string, unknown]> = [
    ['RSA key with public exponent 1', { keys: [{ ...jwkA, e: 'AQ' }] }],
    ['not an object', [jwkA]],
    ['keys not an array', { keys: jwkA }],
    ['private key (has d)', { keys: [{ ...keyA.privateKey.export({ format: 'jwk' }), kid: 'key-a' }] }],
    ['symmetric key', { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'key-a' }] }],
    ['symmetric alg on an RSA key', { keys: [{ ...jwkA, alg: 'HS256' }] }],
    ['encryption key', { keys: [{ ...jwkA, use: 'enc' }] }],
    ['key_ops without verify', { keys: [{ ...jwkA, key_ops: ['encrypt'] }] }],
    ['RSA key under 2048 bits', { keys: [publicJwk(rsaKeyPair(1024).publicKey, { kid: 'key-a' })] }],
    ['key for an algorithm the issuer does not allow', { keys: [publicJwk(keyC.publicKey, { kid: 'key-a' })] }],
    ['unsupported kty', { keys: [{ kty: 'AKP', alg: 'ML-DSA-44', pub: 'AAAA', kid: 'key-a' }] }],
    ['garbage key members', { keys: [{ kty: 'RSA', n: '!!', e: 'AQAB', kid: 'key-a' }, null, 'key', 7] }],
    ['non-string kid', { keys: [{ ...jwkA, kid: 7 }] }],
  ];

  for (const [name, document] of unusableSets) {
    it(`does not replace good keys with a set without usable keys: ${name}`, async () => {
      let current: unknown = { keys: [jwkA] };
      const fetchImpl = memoryFetch(() => jsonResponse(current));
      const clock = new TestClock();
      const keySet = new KeySet({ issuer: options({ jwksUri: 'https://keys.example.test/jwks' }), timing: defaultTiming(), fetch: fetchImpl, now: clock.now });
      cleanup.push(() => keySet.close());
      await keySet.start();
      current = document;
      clock.advanceSeconds(30);
      await keySet.refresh();
      assert.equal(fetchImpl.calls.length, 2);
      const status = keySet.status();
      assert.equal(status.keyCount, 1);
      assert.equal(status.stale, true);
      assert.ok(status.lastError);
      assert.ok(keySet.getKey('key-a', 'RS256'));
    });
  }

  it('skips unusable keys but keeps the usable ones of a mixed set', async () => {
    const fetchImpl = memoryFetch(() => jsonResponse({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }, { ...jwkB, use: 'enc' }, jwkA] }));
    const keySet = new KeySet({ issuer: options({ jwksUri: 'https://keys.example.test/jwks' }), timing: defaultTiming(), fetch: fetchImpl });
    cleanup.push(() => keySet.close());
    await keySet.start();
    assert.equal(keySet.status().keyCount, 1);
    assert.ok(keySet.getKey('key-a', 'RS256'));
    await rejectsWith(
      Promise.resolve().then(() => keySet.getKey('hmac', 'RS256')),
      'unknown_key',
    );
  });

  it('refuses oversize, redirected and slow responses', async () => {
    const target = await jwksServer({ keys: [jwkA] });
    const server = await jwksServer({});
    server.handler = (req, res) => {
      if (req.url === '/big') return sendJson(res, 200, { keys: [jwkA], pad: 'x'.repeat(300 * 1024) });
      if (req.url === '/redirect') {
        res.writeHead(302, { location: target.url('/jwks') });
        return void res.end();
      }
      if (req.url === '/slow') return; // never answers
      sendJson(res, 404, {});
    };
    const cases: Array<[string, RegExp]> = [
      ['/big', /larger than/],
      ['/redirect', /request failed/],
      ['/slow', /timed out/],
    ];
    for (const [path, reason] of cases) {
      const keySet = new KeySet({ issuer: options({ jwksUri: server.url(path) }), timing: defaultTiming({ fetchTimeoutMs: 200 }) });
      cleanup.push(() => keySet.close());
      await keySet.start();
      assert.equal(keySet.isReady(), false, path);
      assert.match(keySet.status().lastError ?? '', reason, path);
    }
    assert.equal(target.requests.length, 0, 'the redirect target was never contacted');
  });
});

describe('tokens without kid', () => {
  it('use the single static key (CLERK_JWT_KEY)', async () => {
    const verifier = verifierWith({ staticKeys: [keyA.publicKey] }, new TestClock());
    await verifier.start();
    assert.equal(verifier.isReady(), true);
    assert.equal((await verifier.verify(token(keyA, undefined))).userId, 'user_1');
    // A pinned key stands alone: the provider's own kid for it is unknown here, so any kid uses it.
    assert.equal((await verifier.verify(token(keyA, 'ins_2abc'))).userId, 'user_1');
    await rejectsWith(verifier.verify(token(keyB, undefined)), 'invalid_signature');
    await rejectsWith(verifier.verify(token(keyB, 'ins_2abc')), 'invalid_signature');
    const [status] = verifier.status();
    assert.deepEqual(status, { issuer: ISSUER, kind: 'clerk', ready: true, keyState: 'fresh', keyCount: 1, keyAgeSeconds: 0, stale: false, lastError: null });
  });

  it('are refused when the set holds more than one key for the algorithm', async () => {
    const server = await jwksServer({ keys: [jwkA, jwkB] });
    const verifier = verifierFor(server, new TestClock());
    await verifier.start();
    await verifier.verify(token(keyA, 'key-a'));
    await rejectsWith(verifier.verify(token(keyA, undefined)), 'unknown_key');
  });

  it('use the single remote key for the algorithm, ignoring keys for other algorithms', async () => {
    const server = await jwksServer({ keys: [jwkA, publicJwk(keyC.publicKey, { kid: 'key-c', alg: 'ES256' })] });
    const verifier = verifierWith({ jwksUri: server.url('/jwks'), algorithms: ['RS256', 'ES256'] }, new TestClock());
    await verifier.start();
    await verifier.verify(token(keyA, undefined));
  });
});

describe('JWKS URL rules', () => {
  const timing = defaultTiming();
  for (const url of [
    'http://example.com/jwks',
    'http://10.0.0.1/jwks',
    'http://127.0.0.1.nip.io/jwks',
    'ftp://127.0.0.1/jwks',
    'file:///etc/jwks.json',
    'not a url',
  ]) {
    it(`rejects ${url} at construction`, () => {
      assert.throws(
        () => new KeySet({ issuer: options({ jwksUri: url }), timing }),
        (error: unknown) => {
          assert.ok(error instanceof Error && !(error instanceof SessionTokenError));
          assert.match(error.message, /jwksUri/);
          return true;
        },
      );
    });
  }
  for (const url of ['https://example.com/jwks', 'http://127.0.0.1:8080/jwks', 'http://127.1.2.3/jwks', 'http://[::1]:9000/jwks', 'http://localhost/jwks']) {
    it(`accepts ${url}`, () => {
      new KeySet({ issuer: options({ jwksUri: url }), timing }).close();
    });
  }
  it('rejects an OIDC issuer whose discovery URL would be plain http on a public host', () => {
    assert.throws(() => new KeySet({ issuer: options({ kind: 'oidc', issuer: 'http://login.example.com' }), timing }), /https/);
  });
  it('rejects an issuer with neither keys nor a JWKS', () => {
    assert.throws(() => new KeySet({ issuer: options(), timing }), /neither/);
  });
  it('rejects a static key that cannot verify any allowed algorithm', () => {
    assert.throws(() => new KeySet({ issuer: options({ staticKeys: [keyC.publicKey] }), timing }), /static key/);
  });
});

describe('OIDC discovery', () => {
  async function discoveryServer(documentIssuer: (origin: string) => string): Promise<TestServer> {
    const server = await jwksServer({});
    server.handler = (req, res) => {
      if (req.url === '/tenant/.well-known/openid-configuration') {
        return sendJson(res, 200, { issuer: documentIssuer(server.origin), jwks_uri: server.url('/tenant/keys') });
      }
      if (req.url === '/tenant/keys') return sendJson(res, 200, { keys: [jwkA] });
      sendJson(res, 404, {});
    };
    return server;
  }

  it('uses the discovered jwks_uri', async () => {
    const server = await discoveryServer((origin) => `${origin}/tenant`);
    const issuer = `${server.origin}/tenant`;
    const verifier = verifierWith({ kind: 'oidc', issuer }, new TestClock());
    await verifier.start();
    assert.equal(verifier.isReady(), true);
    const session = await verifier.verify(token(keyA, 'key-a', {}, issuer));
    assert.equal(session.kind, 'oidc');
    assert.deepEqual(server.requests, ['/tenant/.well-known/openid-configuration', '/tenant/keys']);
  });

  it('refuses a discovery document naming another issuer', async () => {
    const server = await discoveryServer((origin) => `${origin}/tenant/`);
    const issuer = `${server.origin}/tenant`;
    const clock = new TestClock();
    const verifier = verifierWith({ kind: 'oidc', issuer }, clock, { cooldownSeconds: 30 });
    await verifier.start();
    assert.equal(verifier.isReady(), false);
    assert.match(verifier.status()[0]?.lastError ?? '', /different issuer/);
    await rejectsWith(verifier.verify(token(keyA, 'key-a', {}, issuer)), 'keys_unavailable');
    clock.advanceSeconds(30);
    await rejectsWith(verifier.verify(token(keyA, 'key-a', {}, issuer)), 'keys_unavailable');
    assert.equal(server.count('/tenant/keys'), 0);
    assert.equal(server.count('/tenant/.well-known/openid-configuration'), 2, 'retried like a failed fetch, bounded by the cooldown');
  });

  it('refuses a discovered jwks_uri that is plain http on a public host', async () => {
    const fetchImpl = memoryFetch((url) =>
      url.endsWith('/.well-known/openid-configuration')
        ? jsonResponse({ issuer: 'https://login.example.test', jwks_uri: 'http://login.example.test/keys' })
        : jsonResponse({ keys: [jwkA] }),
    );
    const keySet = new KeySet({ issuer: options({ kind: 'oidc', issuer: 'https://login.example.test' }), timing: defaultTiming(), fetch: fetchImpl });
    cleanup.push(() => keySet.close());
    await keySet.start();
    assert.equal(keySet.isReady(), false);
    assert.match(keySet.status().lastError ?? '', /https/);
    assert.deepEqual(fetchImpl.calls, ['https://login.example.test/.well-known/openid-configuration']);
  });
});

after(() => {
  assert.equal(cleanup.length, 0);
});
