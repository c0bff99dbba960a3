/**
 * Differential test: the hand-written verifier must agree with jose's
 * `jwtVerify` + `createLocalJWKSet` on which tokens to accept, and on the
 * payload of accepted ones.
 *
 * Our verifier is deliberately stricter than jose in a few places. Those
 * rules are kept out of the generated inputs below (each generator says
 * which), because there the two are expected to differ, and they are covered
 * by the hostile-token corpus instead:
 *  - canonical base64url only (jose's decoder tolerates non-canonical final
 *    characters, so the same signed bytes have several spellings): mutations
 *    flip *decoded* bytes and re-encode canonically;
 *  - header `typ` must be JWT (or at+jwt for OIDC), `cat` is refused, any
 *    `crit` or `b64` is refused (jose accepts recognised `crit`): headers are
 *    generated with `typ: "JWT"` or none, and never `cat`, `crit` or `b64`;
 *  - `exp` is required and must be finite (jose accepts `exp: 1e400`, i.e.
 *    Infinity): jose is given `requiredClaims: ['exp']` and times are finite;
 *  - `iat` in the future is refused (jose checks it only with `maxTokenAge`):
 *    jose is given a ten-year `maxTokenAge` and every token carries `iat`;
 *  - the user id claim must be 1-255 characters of [A-Za-z0-9@_-], `azp`,
 *    `sts` and `act` have rules jose does not know: `sub` is always a valid
 *    id and those claims are never generated;
 *  - tokens longer than 8192 characters are refused: generated tokens are
 *    small;
 *  - an RSA signature must be exactly the modulus length (OpenSSL tolerates
 *    a signature missing leading zero bytes): signatures are only truncated
 *    from the end, which no verifier accepts.
 */
import assert from 'node:assert/strict';
import { type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { SessionTokenError } from '../../src/identity/errors.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import type { AsymmetricAlgorithm } from '../../src/identity/types.js';
import {
  NOW_MS,
  NOW_S,
  b64u,
  defaultTiming,
  ecKeyPair,
  ed25519KeyPair,
  issuerOptions,
  jsonResponse,
  memoryFetch,
  publicJwk,
  rsaKeyPair,
  segment,
  signature,
  type KeyPair,
} from '../support/identity.js';

const ISSUER = 'https://tenant.example.test';
const AUDIENCE = 'stream-token-service';
const SKEW = 30;
const ALGORITHMS: AsymmetricAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'];

const rsa = rsaKeyPair();
const ec = ecKeyPair();
const ed = ed25519KeyPair();
const ed2 = ed25519KeyPair();
const rsa384 = rsaKeyPair();
const ec2 = ecKeyPair();
const stranger = rsaKeyPair();

/**
 * `rsa` has no `alg`, so it serves RS256 and PS256; `ed` has none either, so
 * it serves EdDSA and Ed25519, while `ed-2` is restricted to Ed25519, which
 * makes a kid-less Ed25519 token ambiguous; `rsa-384` is restricted to an
 * algorithm nobody allows; `ec-2` has no `alg`, which makes a kid-less ES256
 * token ambiguous.
 */
const JWKS: JSONWebKeySet = {
  keys: [
    publicJwk(rsa.publicKey, { kid: 'rsa' }),
    publicJwk(ec.publicKey, { kid: 'ec', alg: 'ES256', use: 'sig' }),
    publicJwk(ed.publicKey, { kid: 'ed' }),
    publicJwk(ed2.publicKey, { kid: 'ed-2', alg: 'Ed25519' }),
    publicJwk(rsa384.publicKey, { kid: 'rsa-384', alg: 'RS384' }),
    publicJwk(ec2.publicKey, { kid: 'ec-2' }),
  ] as JSONWebKeySet['keys'],
};

const SIGNERS: Record<AsymmetricAlgorithm, { key: KeyPair; kid: string } | undefined> = {
  RS256: { key: rsa, kid: 'rsa' },
  PS256: { key: rsa, kid: 'rsa' },
  ES256: { key: ec, kid: 'ec' },
  EdDSA: { key: ed, kid: 'ed' },
  Ed25519: { key: ed2, kid: 'ed-2' },
  RS384: undefined,
  RS512: undefined,
  PS384: undefined,
  PS512: undefined,
  ES384: undefined,
  ES512: undefined,
};

type Mutation =
  | { kind: 'none' }
  | { kind: 'flip'; part: 0 | 1 | 2; index: number; bit: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'alg'; alg: string; resign: boolean }
  | { kind: 'kid'; kid: string | null }
  | { kind: 'stranger' };

interface Case {
  alg: AsymmetricAlgorithm;
  typ: boolean;
  payload: Record<string, unknown>;
  mutation: Mutation;
  clockShift: number;
}

const offset = fc.oneof(fc.integer({ min: -SKEW - 3, max: SKEW + 3 }), fc.integer({ min: -5000, max: 5000 }), fc.double({ min: -100, max: 100, noNaN: true }));
const userId = fc.stringMatching(/^[A-Za-z0-9@_-]{1,40}$/);
const RESERVED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'azp', 'sts', 'act', '__proto__']);
const extraClaims = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 8 }).filter((key) => !RESERVED.has(key)),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 4 },
);

