import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject, type RSAPSSKeyPairKeyObjectOptions } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { SessionTokenError } from '../../src/identity/errors.js';
import { keyFitsAlgorithm, splitCompactJws, verifyCompactJwsSignature, verifyJwsSignature } from '../../src/identity/jws.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import type { AsymmetricAlgorithm } from '../../src/identity/types.js';
import {
  NOW_S,
  TestClock,
  b64u,
  defaultTiming,
  ecKeyPair,
  ed25519KeyPair,
  issuerOptions,
  rsaKeyPair,
  segment,
  signToken,
  signature,
} from '../support/identity.js';

/**
 * The numeric limits of token verification, tested exactly at and one past
 * each boundary (2048-bit RSA keys, 8 KiB tokens), and the signature checks
 * that must answer false, never true or a throw, when something does not fit.
 */

const ISSUER = 'https://issuer.example.test';
const rsa2048 = rsaKeyPair(2048);
const rsa2047 = rsaKeyPair(2047);
const ec = ecKeyPair('P-256');
const ed = ed25519KeyPair();
/** An RSA-PSS key whose parameters demand a salt of at least 64 bytes: node:crypto throws when PS256 (32-byte salt) uses it. */
const pssSalt64 = generateKeyPairSync(
  'rsa-pss',
  // @types/node declares saltLength a string; Node takes the number of bytes.
  { modulusLength: 2048, hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 64 } as unknown as RSAPSSKeyPairKeyObjectOptions,
);

const verifiers: SessionVerifier[] = [];
after(() => {
  for (const verifier of verifiers) verifier.close();
});

function compact(alg: AsymmetricAlgorithm, key: KeyObject, claims: Record<string, unknown> = { sub: 'user_1' }): { token: string; secondDot: number } {
  const token = signToken({ alg, typ: 'JWT' }, claims, key, alg);
  return { token, secondDot: token.lastIndexOf('.') };
}

/** A PS256 signature over `input` whose first byte is zero, found by signing again (the salt is random). */
function pssSignatureWithLeadingZero(privateKey: KeyObject, input: Buffer): Buffer {
  for (let attempt = 0; attempt < 20_000; attempt++) {
    const sig = cryptoSign('sha256', input, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
    if (sig[0] === 0) return sig;
  }
  throw new Error('no PS256 signature with a leading zero byte in 20000 attempts');
}

describe('RSA keys: 2048 bits at least', () => {
  it('a 2048-bit key fits RS256 and PS256; a 2047-bit key fits neither', () => {
    assert.equal(rsa2047.publicKey.asymmetricKeyDetails?.modulusLength, 2047);
    for (const alg of ['RS256', 'PS256'] as const) {
      assert.equal(keyFitsAlgorithm(rsa2048.publicKey, alg), true, alg);
      assert.equal(keyFitsAlgorithm(rsa2047.publicKey, alg), false, alg);
    }
  });

  it('a valid signature made with a 2047-bit key is refused, though node:crypto alone accepts it', () => {
    for (const alg of ['RS256', 'PS256'] as const) {
      const input = Buffer.from('header.payload');
      const sig = signature(alg, rsa2047.privateKey, 'header.payload');
      const padding = alg === 'PS256' ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } : {};
      assert.equal(cryptoVerify('sha256', input, { key: rsa2047.publicKey, ...padding }, sig), true, `${alg}: the signature itself is good`);
      assert.equal(verifyJwsSignature(alg, rsa2047.publicKey, input, sig), false, alg);
      const { token, secondDot } = compact(alg, rsa2047.privateKey);
      assert.equal(verifyCompactJwsSignature(alg, rsa2047.publicKey, token, secondDot), false, alg);
    }
  });
});

