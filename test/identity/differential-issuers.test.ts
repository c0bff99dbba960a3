/**
 * Differential fuzz over a three-issuer configuration: our verifier against
 * jose's `jwtVerify` given each issuer's equivalent settings (issuer,
 * audience, algorithms, `typ`), plus the claim rules jose has no setting for,
 * spelled out independently below (`extraRules`). Two properties, per case:
 *   1. nothing is accepted that jose refuses;
 *   2. the verdict equals jose's plus those rules, and an accepted token
 *      yields exactly the namespaced user id the rules say.
 * `FUZZ_CASES` sets the count (default 20,000) and `FC_SEED` replays a run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyOptions } from 'jose';
import { SessionTokenError } from '../../src/identity/errors.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import type { AsymmetricAlgorithm, IssuerOptions } from '../../src/identity/types.js';
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

const CASES = Number(process.env['FUZZ_CASES'] ?? 20_000);
const SKEW = 10;

interface Party {
  options: IssuerOptions;
  keys: Partial<Record<AsymmetricAlgorithm, { pair: KeyPair; kid: string }>>;
  /** jose's settings for this issuer. */
  jose: JWTVerifyOptions;
}

const rsa = rsaKeyPair();
const ec = ecKeyPair();
const ed = ed25519KeyPair();
const rsaC = rsaKeyPair();

const PARTIES: Party[] = [
  {
    options: issuerOptions({
      kind: 'clerk',
      issuer: 'https://clerk.example.test',
      jwksUri: 'https://clerk.example.test/jwks',
      algorithms: ['RS256'],
      authorizedParties: ['https://app.example'],
      subjectPrefix: 'user_',
    }),
    keys: { RS256: { pair: rsa, kid: 'ins_1' } },
    jose: { issuer: 'https://clerk.example.test', algorithms: ['RS256'], typ: 'JWT' },
  },
  {
    options: issuerOptions({
      kind: 'oidc',
      issuer: 'https://idp-b.example.test/',
      jwksUri: 'https://idp-b.example.test/jwks',
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      audience: ['chat'],
      authorizedParties: [],
      userIdPrefix: 'b_',
    }),
    keys: { RS256: { pair: rsa, kid: 'b-rsa' }, PS256: { pair: rsa, kid: 'b-rsa' }, ES256: { pair: ec, kid: 'b-ec' }, EdDSA: { pair: ed, kid: 'b-ed' } },
    jose: { issuer: 'https://idp-b.example.test/', algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'], audience: 'chat' },
  },
  {
    options: issuerOptions({
      kind: 'oidc',
      issuer: 'https://idp-c.example.test',
      jwksUri: 'https://idp-c.example.test/jwks',
      algorithms: ['PS256', 'ES256'],
      audience: ['api-c'],
      authorizedParties: ['client-1'],
      tokenTypes: ['at+jwt'],
      allowMachineTokens: true,
      userIdPrefix: 'c_',
    }),
    keys: { PS256: { pair: rsaC, kid: 'c-rsa' }, ES256: { pair: ec, kid: 'c-ec' } },
    jose: { issuer: 'https://idp-c.example.test', algorithms: ['PS256', 'ES256'], audience: 'api-c', typ: 'at+jwt' },
  },
];

/** Each key once: RS256 and PS256 share one RSA key under one kid. */
const jwksOf = (party: Party): JSONWebKeySet => ({
  keys: [...new Map(Object.values(party.keys).map((k) => [k.kid, publicJwk(k.pair.publicKey, { kid: k.kid })])).values()] as JSONWebKeySet['keys'],
});

const own = (o: Record<string, unknown>, name: string): unknown => (Object.hasOwn(o, name) ? o[name] : undefined);

/** The rules jose has no option for, written from the documentation of each issuer kind. */
function extraRules(party: Party, header: Record<string, unknown>, claims: Record<string, unknown>): { ok: boolean; userId?: string } {
  const o = party.options;
  const typ = typeof header['typ'] === 'string' ? header['typ'].toLowerCase().replace(/^application\//, '') : header['typ'];
  if (o.kind === 'oidc' && o.tokenTypes === undefined && typ !== undefined && typ !== 'jwt' && typ !== 'at+jwt') return { ok: false };
  const sub = own(claims, 'sub');
  if (o.kind === 'clerk') {
    const azp = own(claims, 'azp');
    if (azp !== undefined && !(typeof azp === 'string' && o.authorizedParties.includes(azp))) return { ok: false };
  } else {
    if (o.authorizedParties.length > 0) {
      const aud = own(claims, 'aud');
      const party =
        own(claims, 'azp') ?? own(claims, 'client_id') ?? (Array.isArray(aud) && aud.length === 1 ? aud[0] : typeof aud === 'string' ? aud : undefined);
      if (typeof party !== 'string' || !o.authorizedParties.includes(party)) return { ok: false };
    }
    const machine =
      own(claims, 'gty') === 'client-credentials' ||
      (typeof sub === 'string' && (sub.endsWith('@clients') || own(claims, 'client_id') === sub || own(claims, 'azp') === sub));
    if (machine && o.allowMachineTokens !== true) return { ok: false };
  }
  if (own(claims, 'sts') === 'pending' || (own(claims, 'act') !== undefined && own(claims, 'act') !== null)) return { ok: false };
  if (typeof sub !== 'string') return { ok: false };
  if (o.subjectPrefix !== undefined && !(sub.startsWith(o.subjectPrefix) && sub.length > o.subjectPrefix.length)) return { ok: false };
  const userId = (o.userIdPrefix ?? '') + sub;
  if (userId.length > 255 || !/^[A-Za-z0-9@_-]+$/.test(userId)) return { ok: false };
  return { ok: true, userId };
}

interface Case {
  party: number;
  /** -1: the party's own issuer; another party's, or one nobody trusts. */
  issOf: number | 'other';
  alg: AsymmetricAlgorithm;
  typ: string | null;
  claims: Record<string, unknown>;
  mutation: 'none' | 'flip' | 'stranger' | 'kid' | 'swap-alg';
  flipAt: number;
}

const rare = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 6 });
const sometimes = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });

/** Claims near each issuer's rules, so that both verdicts are common; every rule is crossed now and then. */
function claimsFor(party: number): fc.Arbitrary<Record<string, unknown>> {
  const plausibleAud = party === 2 ? 'api-c' : 'chat';
  return fc
    .record({
      sub: fc.oneof(
        { weight: 6, arbitrary: party === 0 ? fc.stringMatching(/^user_[A-Za-z0-9]{1,20}$/) : fc.stringMatching(/^[A-Za-z0-9@_-]{1,24}$/) },
        { weight: 1, arbitrary: fc.constantFrom('svc@clients', 'client-1', 'user_', 'x'.repeat(252), 'x'.repeat(251), 'a b', 'alice') },
      ),
      aud: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom<unknown>(plausibleAud, [plausibleAud]) },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(['api-c', 'chat'], 'other', [], undefined) },
      ),
      azp: sometimes(
        party === 0
          ? fc.constantFrom<unknown>('https://app.example', 'https://app.example', 'https://evil.example', 42)
          : fc.constantFrom<unknown>('client-1', 'client-1', 'client-2'),
      ),
      client_id: sometimes(fc.constantFrom('client-1', 'client-2')),
      gty: rare(fc.constant('client-credentials')),
      sts: rare(fc.constantFrom('active', 'pending')),
      act: rare(fc.constantFrom<unknown>({ sub: 'admin' }, null)),
      iat: fc.integer({ min: -600, max: SKEW + 3 }),
      exp: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 3600 }) }, { weight: 1, arbitrary: fc.integer({ min: -SKEW - 3, max: 0 }) }),
    })
    .map(({ iat, exp, ...rest }) => {
      const claims: Record<string, unknown> = { iat: NOW_S + iat, exp: NOW_S + exp };
      for (const [k, v] of Object.entries(rest)) if (v !== undefined) claims[k] = v;
      return claims;
    });
}

const typFor = (party: number) =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.constantFrom(
        ...(party === 2 ? ['at+jwt', 'application/at+jwt'] : party === 0 ? ['JWT', 'jwt', 'application/JWT'] : ['JWT', 'at+jwt', null]),
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom('JWT', 'at+jwt', 'secevent+jwt', null) },
  );

const caseArb: fc.Arbitrary<Case> = fc.integer({ min: 0, max: 2 }).chain((party) =>
  fc.record({
    party: fc.constant(party),
    issOf: fc.oneof(
      { weight: 12, arbitrary: fc.constant<number | 'other'>(-1) },
      { weight: 1, arbitrary: fc.constantFrom<number | 'other'>(0, 1, 2, 'other') },
    ),
    alg: fc.constantFrom<AsymmetricAlgorithm>('ES256', 'ES256', 'EdDSA', 'EdDSA', 'RS256', 'PS256'),
    typ: typFor(party),
    claims: claimsFor(party),
    mutation: fc.oneof(
      { weight: 8, arbitrary: fc.constant<Case['mutation']>('none') },
      { weight: 1, arbitrary: fc.constantFrom<Case['mutation']>('flip', 'stranger', 'kid', 'swap-alg') },
    ),
    flipAt: fc.nat(),
  }),
);