const toClaims = ({
  extra,
  iat,
  nbf,
  exp,
  ...rest
}: {
  extra: Record<string, unknown>;
  iat: number;
  nbf?: number;
  exp: number;
  [claim: string]: unknown;
}): Record<string, unknown> => {
  const claims: Record<string, unknown> = { ...extra, ...rest, iat: NOW_S + iat, exp: NOW_S + exp };
  if (nbf !== undefined) claims['nbf'] = NOW_S + nbf;
  return claims;
};

/** Anything goes: issuer, audience and every time claim vary on both sides of the limits. */
const wildPayload = fc
  .record(
    {
      iss: fc.constantFrom(ISSUER, ISSUER, ISSUER, `${ISSUER}/`, 'https://other.example.test'),
      sub: userId,
      aud: fc.constantFrom<unknown>(AUDIENCE, [AUDIENCE], ['other', AUDIENCE], 'other', [], ['other']),
      iat: offset,
      nbf: offset,
      exp: offset,
      extra: extraClaims,
    },
    { requiredKeys: ['iss', 'sub', 'iat', 'exp', 'extra'] },
  )
  .map(toClaims);

/** Mostly plausible claims, so that accepted tokens are common enough to compare payloads. */
const plausiblePayload = fc
  .record(
    {
      iss: fc.constant(ISSUER),
      sub: userId,
      aud: fc.constantFrom<unknown>(AUDIENCE, [AUDIENCE], ['other', AUDIENCE]),
      iat: fc.integer({ min: -600, max: SKEW + 2 }),
      nbf: fc.integer({ min: -600, max: SKEW + 2 }),
      exp: fc.integer({ min: -SKEW - 2, max: 3600 }),
      extra: extraClaims,
    },
    { requiredKeys: ['iss', 'sub', 'aud', 'iat', 'exp', 'extra'] },
  )
  .map(toClaims);

const payload = fc.oneof({ weight: 2, arbitrary: wildPayload }, { weight: 3, arbitrary: plausiblePayload });

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  fc.record({
    kind: fc.constant('flip' as const),
    part: fc.constantFrom(0 as const, 1 as const, 2 as const),
    index: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('alg' as const),
    alg: fc.constantFrom('RS256', 'PS256', 'ES256', 'EdDSA', 'RS384', 'HS256', 'none', 'Ed25519'),
    resign: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('kid' as const), kid: fc.constantFrom<string | null>(null, 'rsa', 'ec', 'ed', 'ed-2', 'rsa-384', 'ec-2', 'unknown') }),
  fc.constant<Mutation>({ kind: 'stranger' }),
);

const testCase: fc.Arbitrary<Case> = fc.record({
  alg: fc.constantFrom(...ALGORITHMS),
  typ: fc.boolean(),
  payload,
  mutation,
  clockShift: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3600, max: 3600 }) }),
});

function build(testCase: Case): string {
  const signer = SIGNERS[testCase.alg]!;
  const header: Record<string, unknown> = { alg: testCase.alg, kid: signer.kid };
  if (testCase.typ) header['typ'] = 'JWT';
  let signWith: KeyObject = signer.key.privateKey;
  let signAs: AsymmetricAlgorithm = testCase.alg;
  const m = testCase.mutation;
  if (m.kind === 'alg') {
    header['alg'] = m.alg;
    // Re-signing under the new algorithm uses its natural key but keeps the original kid.
    const natural = SIGNERS[m.alg as AsymmetricAlgorithm];
    if (m.resign && natural) {
      signWith = natural.key.privateKey;
      signAs = m.alg as AsymmetricAlgorithm;
    }
  } else if (m.kind === 'kid') {
    if (m.kid === null) delete header['kid'];
    else header['kid'] = m.kid;
  } else if (m.kind === 'stranger') {
    if (signAs === 'RS256' || signAs === 'PS256') signWith = stranger.privateKey;
    else signWith = (signAs === 'ES256' ? ecKeyPair() : ed25519KeyPair()).privateKey;
  }
  const parts = [segment(header), segment(testCase.payload)];
  let sig = signature(signAs, signWith, `${parts[0]}.${parts[1]}`);
  if (m.kind === 'truncate') sig = sig.subarray(0, m.keep % sig.length);
  const bytes = [Buffer.from(parts[0]!, 'base64url'), Buffer.from(parts[1]!, 'base64url'), Buffer.from(sig)];
  if (m.kind === 'flip') {
    const target = bytes[m.part]!;
    target[m.index % target.length]! ^= 1 << m.bit;
  }
  return bytes.map((part) => b64u(part)).join('.');
}

