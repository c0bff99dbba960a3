import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify } from 'jose';
import { DEV_ISSUER_KEY_FILE, loadOrCreateDevIssuer } from '../../src/dev/dev-issuer.js';
import { SessionTokenError, type SessionTokenErrorCode } from '../../src/identity/errors.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import { NOW_MS, NOW_S, TestClock, defaultTiming } from '../support/identity.js';

const ISSUER = 'http://localhost:8080/dev';
const root = mkdtempSync(join(tmpdir(), 'dev-issuer-test-'));
let counter = 0;
const freshDirectory = (): string => join(root, `case-${++counter}`, 'nested');

/** Key generation is slow; tests that do not care about the file share one issuer key. */
const sharedDirectory = freshDirectory();

after(() => rmSync(root, { recursive: true, force: true }));

function verifierFor(issuerOptions: ReturnType<typeof loadOrCreateDevIssuer>['issuerOptions'], clock: TestClock): SessionVerifier {
  return new SessionVerifier({ issuers: [issuerOptions], keySetTiming: defaultTiming(), clockSkewSeconds: 0, now: clock.now });
}

async function rejectsWith(promise: Promise<unknown>, code: SessionTokenErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof SessionTokenError && error.code === code);
}

describe('development issuer', () => {
  it('creates the key once, privately, and reuses it across loads', () => {
    const directory = freshDirectory();
    const first = loadOrCreateDevIssuer({ directory, issuer: ISSUER });
    const keyFile = join(directory, DEV_ISSUER_KEY_FILE);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(statSync(directory).mode & 0o777, 0o700);
    const stored = JSON.parse(readFileSync(keyFile, 'utf8')) as Record<string, unknown>;
    assert.equal(stored['kty'], 'RSA');
    assert.equal(typeof stored['d'], 'string', 'the private key is stored');

    const second = loadOrCreateDevIssuer({ directory, issuer: ISSUER });
    const [firstKey] = first.jwks.keys;
    const [secondKey] = second.jwks.keys;
    assert.equal(firstKey?.['kid'], secondKey?.['kid']);
    assert.equal(firstKey?.n, secondKey?.n);
    assert.equal(readFileSync(keyFile, 'utf8'), JSON.stringify(stored) + '\n', 'the file is not rewritten');

    const other = loadOrCreateDevIssuer({ directory: freshDirectory(), issuer: ISSUER });
    assert.notEqual(other.jwks.keys[0]?.['kid'], firstKey?.['kid']);
  });

  it('publishes only the public key, with the RFC 7638 thumbprint as kid', async () => {
    const dev = loadOrCreateDevIssuer({ directory: sharedDirectory, issuer: ISSUER });
    assert.equal(dev.jwks.keys.length, 1);
    const jwk = dev.jwks.keys[0]!;
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(jwk[member as keyof typeof jwk], undefined, member);
    assert.equal(jwk['kid'], await calculateJwkThumbprint({ kty: 'RSA', n: jwk.n!, e: jwk.e! }, 'sha256'));
    assert.equal(jwk.alg, 'RS256');
    assert.equal(jwk.use, 'sig');
    assert.equal(dev.issuer, ISSUER);
    assert.deepEqual(
      { ...dev.issuerOptions, staticKeys: dev.issuerOptions.staticKeys?.length },
      {
        kind: 'dev',
        issuer: ISSUER,
        staticKeys: 1,
        algorithms: ['RS256'],
        userIdClaim: 'sub',
        authorizedParties: [],
        requireAuthorizedParty: false,
        allowImpersonation: false,
      },
    );
  });

  it('signs tokens that SessionVerifier accepts with the issuer options, and jose with the JWKS', async () => {
    const clock = new TestClock();
    const dev = loadOrCreateDevIssuer({ directory: sharedDirectory, issuer: ISSUER, now: clock.now });
    const verifier = verifierFor(dev.issuerOptions, clock);
    try {
      await verifier.start();
      assert.equal(verifier.isReady(), true);
      const token = dev.sign('user_42');
      const session = await verifier.verify(token);
      assert.equal(session.userId, 'user_42');
      assert.equal(session.kind, 'dev');
      assert.equal(session.expiresAt, NOW_S + 600);
      assert.equal(session.claims['iat'], NOW_S);
      assert.equal(session.claims['nbf'], NOW_S);
      assert.match(String(session.claims['sid']), /^sess_dev_[0-9a-f]+$/);
      assert.equal(session.claims['azp'], undefined);

      const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      assert.deepEqual(header, { alg: 'RS256', kid: dev.jwks.keys[0]!['kid'], typ: 'JWT' });
      const viaJose = await jwtVerify(token, createLocalJWKSet(dev.jwks), { issuer: ISSUER, currentDate: new Date(NOW_MS) });
      assert.equal(viaJose.payload.sub, 'user_42');

      assert.notEqual(dev.sign('user_42'), dev.sign('user_42'), 'each token is its own session');
    } finally {
      verifier.close();
    }
  });

  it('merges claims over the defaults but always keeps sub = userId', async () => {
    const clock = new TestClock();
    const dev = loadOrCreateDevIssuer({ directory: sharedDirectory, issuer: ISSUER, tokenTtlSeconds: 60, now: clock.now });
    const verifier = verifierFor(dev.issuerOptions, clock);
    try {
      const session = await verifier.verify(dev.sign('user_1', { sub: 'admin', name: 'Ada', org_id: 'org_1', sid: 'sess_custom' }));
      assert.equal(session.userId, 'user_1');
      assert.equal(session.claims['sub'], 'user_1');
      assert.equal(session.claims['name'], 'Ada');
      assert.equal(session.claims['org_id'], 'org_1');
      assert.equal(session.claims['sid'], 'sess_custom');
      assert.equal(session.expiresAt, NOW_S + 60);

      await rejectsWith(verifier.verify(dev.sign('user_1', { exp: NOW_S - 1 })), 'token_expired');
      await rejectsWith(verifier.verify(dev.sign('user_1', { nbf: NOW_S + 120 })), 'token_not_yet_valid');
      await rejectsWith(verifier.verify(dev.sign('user_1', { iss: 'https://elsewhere.example.test' })), 'invalid_issuer');
      await rejectsWith(verifier.verify(dev.sign('user_1', { act: { sub: 'user_admin' } })), 'impersonation_not_allowed');
      await rejectsWith(verifier.verify(dev.sign('not valid!')), 'invalid_subject');

      clock.advanceSeconds(60);
      await rejectsWith(verifier.verify(dev.sign('user_1', { exp: NOW_S + 60 })), 'token_expired');
    } finally {
      verifier.close();
    }
  });

  it('tokens of one dev issuer are refused by a verifier trusting another dev key under the same issuer', async () => {
    const clock = new TestClock();
    const ours = loadOrCreateDevIssuer({ directory: sharedDirectory, issuer: ISSUER, now: clock.now });
    const theirs = loadOrCreateDevIssuer({ directory: freshDirectory(), issuer: ISSUER, now: clock.now });
    const verifier = verifierFor(ours.issuerOptions, clock);
    try {
      await rejectsWith(verifier.verify(theirs.sign('user_1')), 'invalid_signature');
    } finally {
      verifier.close();
    }
  });

  it('tightens a key file whose mode was loosened, and refuses a corrupt one', () => {
    const directory = freshDirectory();
    const first = loadOrCreateDevIssuer({ directory, issuer: ISSUER });
    const keyFile = join(directory, DEV_ISSUER_KEY_FILE);
    chmodSync(keyFile, 0o644);
    const again = loadOrCreateDevIssuer({ directory, issuer: ISSUER });
    assert.equal(again.jwks.keys[0]?.['kid'], first.jwks.keys[0]?.['kid']);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);

    writeFileSync(keyFile, '{"kty":"RSA"');
    assert.throws(() => loadOrCreateDevIssuer({ directory, issuer: ISSUER }), /not valid JSON/);
    writeFileSync(keyFile, JSON.stringify(first.jwks.keys[0]));
    assert.throws(() => loadOrCreateDevIssuer({ directory, issuer: ISSUER }), /not an RSA private JWK/);
  });
});
