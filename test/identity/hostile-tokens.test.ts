import assert from 'node:assert/strict';
import { createHmac, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SessionTokenError, type SessionTokenErrorCode } from '../../src/identity/errors.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import type { IssuerOptions } from '../../src/identity/types.js';
import { NOW_S, TestClock, TestServer, b64u, defaultTiming, ecKeyPair, issuerOptions, publicJwk, rsaKeyPair, segment, signToken } from '../support/identity.js';

const ISSUER = 'https://clerk.example.test';
const STRICT_ISSUER = 'https://login.example.test';
const APP = 'https://app.example.test';

const rsa = rsaKeyPair();
const ec = ecKeyPair();
const attacker = rsaKeyPair();

const jwks = {
  keys: [publicJwk(rsa.publicKey, { kid: 'rsa-1', alg: 'RS256', use: 'sig' }), publicJwk(ec.publicKey, { kid: 'ec-1', alg: 'ES256', use: 'sig' })],
};
const rsaPem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
const rsaN = String(jwks.keys[0]!['n']);

const header = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ alg: 'RS256', kid: 'rsa-1', typ: 'JWT', ...extra });
const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: ISSUER,
  sub: 'user_2abcDEF',
  sid: 'sess_123',
  azp: APP,
  iat: NOW_S - 10,
  nbf: NOW_S - 10,
  exp: NOW_S + 60,
  ...extra,
});
const without = (name: string): Record<string, unknown> => {
  const copy = claims();
  delete copy[name];
  return copy;
};

/** A correctly signed token with the given header and claims. */
const signed = (h: unknown = header(), p: unknown = claims(), key: KeyObject = rsa.privateKey): string => signToken(h, p, key, 'RS256');
const valid = (): string => signed();
const parts = (token: string): [string, string, string] => token.split('.') as [string, string, string];
const hs = (alg: 'HS256' | 'HS512', secret: string | Buffer, h: Record<string, unknown>, p: unknown): string => {
  const input = `${segment(h)}.${segment(p)}`;
  return `${input}.${b64u(
    createHmac(alg === 'HS256' ? 'sha256' : 'sha512', secret)
      .update(input)
      .digest(),
  )}`;
};
const withSignatureOf = (token: string, other: string): string => {
  const [h, p] = parts(token);
  return `${h}.${p}.${parts(other)[2]}`;
};
const noSignature = (h: unknown, p: unknown): string => `${segment(h)}.${segment(p)}.`;
const replaceSignature = (token: string, transform: (sig: string) => string): string => {
  const [h, p, s] = parts(token);
  return `${h}.${p}.${transform(s)}`;
};
/** Same bytes, different text: the character at `index` moved up by U+0100, which the decoder reads by its low byte. */
const lookAlikeAt =
  (index: number) =>
  (encoded: string): string => {
    const lookAlike = String.fromCharCode(0x100 | encoded.charCodeAt(index));
    assert.deepEqual(Buffer.from(encoded.slice(0, index) + lookAlike + encoded.slice(index + 1), 'base64url'), Buffer.from(encoded, 'base64url'));
    return encoded.slice(0, index) + lookAlike + encoded.slice(index + 1);
  };
/** Same bytes, different text: bump the unused low bits of the final character. */
const nonCanonical = (encoded: string): string => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  assert.equal(encoded.length % 4 !== 0, true, 'needs a segment with unused bits');
  const last = alphabet.indexOf(encoded.at(-1)!);
  const variant = encoded.slice(0, -1) + alphabet[last | 1];
  assert.equal(Buffer.from(variant, 'base64url').equals(Buffer.from(encoded, 'base64url')), true);
  return variant;
};
const attackerCertish = b64u(attacker.publicKey.export({ format: 'der', type: 'spki' }));

interface HostileCase {
  name: string;
  token: () => string;
  code: SessionTokenErrorCode;
}

let sink: TestServer;