describe('differential: SessionVerifier vs jose', () => {
  let now = NOW_MS;
  let verifier: SessionVerifier;
  const joseKeys = createLocalJWKSet(JWKS);

  before(async () => {
    verifier = new SessionVerifier({
      issuers: [
        issuerOptions({
          kind: 'oidc',
          issuer: ISSUER,
          jwksUri: 'https://tenant.example.test/.well-known/jwks.json',
          algorithms: ALGORITHMS,
          audience: [AUDIENCE],
        }),
      ],
      // Keys never go stale here: the comparison is about tokens, not caching.
      keySetTiming: defaultTiming({ cacheTtlSeconds: 1e6, maxStaleSeconds: 1e9, cooldownSeconds: 0 }),
      clockSkewSeconds: SKEW,
      now: () => now,
      fetch: memoryFetch(() => jsonResponse(JWKS)),
    });
    await verifier.start();
    assert.equal(verifier.isReady(), true);
  });

  after(() => verifier.close());

  async function ours(token: string): Promise<{ ok: true; payload: unknown } | { ok: false; code: string }> {
    try {
      return { ok: true, payload: (await verifier.verify(token)).claims };
    } catch (error) {
      assert.ok(error instanceof SessionTokenError, `verify threw a non-SessionTokenError: ${String(error)}`);
      return { ok: false, code: error.code };
    }
  }

  async function theirs(token: string): Promise<{ ok: true; payload: unknown } | { ok: false; code: string }> {
    try {
      const result = await jwtVerify(token, joseKeys, {
        algorithms: ALGORITHMS,
        issuer: ISSUER,
        audience: AUDIENCE,
        clockTolerance: SKEW,
        currentDate: new Date(now),
        requiredClaims: ['exp'],
        maxTokenAge: 10 * 365 * 86_400,
      });
      return { ok: true, payload: result.payload };
    } catch (error) {
      return { ok: false, code: (error as { code?: string }).code ?? String(error) };
    }
  }

  it('agrees with jose on generated tokens and mutations (RS256, PS256, ES256, EdDSA, Ed25519)', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(testCase, async (c) => {
        now = NOW_MS + c.clockShift * 1000;
        const token = build(c);
        const [a, b] = await Promise.all([ours(token), theirs(token)]);
        assert.equal(a.ok, b.ok, `ours: ${JSON.stringify(a)} jose: ${JSON.stringify(b)}`);
        if (a.ok && b.ok) {
          accepted++;
          assert.deepStrictEqual({ ...(a.payload as object) }, b.payload);
        }
      }),
      // As many runs per algorithm whatever the number of algorithms.
      { numRuns: 125 * ALGORITHMS.length, seed: Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31) },
    );
    // The generators must exercise both outcomes, or agreement proves nothing.
    assert.ok(accepted >= 50, `only ${accepted} accepted tokens`);
  });

  it('agrees on unmutated, in-date tokens of every algorithm', async () => {
    now = NOW_MS;
    for (const alg of ALGORITHMS) {
      const token = build({
        alg,
        typ: true,
        payload: { iss: ISSUER, sub: 'user_1', aud: AUDIENCE, iat: NOW_S, exp: NOW_S + 60 },
        mutation: { kind: 'none' },
        clockShift: 0,
      });
      const [a, b] = await Promise.all([ours(token), theirs(token)]);
      assert.equal(a.ok, true, `${alg}: ${JSON.stringify(a)}`);
      assert.equal(b.ok, true, `${alg}: ${JSON.stringify(b)}`);
    }
  });

  describe('deliberately stricter than jose', () => {
    const baseClaims = { iss: ISSUER, sub: 'user_1', aud: AUDIENCE, iat: NOW_S, exp: NOW_S + 60 };
    const sign = (header: Record<string, unknown>, payload: unknown): string => {
      const input = `${segment(header)}.${segment(payload)}`;
      return `${input}.${b64u(signature('RS256', rsa.privateKey, input))}`;
    };
    const cases: Array<[string, () => string, string]> = [
      [
        'non-canonical base64url spelling of a valid token',
        () => {
          const token = sign({ alg: 'RS256', kid: 'rsa' }, baseClaims);
          const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
          return token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) | 1];
        },
        'malformed_token',
      ],
      ['exp of 1e400 (Infinity)', () => sign({ alg: 'RS256', kid: 'rsa' }, JSON.stringify(baseClaims).replace(/"exp":\d+/, '"exp":1e400')), 'malformed_token'],
      ['crit naming b64 with b64 true', () => sign({ alg: 'RS256', kid: 'rsa', crit: ['b64'], b64: true }, baseClaims), 'malformed_token'],
      ['typ other than JWT', () => sign({ alg: 'RS256', kid: 'rsa', typ: 'secevent+jwt' }, baseClaims), 'unsupported_token_type'],
      ["user id outside Stream's alphabet", () => sign({ alg: 'RS256', kid: 'rsa' }, { ...baseClaims, sub: 'user 1' }), 'invalid_subject'],
    ];
    for (const [name, token, code] of cases) {
      it(`refuses ${name}`, async () => {
        now = NOW_MS;
        const result = await ours(token());
        assert.deepEqual(result, { ok: false, code });
      });
    }
  });
});
