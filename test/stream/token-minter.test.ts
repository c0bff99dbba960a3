import assert from 'node:assert/strict';
import { createHmac, createSecretKey } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { StreamChat } from 'stream-chat';
import { signStreamToken, StreamTokenMinter } from '../../src/stream/token-minter.js';

const SECRET = 'test-stream-secret-0123456789abcdef';
const sdk = new StreamChat('test-key', SECRET);

function decode(segment: string): unknown {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

test('minted tokens equal the SDK createToken output for the same user, exp and iat', () => {
  const now = 1_800_000_000_000;
  const minter = new StreamTokenMinter({ apiSecret: SECRET, ttlSeconds: 3600, now: () => now });
  const minted = minter.mint('user_2abcDEF-x@y');
  const fromSdk = sdk.createToken('user_2abcDEF-x@y', minted.expiresAt, minted.issuedAt);
  const [oh, op] = minted.token.split('.') as [string, string, string];
  const [sh, sp] = fromSdk.split('.') as [string, string, string];
  assert.deepEqual(decode(oh), decode(sh));
  assert.deepEqual(decode(op), decode(sp));
  assert.equal(minted.token, fromSdk);
  assert.equal(Buffer.from(oh, 'base64url').toString(), '{"alg":"HS256","typ":"JWT"}');
});

test('minted tokens verify with the secret and carry user_id, iat backdated, exp = iat + ttl', () => {
  const now = 1_800_000_000_500;
  const minted = new StreamTokenMinter({ apiSecret: SECRET, ttlSeconds: 900, backdateSeconds: 5, now: () => now }).mint('alice');
  const claims = jwt.verify(minted.token, SECRET, { algorithms: ['HS256'], clockTimestamp: 1_800_000_000 }) as Record<string, unknown>;
  assert.deepEqual(claims, { user_id: 'alice', iat: 1_800_000_000 - 5, exp: 1_800_000_000 - 5 + 900 });
  assert.throws(() => jwt.verify(minted.token, `${SECRET}x`, { algorithms: ['HS256'] }));
});

test("for any user id in Stream's alphabet and any times, the token is the SDK's byte for byte", () => {
  const key = createSecretKey(Buffer.from(SECRET));
  fc.assert(
    fc.property(
      fc.stringMatching(/^[A-Za-z0-9@_-]{1,64}$/),
      fc.integer({ min: 1, max: 4_000_000_000 }),
      fc.integer({ min: 1, max: 100_000 }),
      (userId, iat, ttl) => {
        assert.equal(signStreamToken(key, userId, iat + ttl, iat), sdk.createToken(userId, iat + ttl, iat));
      },
    ),
    { numRuns: 300 },
  );
});

test('the signature is an HMAC-SHA256 of header.payload with the secret', () => {
  const minted = new StreamTokenMinter({ apiSecret: SECRET, ttlSeconds: 60 }).mint('bob');
  const [h, p, s] = minted.token.split('.') as [string, string, string];
  assert.equal(s, createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url'));
});

test('for any secret, user id and clock, mint() is the SDK createToken byte for byte', () => {
  // ASCII secrets of every length around the 64-byte block (longer ones are hashed first), and
  // non-ASCII ones.
  const secrets = fc.oneof(
    fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 130 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
  );
  fc.assert(
    fc.property(
      secrets,
      fc.stringMatching(/^[A-Za-z0-9@_-]{1,64}$/),
      fc.integer({ min: 1_000_000_000_000, max: 4_000_000_000_000 }),
      fc.integer({ min: 1, max: 100_000 }),
      fc.integer({ min: 0, max: 60 }),
      (secret, userId, nowMs, ttlSeconds, backdateSeconds) => {
        const minted = new StreamTokenMinter({ apiSecret: secret, ttlSeconds, backdateSeconds, now: () => nowMs }).mint(userId);
        const iat = Math.floor(nowMs / 1000) - backdateSeconds;
        assert.equal(minted.token, new StreamChat('test-key', secret).createToken(userId, iat + ttlSeconds, iat));
        assert.equal(minted.token, signStreamToken(createSecretKey(Buffer.from(secret, 'utf8')), userId, iat + ttlSeconds, iat));
        assert.deepEqual(
          { userId: minted.userId, issuedAt: minted.issuedAt, expiresAt: minted.expiresAt, expiresAtIso: minted.expiresAtIso },
          { userId, issuedAt: iat, expiresAt: iat + ttlSeconds, expiresAtIso: new Date((iat + ttlSeconds) * 1000).toISOString() },
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('one minter follows its clock from second to second, forwards and back', () => {
  let now = 1_800_000_000_999;
  const minter = new StreamTokenMinter({ apiSecret: SECRET, ttlSeconds: 600, now: () => now });
  for (const step of [0, 1, 1000, 1, 0, -1500, 3_600_000, 999]) {
    now += step;
    const minted = minter.mint('carol');
    const iat = Math.floor(now / 1000) - 5;
    assert.equal(minted.token, sdk.createToken('carol', iat + 600, iat), `at ${now}`);
    assert.equal(minted.expiresAt, iat + 600);
    assert.equal(minted.expiresAtIso, new Date((iat + 600) * 1000).toISOString());
    assert.deepEqual(decode(minted.token.split('.')[1]!), { user_id: 'carol', exp: iat + 600, iat });
  }
});

test('the minter refuses an empty secret or a non-positive lifetime', () => {
  assert.throws(() => new StreamTokenMinter({ apiSecret: '', ttlSeconds: 60 }), /apiSecret/);
  assert.throws(() => new StreamTokenMinter({ apiSecret: SECRET, ttlSeconds: 0 }), /ttlSeconds/);
});

test('revocationCutoff revokes every token minted up to that second and none minted from the next second', () => {
  // Stream refuses a user token whose iat is before revoke_tokens_issued_before.
  const revoked = (iat: number, cutoff: Date): boolean => iat * 1000 < cutoff.getTime();
  const second = 1_800_000_000;
  for (const backdateSeconds of [0, 1, 5, 30]) {
    for (const atMs of [second * 1000, second * 1000 + 1, second * 1000 + 500, second * 1000 + 999]) {
      let now = 0;
      const minter = new StreamTokenMinter({ apiSecret: SECRET, ttlSeconds: 600, backdateSeconds, now: () => now });
      const cutoff = minter.revocationCutoff(atMs);
      const label = `backdate ${backdateSeconds}, at ${atMs}`;
      for (const mintedAt of [atMs, second * 1000, second * 1000 + 999, (second - 1) * 1000, (second - 3600) * 1000]) {
        now = mintedAt;
        assert.ok(revoked(minter.mint('dave').issuedAt, cutoff), `${label}: minted at ${mintedAt} survives`);
      }
      for (const mintedAt of [(second + 1) * 1000, (second + 1) * 1000 + 999, (second + 60) * 1000]) {
        now = mintedAt;
        assert.ok(!revoked(minter.mint('dave').issuedAt, cutoff), `${label}: minted at ${mintedAt} is revoked`);
      }
      assert.equal(cutoff.getTime() % 1000, 0, 'a whole second');
    }
  }
});
