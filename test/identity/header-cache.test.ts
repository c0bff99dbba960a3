import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { SessionTokenError } from '../../src/identity/errors.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import { HEADER_CACHE_SIZE, MAX_CACHED_HEADER_LENGTH } from '../../src/identity/header-cache.js';
import type { IssuerOptions } from '../../src/identity/types.js';
import {
  NOW_S,
  TestClock,
  b64u,
  defaultTiming,
  ecKeyPair,
  issuerOptions,
  jsonResponse,
  memoryFetch,
  publicJwk,
  rsaKeyPair,
  segment,
  signToken,
} from '../support/identity.js';

/**
 * The verifier remembers what it read from each header segment. These tests
 * hold it to deciding exactly as it would without that memory.
 */

const CLERK = 'https://clerk.example.test';
const OIDC = 'https://login.example.test';
const rsa = rsaKeyPair();
const ec = ecKeyPair();

const header = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ alg: 'RS256', kid: 'rsa-1', typ: 'JWT', ...extra });
const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: CLERK,
  sub: 'user_2abc',
  iat: NOW_S - 10,
  exp: NOW_S + 60,
  ...extra,
});
const signed = (h: unknown = header(), p: unknown = claims()): string => signToken(h, p, rsa.privateKey, 'RS256');

const jwks = { keys: [publicJwk(rsa.publicKey, { kid: 'rsa-1', alg: 'RS256' }), publicJwk(ec.publicKey, { kid: 'ec-1', alg: 'ES256' })] };
const verifiers: SessionVerifier[] = [];
after(() => {
  for (const verifier of verifiers) verifier.close();
});

/** Both issuers serve the same JWKS from memory: no network. */
function newVerifier(): SessionVerifier {
  const common = { jwksUri: 'https://keys.example.test/jwks.json', algorithms: ['RS256', 'ES256'] } satisfies Partial<IssuerOptions>;
  const verifier = new SessionVerifier({
    issuers: [
      issuerOptions({ ...common, kind: 'clerk', issuer: CLERK, subjectPrefix: 'user_' }),
      issuerOptions({ ...common, kind: 'oidc', issuer: OIDC, userIdPrefix: 'oidc_' }),
    ],
    keySetTiming: defaultTiming(),
    clockSkewSeconds: 5,
    now: new TestClock().now,
    fetch: memoryFetch(() => jsonResponse(jwks)),
  });
  verifiers.push(verifier);
  return verifier;
}

type Outcome = { ok: true; userId: string } | { ok: false; code: string; message: string };

async function outcome(verifier: SessionVerifier, token: string): Promise<Outcome> {
  try {
    return { ok: true, userId: (await verifier.verify(token)).userId };
  } catch (error) {
    assert.ok(error instanceof SessionTokenError, `not a SessionTokenError: ${String(error)}`);
    return { ok: false, code: error.code, message: error.message };
  }
}

/** Headers that differ from the common one in a single member, each refused or accepted on its own terms. */
const HEADER_VARIANTS: Array<Record<string, unknown> | string> = [
  header({ alg: 'none' }),
  header({ alg: 'HS256' }),
  header({ alg: 'PS256' }),
  header({ alg: 'RS256 ' }),
  header({ alg: 256 }),
  header({ kid: 7 }),
  header({ kid: null }),
  header({ typ: 'at+jwt' }),
  header({ typ: 'JOSE' }),
  header({ typ: 1 }),
  header({ typ: 'application/JWT' }),
  header({ cat: 'cl_B7d4PD333AAA' }),
  header({ cat: 'cl_B7d4PD111AAA' }),
  header({ cat: ['cl_B7d4PD111AAA'] }),
  header({ crit: ['exp'] }),
  header({ b64: true }),
  header({ jwk: { kty: 'oct', k: 'AAAA' } }),
  { kid: 'rsa-1', typ: 'JWT' },
  { alg: 'ES256', kid: 'ec-1', typ: 'JWT' },
  '[]',
  'null',
  '{"alg":"RS256","alg":"none"}',
  '{"alg":"none","alg":"RS256","kid":"rsa-1"}',
  '{"__proto__":{"alg":"RS256"},"kid":"rsa-1"}',
  '{"alg":"RS256"',
  `\uFEFF${JSON.stringify(header())}`,
];