describe('tokens: 8192 characters at most (8 KiB)', () => {
  /** An RS256 token signed with the 2048-bit key, padded with a claim to exactly `length` characters. */
  function tokenOfLength(length: number): string {
    const b64Length = (json: string): number => Math.ceil((Buffer.byteLength(json) * 4) / 3);
    const signatureChars = b64Length('x'.repeat(256));
    for (const kid of ['k', 'kk', 'kkk']) {
      const header = { alg: 'RS256', typ: 'JWT', kid };
      const wanted = length - 2 - signatureChars - b64Length(JSON.stringify(header));
      for (let pad = 0; pad < length; pad++) {
        const payload = { iss: ISSUER, sub: 'user_1', iat: NOW_S, exp: NOW_S + 60, pad: 'x'.repeat(pad) };
        const payloadChars = b64Length(JSON.stringify(payload));
        if (payloadChars > wanted) break;
        if (payloadChars < wanted) continue;
        const token = signToken(header, payload, rsa2048.privateKey, 'RS256');
        assert.equal(token.length, length);
        return token;
      }
    }
    throw new Error(`no token of ${length} characters`);
  }

  function newVerifier(): SessionVerifier {
    const verifier = new SessionVerifier({
      issuers: [issuerOptions({ issuer: ISSUER, staticKeys: [rsa2048.publicKey] })],
      keySetTiming: defaultTiming(),
      clockSkewSeconds: 0,
      now: new TestClock().now,
    });
    verifiers.push(verifier);
    return verifier;
  }

  it('a signed token of exactly 8192 characters verifies', async () => {
    const session = await newVerifier().verify(tokenOfLength(8192));
    assert.equal(session.userId, 'user_1');
  });

  it('a signed token of 8193 characters is malformed_token, too long', async () => {
    await assert.rejects(newVerifier().verify(tokenOfLength(8193)), (error: unknown) => {
      assert.ok(error instanceof SessionTokenError);
      assert.equal(error.code, 'malformed_token');
      assert.equal(error.message, 'The token is too long.');
      return true;
    });
  });

  it('splitCompactJws: 8192 characters pass the length check, 8193 do not', () => {
    const of = (length: number): string => `${segment({})}.${segment({})}.${'A'.repeat(length - 2 * segment({}).length - 2)}`;
    assert.equal(splitCompactJws(of(8192)), segment({}).length);
    assert.throws(() => splitCompactJws(of(8193)), /The token is too long\./);
  });
});