const corpus: HostileCase[] = [
  // alg none and symmetric confusion
  { name: 'alg none, no signature', token: () => noSignature({ alg: 'none', typ: 'JWT' }, claims()), code: 'malformed_token' },
  { name: 'alg none, with signature', token: () => withSignatureOf(signed({ alg: 'none', kid: 'rsa-1' }), valid()), code: 'invalid_signature' },
  { name: 'alg NONE upper case, with signature', token: () => withSignatureOf(signed({ alg: 'NONE', kid: 'rsa-1' }), valid()), code: 'invalid_signature' },
  { name: 'alg nOnE mixed case, with signature', token: () => withSignatureOf(signed({ alg: 'nOnE', kid: 'rsa-1' }), valid()), code: 'invalid_signature' },
  { name: 'alg None mixed case, no signature', token: () => noSignature({ alg: 'None' }, claims()), code: 'malformed_token' },
  { name: 'HS256 signed with the RSA public key PEM', token: () => hs('HS256', rsaPem, header({ alg: 'HS256' }), claims()), code: 'invalid_signature' },
  { name: 'HS256 signed with the JWK modulus as secret', token: () => hs('HS256', rsaN, header({ alg: 'HS256' }), claims()), code: 'invalid_signature' },
  { name: 'HS512 signed with the RSA public key PEM', token: () => hs('HS512', rsaPem, header({ alg: 'HS512' }), claims()), code: 'invalid_signature' },
  { name: 'alg with trailing space', token: () => withSignatureOf(signed(header({ alg: 'RS256 ' })), valid()), code: 'invalid_signature' },
  {
    name: 'alg allowed elsewhere but not for this issuer (PS256)',
    token: () => signToken(header({ alg: 'PS256' }), claims(), rsa.privateKey, 'PS256'),
    code: 'invalid_signature',
  },
  { name: 'alg missing', token: () => withSignatureOf(signed({ kid: 'rsa-1', typ: 'JWT' }), valid()), code: 'malformed_token' },
  { name: 'alg as a number', token: () => withSignatureOf(signed(header({ alg: 256 })), valid()), code: 'malformed_token' },

  // signature tampering
  { name: 'stripped signature', token: () => replaceSignature(valid(), () => ''), code: 'malformed_token' },
  {
    name: 'truncated signature bytes',
    token: () => replaceSignature(valid(), (s) => b64u(Buffer.from(s, 'base64url').subarray(0, 200))),
    code: 'invalid_signature',
  },
  {
    name: 'signature with one extra byte',
    token: () => replaceSignature(valid(), (s) => b64u(Buffer.concat([Buffer.from(s, 'base64url'), Buffer.alloc(1)]))),
    code: 'invalid_signature',
  },
  {
    name: 'signature swapped from another valid token',
    token: () => withSignatureOf(signed(header(), claims({ sub: 'admin' })), valid()),
    code: 'invalid_signature',
  },
  { name: 'signature of zero bytes of the right length', token: () => replaceSignature(valid(), () => b64u(Buffer.alloc(256))), code: 'invalid_signature' },
  { name: 'attacker key, same kid', token: () => signed(header(), claims(), attacker.privateKey), code: 'invalid_signature' },
  {
    name: 'ES256 header with the RSA kid, signed by the RSA key',
    token: () => signToken(header({ alg: 'ES256' }), claims(), rsa.privateKey, 'RS256'),
    code: 'invalid_signature',
  },
  {
    name: 'ES256 header with the RSA kid, signed by the EC key',
    token: () => signToken(header({ alg: 'ES256' }), claims(), ec.privateKey, 'ES256'),
    code: 'invalid_signature',
  },
  { name: 'RS256 header with the EC kid', token: () => signed(header({ kid: 'ec-1' })), code: 'invalid_signature' },

  // kid games
  { name: 'unknown kid', token: () => signed(header({ kid: 'rsa-2' }), claims(), attacker.privateKey), code: 'unknown_key' },
  { name: 'kid path traversal', token: () => signed(header({ kid: '../../etc/passwd' }), claims(), attacker.privateKey), code: 'unknown_key' },
  { name: 'kid SQL injection', token: () => signed(header({ kid: "' OR '1'='1'; DROP TABLE keys; --" }), claims(), attacker.privateKey), code: 'unknown_key' },
  { name: 'kid with NUL and newline', token: () => signed(header({ kid: 'rsa-1\u0000\n' }), claims(), attacker.privateKey), code: 'unknown_key' },
  { name: 'kid of 4 KB', token: () => signed(header({ kid: 'k'.repeat(4096) }), claims(), attacker.privateKey), code: 'unknown_key' },
  {
    name: 'kid of 10 KB (token oversize)',
    token: () => signed(header({ kid: 'k'.repeat(10 * 1024) }), claims(), attacker.privateKey),
    code: 'malformed_token',
  },
  { name: 'kid __proto__', token: () => signed(header({ kid: '__proto__' }), claims(), attacker.privateKey), code: 'unknown_key' },
  { name: 'kid as a number', token: () => signed(header({ kid: 1 })), code: 'malformed_token' },
  { name: 'kid as an object', token: () => signed(header({ kid: { $ne: null } })), code: 'malformed_token' },
  { name: 'kid null', token: () => signed(header({ kid: null })), code: 'malformed_token' },

  // keys offered by the token itself are never used or fetched
  {
    name: 'embedded jwk header, attacker key, own kid',
    token: () => signed(header({ kid: 'attacker', jwk: publicJwk(attacker.publicKey, { kid: 'attacker' }) }), claims(), attacker.privateKey),
    code: 'unknown_key',
  },
  {
    name: 'embedded jwk header, attacker key, trusted kid',
    token: () => signed(header({ jwk: publicJwk(attacker.publicKey, { kid: 'rsa-1' }) }), claims(), attacker.privateKey),
    code: 'invalid_signature',
  },
  // No kid: the one trusted RS256 key is used, not the embedded one.
  {
    name: 'embedded jwk header, no kid',
    token: () => signed({ alg: 'RS256', typ: 'JWT', jwk: publicJwk(attacker.publicKey) }, claims(), attacker.privateKey),
    code: 'invalid_signature',
  },
  {
    name: 'jku pointing at an attacker JWKS, attacker kid',
    token: () => signed(header({ kid: 'attacker', jku: sink.url('/jku') }), claims(), attacker.privateKey),
    code: 'unknown_key',
  },
  {
    name: 'jku pointing at an attacker JWKS, trusted kid',
    token: () => signed(header({ jku: sink.url('/jku') }), claims(), attacker.privateKey),
    code: 'invalid_signature',
  },
  {
    name: 'x5u pointing at an attacker certificate',
    token: () => signed(header({ kid: 'attacker', x5u: sink.url('/x5u') }), claims(), attacker.privateKey),
    code: 'unknown_key',
  },
  { name: 'x5u with trusted kid', token: () => signed(header({ x5u: sink.url('/x5u') }), claims(), attacker.privateKey), code: 'invalid_signature' },
  {
    name: 'x5c with an attacker certificate-ish chain',
    token: () => signed(header({ x5c: [attackerCertish] }), claims(), attacker.privateKey),
    code: 'invalid_signature',
  },

  // time
  { name: 'expired', token: () => signed(header(), claims({ exp: NOW_S - 3600 })), code: 'token_expired' },
  { name: 'expired exactly at the skew boundary', token: () => signed(header(), claims({ exp: NOW_S - 5 })), code: 'token_expired' },
  { name: 'nbf in the future', token: () => signed(header(), claims({ nbf: NOW_S + 60 })), code: 'token_not_yet_valid' },
  { name: 'iat in the future', token: () => signed(header(), claims({ iat: NOW_S + 60 })), code: 'token_not_yet_valid' },
  { name: 'exp as a string', token: () => signed(header(), claims({ exp: String(NOW_S + 60) })), code: 'malformed_token' },
  { name: 'exp 1e400 (Infinity)', token: () => signed(header(), JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e400')), code: 'malformed_token' },
  { name: 'exp missing', token: () => signed(header(), without('exp')), code: 'malformed_token' },
  { name: 'exp null', token: () => signed(header(), claims({ exp: null })), code: 'malformed_token' },
  { name: 'nbf as a string', token: () => signed(header(), claims({ nbf: 'now' })), code: 'malformed_token' },
  { name: 'iat as an array', token: () => signed(header(), claims({ iat: [NOW_S] })), code: 'malformed_token' },

  // issuer
  { name: 'wrong issuer', token: () => signed(header(), claims({ iss: 'https://evil.example.test' })), code: 'invalid_issuer' },
  { name: 'trailing-slash issuer', token: () => signed(header(), claims({ iss: `${ISSUER}/` })), code: 'invalid_issuer' },
  { name: 'issuer differing in case', token: () => signed(header(), claims({ iss: ISSUER.toUpperCase() })), code: 'invalid_issuer' },
  { name: 'missing iss', token: () => signed(header(), without('iss')), code: 'invalid_issuer' },
  { name: 'iss as an array', token: () => signed(header(), claims({ iss: [ISSUER] })), code: 'malformed_token' },

  // audience and authorized party
  { name: 'azp not allowed', token: () => signed(header(), claims({ azp: 'https://evil.example.test' })), code: 'unauthorized_party' },
  { name: 'azp as an array', token: () => signed(header(), claims({ azp: [APP] })), code: 'unauthorized_party' },
  {
    name: 'azp missing where required',
    token: () => signed(header(), { ...without('azp'), iss: STRICT_ISSUER, aud: 'stream-token-service' }),
    code: 'unauthorized_party',
  },
  { name: 'aud not ours', token: () => signed(header(), claims({ iss: STRICT_ISSUER, aud: ['other-api'] })), code: 'invalid_audience' },
  { name: 'aud missing where configured', token: () => signed(header(), claims({ iss: STRICT_ISSUER })), code: 'invalid_audience' },

  // user id
  { name: 'sub missing', token: () => signed(header(), without('sub')), code: 'invalid_subject' },
  { name: 'sub empty', token: () => signed(header(), claims({ sub: '' })), code: 'invalid_subject' },
  { name: 'sub numeric', token: () => signed(header(), claims({ sub: 12345 })), code: 'invalid_subject' },
  { name: 'sub of 256 characters', token: () => signed(header(), claims({ sub: 'a'.repeat(256) })), code: 'invalid_subject' },
  { name: 'sub with a space', token: () => signed(header(), claims({ sub: 'user 1' })), code: 'invalid_subject' },
  { name: 'sub with a dot', token: () => signed(header(), claims({ sub: 'user.1' })), code: 'invalid_subject' },
  { name: 'sub with unicode', token: () => signed(header(), claims({ sub: 'usér' })), code: 'invalid_subject' },
  { name: 'sub with a trailing newline', token: () => signed(header(), claims({ sub: 'user_1\n' })), code: 'invalid_subject' },
  {
    name: 'sub only inherited through __proto__',
    token: () => signed(header(), JSON.stringify(without('sub')).replace('{', '{"__proto__":{"sub":"admin"},')),
    code: 'invalid_subject',
  },

  // token kinds and extensions
  { name: 'typ at+jwt on a Clerk issuer', token: () => signed(header({ typ: 'at+jwt' })), code: 'unsupported_token_type' },
  { name: 'typ JOSE', token: () => signed(header({ typ: 'JOSE' })), code: 'unsupported_token_type' },
  { name: 'typ missing on a Clerk issuer', token: () => signed({ alg: 'RS256', kid: 'rsa-1' }), code: 'unsupported_token_type' },
  { name: 'typ as a number', token: () => signed(header({ typ: 1 })), code: 'malformed_token' },
  { name: 'cat header of an M2M token', token: () => signed(header({ cat: 'cl_B7d4PD333AAA' })), code: 'unsupported_token_type' },
  { name: 'cat header of an unknown category', token: () => signed(header({ cat: 'cl_X7d4PD999XXX' })), code: 'unsupported_token_type' },
  { name: 'cat header that is not a string', token: () => signed(header({ cat: ['cl_B7d4PD111AAA'] })), code: 'unsupported_token_type' },
  { name: 'crit header', token: () => signed(header({ crit: ['exp'], exp: NOW_S + 60 })), code: 'malformed_token' },
  { name: 'empty crit header', token: () => signed(header({ crit: [] })), code: 'malformed_token' },
  { name: 'b64 false header', token: () => signed(header({ b64: false, crit: ['b64'] })), code: 'malformed_token' },
  { name: 'b64 without crit', token: () => signed(header({ b64: true })), code: 'malformed_token' },

  // session state
  { name: 'sts pending', token: () => signed(header(), claims({ sts: 'pending' })), code: 'session_pending' },
  { name: 'act impersonation', token: () => signed(header(), claims({ act: { sub: 'user_admin' } })), code: 'impersonation_not_allowed' },

  // structure
  { name: 'empty string', token: () => '', code: 'missing_token' },
  { name: 'two segments', token: () => parts(valid()).slice(0, 2).join('.'), code: 'malformed_token' },
  { name: 'four segments', token: () => `${valid()}.${parts(valid())[2]}`, code: 'malformed_token' },
  { name: 'five segments (JWE shape)', token: () => `${segment({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.AAAA.AAAA.AAAA.AAAA`, code: 'malformed_token' },
  { name: 'empty header segment', token: () => `.${parts(valid())[1]}.${parts(valid())[2]}`, code: 'malformed_token' },
  { name: 'just dots', token: () => '..', code: 'malformed_token' },
  { name: 'standard base64 "+" in signature', token: () => replaceSignature(valid(), (s) => `+${s.slice(1)}`), code: 'malformed_token' },
  {
    name: 'standard base64 "/" in payload',
    token: () => {
      const [h, p, s] = parts(valid());
      return `${h}.${p.slice(0, 4)}/${p.slice(5)}.${s}`;
    },
    code: 'malformed_token',
  },
  { name: 'padding "=" on the signature', token: () => replaceSignature(valid(), (s) => `${s}==`), code: 'malformed_token' },
  { name: 'non-canonical last character of the signature', token: () => replaceSignature(valid(), nonCanonical), code: 'malformed_token' },
  {
    name: 'segment length 1 mod 4',
    token: () =>
      replaceSignature(valid(), (s) => {
        const cut = s.slice(0, s.length - ((s.length + 3) % 4));
        assert.equal(cut.length % 4, 1);
        return cut;
      }),
    code: 'malformed_token',
  },
  { name: 'header is not JSON', token: () => signed('not json'), code: 'malformed_token' },
  { name: 'payload is not JSON', token: () => signed(header(), "{'sub':'x'}"), code: 'malformed_token' },
  { name: 'payload is an array', token: () => signed(header(), [claims()]), code: 'malformed_token' },
  { name: 'payload is null', token: () => signed(header(), 'null'), code: 'malformed_token' },
  { name: 'payload is a number', token: () => signed(header(), '42'), code: 'malformed_token' },
  { name: 'header is an array', token: () => signed(['RS256']), code: 'malformed_token' },
  { name: 'payload with a byte-order mark', token: () => signed(header(), `\uFEFF${JSON.stringify(claims())}`), code: 'malformed_token' },
  {
    name: 'payload with invalid UTF-8',
    token: () => {
      const input = `${segment(header())}.${b64u(Buffer.concat([Buffer.from('{"sub":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]))}`;
      return `${input}.${parts(valid())[2]}`;
    },
    code: 'malformed_token',
  },
  { name: 'oversize token (> 8 KiB)', token: () => signed(header(), claims({ pad: 'x'.repeat(9000) })), code: 'malformed_token' },
  {
    name: 'space inside the token',
    token: () => {
      const t = valid();
      return `${t.slice(0, 20)} ${t.slice(20)}`;
    },
    code: 'malformed_token',
  },
  { name: 'trailing newline', token: () => `${valid()}\n`, code: 'malformed_token' },
  { name: '"Bearer " prefix left on', token: () => `Bearer ${valid()}`, code: 'malformed_token' },
  {
    name: 'unicode character inside a segment',
    token: () => {
      const t = valid();
      return `${t.slice(0, 10)}é${t.slice(11)}`;
    },
    code: 'malformed_token',
  },
  { name: 'unicode full-width dot as separator', token: () => valid().replace('.', '\u3002'), code: 'malformed_token' },
  // Node's base64 decoder reads a character above U+00FF by its low byte: these spell the same signed bytes.
  {
    name: 'signature character swapped for one whose low byte is the same (as Ł, U+0141, is read as A)',
    token: () => replaceSignature(valid(), lookAlikeAt(0)),
    code: 'malformed_token',
  },
  {
    name: 'payload character swapped for one whose low byte is the same',
    token: () => {
      const [h, p, s] = parts(valid());
      return `${h}.${lookAlikeAt(3)(p)}.${s}`;
    },
    code: 'malformed_token',
  },
  {
    name: 'header character swapped for one whose low byte is the same',
    token: () => {
      const [h, p, s] = parts(valid());
      return `${lookAlikeAt(1)(h)}.${p}.${s}`;
    },
    code: 'malformed_token',
  },
];

describe('hostile session tokens', () => {
  let jwksServer: TestServer;
  let verifier: SessionVerifier;

  /** Both issuers, the second strict (azp required, audience set). */
  function newVerifier(batch: boolean): SessionVerifier {
    const common = { algorithms: ['RS256', 'ES256'], authorizedParties: [APP] } satisfies Partial<IssuerOptions>;
    return new SessionVerifier({
      issuers: [
        issuerOptions({ ...common, kind: 'clerk', issuer: ISSUER, jwksUri: jwksServer.url('/jwks'), subjectPrefix: 'user_' }),
        issuerOptions({
          ...common,
          kind: 'oidc',
          issuer: STRICT_ISSUER,
          jwksUri: jwksServer.url('/strict/jwks'),
          requireAuthorizedParty: true,
          audience: ['stream-token-service'],
          userIdPrefix: 'strict_',
        }),
      ],
      keySetTiming: defaultTiming({ cooldownSeconds: 60 }),
      clockSkewSeconds: 5,
      now: new TestClock().now,
      batch,
    });
  }

  before(async () => {
    jwksServer = await new TestServer().listen();
    jwksServer.serveJson(jwks);
    sink = await new TestServer().listen();
    sink.serveJson({ keys: [publicJwk(attacker.publicKey, { kid: 'attacker' })] });
    verifier = newVerifier(false);
    await verifier.start();
    assert.equal(verifier.isReady(), true);
  });

  after(async () => {
    verifier.close();
    await jwksServer.close();
    await sink.close();
  });

  it('has a corpus of at least 40 distinct cases', () => {
    assert.ok(corpus.length >= 40, `only ${corpus.length} cases`);
    assert.equal(new Set(corpus.map((c) => c.name)).size, corpus.length);
  });

  it('accepts a well-formed token (the harness can pass)', async () => {
    const session = await verifier.verify(valid());
    assert.equal(session.userId, 'user_2abcDEF');
    assert.equal(session.issuer, ISSUER);
    assert.equal(session.kind, 'clerk');
    assert.equal(session.expiresAt, NOW_S + 60);
    assert.equal(session.claims['sid'], 'sess_123');
  });

  it('accepts well-formed variants: ES256, typ variants, no typ from OIDC, 255-char id, strict issuer with azp and aud', async () => {
    const ok = [
      signToken({ alg: 'ES256', kid: 'ec-1', typ: 'JWT' }, claims(), ec.privateKey),
      signed(header({ typ: 'jwt' })),
      signed(header({ typ: 'application/JWT' })),
      signed({ alg: 'RS256', kid: 'rsa-1' }, claims({ iss: STRICT_ISSUER, aud: 'stream-token-service' })),
      signed(header(), claims({ sub: `user_${'a'.repeat(245)}@_-Z9` })),
      signed(header(), claims({ exp: NOW_S - 4 })), // inside the 5 s skew
      signed(header(), claims({ iss: STRICT_ISSUER, aud: ['x', 'stream-token-service'] })),
      signed(header({ typ: 'at+jwt' }), claims({ iss: STRICT_ISSUER, aud: 'stream-token-service' })),
      signed(header(), claims({ act: null })),
    ];
    for (const token of ok) await verifier.verify(token);
  });

  for (const testCase of corpus) {
    it(`rejects: ${testCase.name} → ${testCase.code}`, async () => {
      const token = testCase.token();
      await assert.rejects(verifier.verify(token), (error: unknown) => {
        assert.ok(error instanceof SessionTokenError, `expected SessionTokenError, got ${String(error)}`);
        assert.equal(error.code, testCase.code, `${testCase.name}: got ${error.code} (${error.message})`);
        if (token.length >= 40) assert.ok(!error.message.includes(token.slice(0, 40)), 'error message must not echo the token');
        return true;
      });
    });
  }

  it('never contacted jku or x5u URLs', () => {
    assert.deepEqual(sink.requests, []);
  });

  it('rejects non-string input with SessionTokenError, never another error type', async () => {
    for (const input of [undefined, null, 42, {}, ['a.b.c'], Buffer.from('a.b.c')]) {
      await assert.rejects(verifier.verify(input as string), (error: unknown) => {
        assert.ok(error instanceof SessionTokenError);
        assert.equal(error.code, 'malformed_token');
        return true;
      });
    }
  });

  it('served the JWKS only once for the whole corpus (unknown kids inside the cooldown fetch nothing)', () => {
    assert.equal(jwksServer.count('/jwks'), 1);
    assert.equal(jwksServer.count('/strict/jwks'), 1);
  });

  it('decides the same in batch mode, the corpus verified in passes of BATCH_PASS_SIZE mixed with valid tokens', async () => {
    const batching = newVerifier(true);
    try {
      await batching.start();
      const cases = corpus.map((testCase) => ({ testCase, token: testCase.token() }));
      const outcomes = await Promise.all(
        cases.flatMap(({ token }) => [
          batching.verify(token).then(
            (session) => ({ ok: true as const, userId: session.userId }),
            (error: unknown) => ({ ok: false as const, error }),
          ),
          batching.verify(valid()).then(
            (session) => ({ ok: true as const, userId: session.userId }),
            (error: unknown) => ({ ok: false as const, error }),
          ),
        ]),
      );
      for (let i = 0; i < cases.length; i++) {
        const { testCase, token } = cases[i]!;
        const expected = await verifier.verify(token).then(
          () => 'accepted',
          (error: SessionTokenError) => error.code,
        );
        const batched = outcomes[2 * i]!;
        const got = batched.ok
          ? 'accepted'
          : batched.error instanceof SessionTokenError
            ? batched.error.code
            : `not a SessionTokenError: ${String(batched.error)}`;
        assert.equal(got, expected, `${testCase.name}: in a batch ${got}, alone ${expected}`);
        assert.equal(got, testCase.code, testCase.name);
        assert.deepEqual(outcomes[2 * i + 1], { ok: true, userId: 'user_2abcDEF' }, `the valid token next to "${testCase.name}"`);
      }
    } finally {
      batching.close();
    }
  });
});