describe('header cache', () => {
  it('a remembered header never lets a token with a different header through', async () => {
    const verifier = newVerifier();
    const good = signed();
    assert.deepEqual(await outcome(verifier, good), { ok: true, userId: 'user_2abc' });
    for (const variant of HEADER_VARIANTS) {
      const token = signed(variant);
      const fresh = await outcome(newVerifier(), token);
      assert.deepEqual(await outcome(verifier, token), fresh, JSON.stringify(variant));
      // Seen twice (a second look may be served from memory): still the same answer.
      assert.deepEqual(await outcome(verifier, token), fresh, JSON.stringify(variant));
      assert.deepEqual(await outcome(verifier, good), { ok: true, userId: 'user_2abc' });
    }
    // The variants above that are refused for their header must be refused.
    assert.deepEqual(await outcome(verifier, signed(header({ alg: 'none' }))), {
      ok: false,
      code: 'invalid_signature',
      message: 'The token signing algorithm is not allowed.',
    });
  });

  it('checks that depend on the issuer run for every token, whoever sent the header first', async () => {
    const h = header({ typ: 'at+jwt' });
    for (const order of [
      [OIDC, CLERK],
      [CLERK, OIDC],
    ]) {
      const verifier = newVerifier();
      for (const iss of order) {
        const result = await outcome(verifier, signed(h, claims({ iss })));
        if (iss === OIDC) assert.deepEqual(result, { ok: true, userId: 'oidc_user_2abc' });
        else assert.equal(result.ok === false && result.code, 'unsupported_token_type');
      }
    }
  });

  it('decides every token as a verifier that never saw its header would, errors and their order included', async () => {
    const seen = newVerifier();
    const headers = fc.oneof(
      fc.constantFrom(...HEADER_VARIANTS, header()),
      fc.record(
        {
          alg: fc.constantFrom('RS256', 'ES256', 'none', 'PS256'),
          kid: fc.constantFrom('rsa-1', 'ec-1', undefined),
          typ: fc.constantFrom('JWT', 'at+jwt', undefined),
        },
        { requiredKeys: ['alg'] },
      ),
    );
    const payloads = fc.oneof(
      fc.constant<unknown>(claims()),
      fc.constant<unknown>(claims({ iss: OIDC })),
      fc.constant<unknown>(claims({ iss: 'https://evil.example.test' })),
      fc.constant<unknown>(claims({ exp: NOW_S - 3600 })),
      fc.constant<unknown>('{"iss":'),
      fc.constant<unknown>('[]'),
      fc.constant<unknown>({ sub: 'user_2abc', exp: NOW_S + 60 }),
    );
    await fc.assert(
      fc.asyncProperty(headers, payloads, fc.boolean(), async (h, p, ecSigned) => {
        const token = ecSigned ? signToken(h, p, ec.privateKey, 'ES256') : signed(h, p);
        const expected = await outcome(newVerifier(), token);
        assert.deepEqual(await outcome(seen, token), expected);
        assert.deepEqual(await outcome(seen, token), expected);
      }),
      { numRuns: 300 },
    );
  });

  it('reads the payload before judging the header members, remembered or not', async () => {
    const verifier = newVerifier();
    // A header that is JSON but has no usable alg, with a payload that is not JSON: the payload is named.
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await outcome(verifier, signed({ kid: 'rsa-1' }, '{"iss":')), {
        ok: false,
        code: 'malformed_token',
        message: 'The token payload is not valid JSON.',
      });
      assert.deepEqual(await outcome(verifier, signed(header(), '{"iss":')), {
        ok: false,
        code: 'malformed_token',
        message: 'The token payload is not valid JSON.',
      });
      assert.deepEqual(await outcome(verifier, signed({ kid: 'rsa-1' })), {
        ok: false,
        code: 'malformed_token',
        message: 'The token header has no valid "alg".',
      });
    }
  });

  it('refuses a non-canonical spelling of a remembered header segment', async () => {
    const verifier = newVerifier();
    const good = signed();
    await verifier.verify(good);
    const [h, p, s] = good.split('.') as [string, string, string];
    assert.notEqual(h.length % 4, 0);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const variant = h.slice(0, -1) + alphabet[alphabet.indexOf(h.at(-1)!) | 1];
    assert.equal(Buffer.from(variant, 'base64url').equals(Buffer.from(h, 'base64url')), true);
    const result = await outcome(verifier, `${variant}.${p}.${s}`);
    assert.equal(result.ok === false && result.code, 'malformed_token');
  });

  it('stays bounded, keeps only headers that passed the header checks, and skips very long ones', async () => {
    const verifier = newVerifier();
    assert.equal(verifier.cachedHeaderCount, 0);
    for (let i = 0; i < HEADER_CACHE_SIZE * 3; i++) {
      await verifier.verify(signed(header({ n: i })));
      assert.equal(verifier.cachedHeaderCount, Math.min(i + 1, HEADER_CACHE_SIZE));
    }
    // The newest are kept: a header seen just now is still decided the same (and accepted).
    await verifier.verify(signed(header({ n: HEADER_CACHE_SIZE * 3 - 1 })));

    const small = newVerifier();
    for (const refused of [header({ kid: 1 }), header({ alg: 1 }), header({ typ: null }), '[]', '{"alg":']) {
      await assert.rejects(small.verify(signed(refused)), SessionTokenError);
    }
    assert.equal(small.cachedHeaderCount, 0, 'headers refused on their own are not kept');
    const long = header({ pad: 'x'.repeat(MAX_CACHED_HEADER_LENGTH) });
    assert.ok(segment(long).length > MAX_CACHED_HEADER_LENGTH);
    assert.equal((await small.verify(signed(long))).userId, 'user_2abc');
    assert.equal(small.cachedHeaderCount, 0, 'a header segment over the length limit is not kept');
    // Headers kept but the token refused later (here: wrong issuer) still count once.
    await assert.rejects(small.verify(signed(header(), claims({ iss: 'https://evil.example.test' }))), SessionTokenError);
    await small.verify(signed());
    assert.equal(small.cachedHeaderCount, 1);
  });

  it('a header segment that decodes to invalid UTF-8 is refused, never remembered', async () => {
    const verifier = newVerifier();
    const badHeader = b64u(Buffer.concat([Buffer.from('{"alg":"RS256","kid":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]));
    const input = `${badHeader}.${segment(claims())}`;
    const token = `${input}.${signed().split('.')[2]}`;
    for (let i = 0; i < 2; i++) {
      const result = await outcome(verifier, token);
      assert.deepEqual(result, { ok: false, code: 'malformed_token', message: 'The token header is not valid JSON.' });
    }
    assert.equal(verifier.cachedHeaderCount, 0);
  });
});