describe('verifyJwsSignature', () => {
  const input = Buffer.from(`${segment({ alg: 'RS256' })}.${segment({ sub: 'user_1' })}`);
  const good: Array<[AsymmetricAlgorithm, KeyObject, Buffer]> = [
    ['RS256', rsa2048.publicKey, signature('RS256', rsa2048.privateKey, input.toString('latin1'))],
    ['PS256', rsa2048.publicKey, signature('PS256', rsa2048.privateKey, input.toString('latin1'))],
    ['ES256', ec.publicKey, signature('ES256', ec.privateKey, input.toString('latin1'))],
    ['EdDSA', ed.publicKey, signature('EdDSA', ed.privateKey, input.toString('latin1'))],
  ];

  it('is true for a good signature with a fitting key', () => {
    for (const [alg, key, sig] of good) assert.equal(verifyJwsSignature(alg, key, input, sig), true, alg);
  });

  it('is false for a tampered signing input or signature', () => {
    for (const [alg, key, sig] of good) {
      const tampered = Buffer.from(input);
      tampered[tampered.length - 1]! ^= 1;
      assert.equal(verifyJwsSignature(alg, key, tampered, sig), false, `${alg}: input`);
      const flipped = Buffer.from(sig);
      flipped[flipped.length - 1]! ^= 1;
      assert.equal(verifyJwsSignature(alg, key, input, flipped), false, `${alg}: signature`);
    }
  });

  it('is false for a signature of the wrong length, even one node:crypto would accept', () => {
    for (const [alg, key, sig] of good) {
      assert.equal(verifyJwsSignature(alg, key, input, sig.subarray(1)), false, `${alg}: one byte short`);
      assert.equal(verifyJwsSignature(alg, key, input, Buffer.concat([Buffer.alloc(1), sig])), false, `${alg}: one byte long`);
    }
    // RFC 8017 wants exactly k octets; OpenSSL verifies PSS with a leading zero byte left out.
    const sig = pssSignatureWithLeadingZero(rsa2048.privateKey, input);
    const short = sig.subarray(1);
    const pss = { key: rsa2048.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
    assert.equal(cryptoVerify('sha256', input, pss, short), true, 'node:crypto accepts the 255-byte signature');
    assert.equal(verifyJwsSignature('PS256', rsa2048.publicKey, input, sig), true);
    assert.equal(verifyJwsSignature('PS256', rsa2048.publicKey, input, short), false);
  });

  it('is false for a key of the wrong type or curve, or a private key', () => {
    const [, , rsaSig] = good[0]!;
    const [, , ecSig] = good[2]!;
    assert.equal(verifyJwsSignature('RS256', ec.publicKey, input, rsaSig), false);
    assert.equal(verifyJwsSignature('RS256', ed.publicKey, input, rsaSig), false);
    assert.equal(verifyJwsSignature('ES256', rsa2048.publicKey, input, ecSig), false);
    assert.equal(verifyJwsSignature('ES384', ec.publicKey, input, ecSig), false);
    assert.equal(verifyJwsSignature('RS256', rsa2048.privateKey, input, rsaSig), false);
  });

  it('is false, not a throw, for a key node:crypto would throw on: an RSA-PSS key demanding a longer salt than JWS uses', () => {
    const sig = Buffer.alloc(256, 1);
    const pss = { key: pssSalt64.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
    assert.throws(() => cryptoVerify('sha256', input, pss, sig), 'node:crypto throws for this key and salt length');
    assert.equal(keyFitsAlgorithm(pssSalt64.publicKey, 'PS256'), false, 'refused as a key for PS256, like any key that cannot verify it');
    assert.equal(verifyJwsSignature('PS256', pssSalt64.publicKey, input, sig), false);
  });
});

describe('verifyCompactJwsSignature', () => {
  it('is true for a good token and false for a tampered one', () => {
    const { token, secondDot } = compact('RS256', rsa2048.privateKey);
    assert.equal(verifyCompactJwsSignature('RS256', rsa2048.publicKey, token, secondDot), true);
    const other = compact('RS256', rsa2048.privateKey, { sub: 'user_2' });
    const spliced = `${token.slice(0, secondDot)}${other.token.slice(other.secondDot)}`;
    assert.equal(verifyCompactJwsSignature('RS256', rsa2048.publicKey, spliced, secondDot), false);
  });

  it('is false when the key does not fit the algorithm', () => {
    const { token, secondDot } = compact('RS256', rsa2048.privateKey);
    for (const key of [ec.publicKey, ed.publicKey, rsa2047.publicKey, rsa2048.privateKey]) {
      assert.equal(verifyCompactJwsSignature('RS256', key, token, secondDot), false, key.asymmetricKeyType);
    }
    const es = compact('ES256', ec.privateKey);
    assert.equal(verifyCompactJwsSignature('ES384', ec.publicKey, es.token, es.secondDot), false);
  });

  it('is false for a signature one byte short, even one node:crypto would accept', () => {
    const signingInput = `${segment({ alg: 'PS256', typ: 'JWT' })}.${segment({ sub: 'user_1' })}`;
    const sig = pssSignatureWithLeadingZero(rsa2048.privateKey, Buffer.from(signingInput));
    assert.equal(verifyCompactJwsSignature('PS256', rsa2048.publicKey, `${signingInput}.${b64u(sig)}`, signingInput.length), true);
    assert.equal(verifyCompactJwsSignature('PS256', rsa2048.publicKey, `${signingInput}.${b64u(sig.subarray(1))}`, signingInput.length), false);
  });

  it('is false, not a throw, when node:crypto throws', () => {
    const signingInput = `${segment({ alg: 'PS256', typ: 'JWT' })}.${segment({ sub: 'user_1' })}`;
    const token = `${signingInput}.${b64u(Buffer.alloc(256, 1))}`;
    assert.equal(verifyCompactJwsSignature('PS256', pssSalt64.publicKey, token, signingInput.length), false);
  });
});
