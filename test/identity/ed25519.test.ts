import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { tmpdir } from 'node:os';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { SessionTokenError } from '../../src/identity/errors.js';
import { keyFitsAlgorithm, verifyJwsSignature } from '../../src/identity/jws.js';
import { SessionVerifier } from '../../src/identity/session-verifier.js';
import type { AsymmetricAlgorithm } from '../../src/identity/types.js';
import {
  NOW_MS,
  NOW_S,
  defaultTiming,
  ed25519KeyPair,
  issuerOptions,
  jsonResponse,
  memoryFetch,
  publicJwk,
  signToken,
  type KeyPair,
} from '../support/identity.js';

/**
 * RFC 9864 names EdDSA on Ed25519 `Ed25519`. Both names are accepted, each
 * only when the issuer's allow-list names it, and `Ed25519` never covers Ed448.
 */

const ISSUER = 'https://id.example.test';
const ed = ed25519KeyPair();
const ed448: KeyPair = generateKeyPairSync('ed448');

const JWKS = {
  keys: [
    publicJwk(ed.publicKey, { kid: 'ed' }),
    publicJwk(ed.publicKey, { kid: 'ed-eddsa', alg: 'EdDSA' }),
    publicJwk(ed.publicKey, { kid: 'ed-rfc9864', alg: 'Ed25519' }),
    publicJwk(ed448.publicKey, { kid: 'ed448' }),
  ],
};

const verifiers: SessionVerifier[] = [];
after(() => {
  for (const verifier of verifiers) verifier.close();
});

function verifierAllowing(algorithms: AsymmetricAlgorithm[]): SessionVerifier {
  const verifier = new SessionVerifier({
    issuers: [issuerOptions({ kind: 'oidc', issuer: ISSUER, jwksUri: `${ISSUER}/jwks`, algorithms, audience: ['chat'] })],
    keySetTiming: defaultTiming(),
    clockSkewSeconds: 0,
    now: () => NOW_MS,
    fetch: memoryFetch(() => jsonResponse(JWKS)),
  });
  verifiers.push(verifier);
  return verifier;
}

function token(alg: string, kid: string, key: KeyPair = ed): string {
  return signToken({ alg, kid, typ: 'JWT' }, { iss: ISSUER, sub: 'user_ed', aud: 'chat', iat: NOW_S, exp: NOW_S + 60 }, key.privateKey, 'EdDSA');
}

async function outcome(verifier: SessionVerifier, jwt: string): Promise<string> {
  try {
    return `ok ${(await verifier.verify(jwt)).userId}`;
  } catch (error) {
    assert.ok(error instanceof SessionTokenError, String(error));
    return `${error.code}: ${error.message}`;
  }
}

describe('Ed25519 (RFC 9864)', () => {
  it('an Ed25519 key fits both names; an Ed448 key fits EdDSA only', () => {
    assert.equal(keyFitsAlgorithm(ed.publicKey, 'Ed25519'), true);
    assert.equal(keyFitsAlgorithm(ed.publicKey, 'EdDSA'), true);
    assert.equal(keyFitsAlgorithm(ed448.publicKey, 'EdDSA'), true);
    assert.equal(keyFitsAlgorithm(ed448.publicKey, 'Ed25519'), false);
    assert.equal(keyFitsAlgorithm(ed.privateKey, 'Ed25519'), false, 'a private key never verifies');
  });

  it('an Ed448 signature never verifies as Ed25519', () => {
    const input = Buffer.from('header.payload');
    const signature = sign(null, input, ed448.privateKey);
    assert.equal(verifyJwsSignature('EdDSA', ed448.publicKey, input, signature), true);
    assert.equal(verifyJwsSignature('Ed25519', ed448.publicKey, input, signature), false);
    assert.equal(verifyJwsSignature('Ed25519', ed.publicKey, input, sign(null, input, ed.privateKey)), true);
  });

  it('a token with alg Ed25519 verifies when the issuer allows Ed25519, with a JWK of no alg or alg Ed25519', async () => {
    const verifier = verifierAllowing(['Ed25519']);
    assert.equal(await outcome(verifier, token('Ed25519', 'ed')), 'ok user_ed');
    assert.equal(await outcome(verifier, token('Ed25519', 'ed-rfc9864')), 'ok user_ed');
  });

  it('the allow-list is exact: an issuer allowing EdDSA refuses Ed25519, and the other way round', async () => {
    const eddsaOnly = verifierAllowing(['EdDSA']);
    assert.equal(await outcome(eddsaOnly, token('EdDSA', 'ed')), 'ok user_ed');
    assert.equal(await outcome(eddsaOnly, token('Ed25519', 'ed')), 'invalid_signature: The token signing algorithm is not allowed.');
    const ed25519Only = verifierAllowing(['Ed25519']);
    assert.equal(await outcome(ed25519Only, token('EdDSA', 'ed')), 'invalid_signature: The token signing algorithm is not allowed.');
  });

  it('a JWK whose alg names one of the two does not verify tokens of the other', async () => {
    const verifier = verifierAllowing(['EdDSA', 'Ed25519']);
    assert.equal(await outcome(verifier, token('Ed25519', 'ed-eddsa')), 'invalid_signature: The signing key does not match the token algorithm.');
    assert.equal(await outcome(verifier, token('EdDSA', 'ed-rfc9864')), 'invalid_signature: The signing key does not match the token algorithm.');
  });

  it('an Ed448 key never verifies Ed25519', async () => {
    const verifier = verifierAllowing(['EdDSA', 'Ed25519']);
    assert.equal(await outcome(verifier, token('EdDSA', 'ed448', ed448)), 'ok user_ed');
    assert.equal(await outcome(verifier, token('Ed25519', 'ed448', ed448)), 'invalid_signature: The signing key does not match the token algorithm.');
  });

  it("OIDC_ISSUERS accepts Ed25519 in an issuer's algorithms", () => {
    const config = loadConfig({
      env: {
        STREAM_API_KEY: 'key',
        STREAM_API_SECRET: 'secret-0123456789',
        STREAM_SYNC_USERS: 'false',
        OIDC_ISSUERS: JSON.stringify([{ issuer: `${ISSUER}/`, audience: 'chat', algorithms: ['Ed25519', 'EdDSA'] }]),
      },
      cwd: tmpdir(),
    });
    assert.deepEqual(config.identity.issuers[0]?.algorithms, ['Ed25519', 'EdDSA']);
  });
});