/** Keys nobody publishes, made once: generating an RSA key per case would dominate the run. */
const STRANGERS: Partial<Record<AsymmetricAlgorithm, KeyPair>> = { ES256: ecKeyPair(), EdDSA: ed25519KeyPair(), RS256: rsaKeyPair(), PS256: rsaKeyPair() };

function build(c: Case): { token: string; header: Record<string, unknown> } {
  const party = PARTIES[c.party]!;
  const keys = Object.entries(party.keys) as Array<[AsymmetricAlgorithm, { pair: KeyPair; kid: string }]>;
  const [alg, signer] = keys.find(([a]) => a === c.alg) ?? keys[c.flipAt % keys.length]!;
  const header: Record<string, unknown> = { alg, kid: signer.kid };
  if (c.typ !== null) header['typ'] = c.typ;
  const iss = c.issOf === 'other' ? 'https://other.example.test' : PARTIES[c.issOf === -1 ? c.party : c.issOf]!.options.issuer;
  let key = signer.pair.privateKey;
  if (c.mutation === 'stranger') key = STRANGERS[alg]!.privateKey;
  if (c.mutation === 'kid') header['kid'] = PARTIES[(c.party + 1) % 3]!.keys.ES256?.kid ?? 'nope';
  if (c.mutation === 'swap-alg') header['alg'] = alg === 'RS256' ? 'PS256' : alg === 'PS256' ? 'RS256' : 'ES256';
  const input = `${segment(header)}.${segment({ iss, ...c.claims })}`;
  const sig = Buffer.from(signature(alg, key, input));
  if (c.mutation === 'flip') sig[c.flipAt % sig.length]! ^= 1 << (c.flipAt % 8);
  return { token: `${input}.${b64u(sig)}`, header };
}

describe(`differential: three issuers' rules vs jose (${CASES} cases)`, () => {
  let verifier: SessionVerifier;
  const joseKeys = new Map(PARTIES.map((p) => [p.options.issuer, createLocalJWKSet(jwksOf(p))]));

  before(async () => {
    verifier = new SessionVerifier({
      issuers: PARTIES.map((p) => p.options),
      keySetTiming: defaultTiming({ cacheTtlSeconds: 1e6, maxStaleSeconds: 1e9, cooldownSeconds: 0 }),
      clockSkewSeconds: SKEW,
      now: () => NOW_MS,
      fetch: memoryFetch((url) => jsonResponse(jwksOf(PARTIES.find((p) => p.options.jwksUri === url)!))),
    });
    await verifier.start();
  });

  after(() => verifier.close());

  it('accepts nothing jose refuses, and agrees with jose plus the documented rules', async () => {
    const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const { token, header } = build(c);
        const ours = await verifier.verify(token).then(
          (session) => ({ ok: true as const, userId: session.userId }),
          (error: unknown) => {
            assert.ok(error instanceof SessionTokenError, String(error));
            return { ok: false as const, code: error.code };
          },
        );
        const iss = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iss: string }).iss;
        const party = PARTIES.find((p) => p.options.issuer === iss);
        const joseOk =
          party !== undefined &&
          (await jwtVerify(token, joseKeys.get(iss)!, {
            ...party.jose,
            clockTolerance: SKEW,
            currentDate: new Date(NOW_MS),
            requiredClaims: ['exp'],
            maxTokenAge: 86_400,
          }).then(
            () => true,
            () => false,
          ));
        if (ours.ok) assert.ok(joseOk, `accepted a token jose refuses: ${token}`);
        const expected = joseOk && party !== undefined ? extraRules(party, header, c.claims) : { ok: false };
        assert.equal(ours.ok, expected.ok, `ours ${JSON.stringify(ours)} expected ${JSON.stringify(expected)} for ${JSON.stringify(c)}`);
        if (ours.ok) {
          accepted++;
          assert.equal(ours.userId, expected.userId);
        }
      }),
      { numRuns: CASES, seed },
    );
    assert.ok(accepted >= CASES / 20, `only ${accepted} of ${CASES} accepted: the generators exercise too little`);
  });
});
