import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isBase64Url } from '../../src/identity/base64url.js';
import { SessionTokenError } from '../../src/identity/errors.js';
import { MAX_TOKEN_LENGTH, checkCompactJws, parseCompactJws } from '../../src/identity/jws.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The rules of a compact JWS's text, spelled out one by one: what checkCompactJws must decide. */
function reference(token: string): string | null {
  if (token.length > MAX_TOKEN_LENGTH) return 'The token is too long.';
  const parts = token.split('.');
  if (parts.length !== 3) return 'The token must have exactly three segments.';
  if (parts.some((part) => part.length === 0)) return 'A token segment is empty.';
  if (!parts.every(isBase64Url)) return 'A token segment is not canonical base64url.';
  return null;
}

function actual(token: string): string | null {
  try {
    assert.equal(checkCompactJws(token), token.indexOf('.'));
    return null;
  } catch (error) {
    assert.ok(error instanceof SessionTokenError);
    assert.equal(error.code, 'malformed_token');
    return error.message;
  }
}

describe('compact JWS text', () => {
  it('accepts and refuses exactly as the rules say, with the same reason', () => {
    const unit = fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(...ALPHABET) },
      { weight: 2, arbitrary: fc.constant('.') },
      { weight: 1, arbitrary: fc.constantFrom('=', '+', '/', ' ', '\n', '\u0000', 'é', '\u3002', '\uD800', '\uFF21') },
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 40 }), (token) => {
        assert.equal(actual(token), reference(token), JSON.stringify(token));
      }),
      { numRuns: 20_000 },
    );
  });

  it('refuses every non-canonical final character and accepts the canonical one, in each segment', () => {
    for (const segmentIndex of [0, 1, 2]) {
      for (const tail of ALPHABET) {
        for (const body of ['A', 'AB', 'ABC', 'ABCDE', 'ABCDEF']) {
          const parts = ['eyJ9', 'eyJ9', 'AAAA'];
          parts[segmentIndex] = body + tail;
          const token = parts.join('.');
          assert.equal(actual(token), reference(token), token);
        }
      }
    }
  });

  it('checks length before anything else, and MAX_TOKEN_LENGTH itself is allowed', () => {
    const fill = (n: number): string => 'A'.repeat(n);
    const exact = `${fill(4)}.${fill(4)}.${fill(MAX_TOKEN_LENGTH - 10)}`;
    assert.equal(exact.length, MAX_TOKEN_LENGTH);
    assert.equal(actual(exact), null);
    assert.equal(actual(`${exact}A`), 'The token is too long.');
    assert.equal(actual(`${exact}.`), 'The token is too long.');
  });

  it('parseCompactJws returns owned copies of the signing input and signature', () => {
    const header = Buffer.from('{"alg":"RS256"}').toString('base64url');
    const payload = Buffer.from('{"sub":"a"}').toString('base64url');
    const first = parseCompactJws(`${header}.${payload}.AQID`);
    const second = parseCompactJws(`${payload}.${header}.BAUG`);
    assert.deepEqual(first.header, { alg: 'RS256' });
    assert.deepEqual(first.payload, { sub: 'a' });
    assert.equal(first.signingInput.toString('latin1'), `${header}.${payload}`);
    assert.deepEqual([...first.signature], [1, 2, 3]);
    assert.deepEqual([...second.signature], [4, 5, 6]);
  });
});
