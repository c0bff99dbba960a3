import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeBase64Url,
  decodeBase64UrlToString,
  encodeBase64Url,
  isBase64Url,
} from '../../src/identity/base64url.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('strict base64url', () => {
  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const encoded = encodeBase64Url(bytes);
        assert.equal(isBase64Url(encoded), true);
        assert.deepEqual(new Uint8Array(decodeBase64Url(encoded)), bytes);
      }),
    );
  });

  it('accepts exactly the canonical encodings: one text per byte string', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 40 }), (text) => {
        const canonical = text.length % 4 !== 1 && Buffer.from(text, 'base64url').toString('base64url') === text;
        assert.equal(isBase64Url(text), canonical, text);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses padding, whitespace, the standard alphabet and non-ASCII', () => {
    for (const text of ['QQ==', 'QQ=', 'QUJD\n', ' QUJD', 'QU JD', 'a+b/', 'QUJD\u0000', 'QUJé', '\uFF21\uFF21', 'A', 'AAAAA']) {
      assert.equal(isBase64Url(text), false, JSON.stringify(text));
      assert.throws(() => decodeBase64Url(text), TypeError);
    }
    assert.equal(isBase64Url(''), true);
  });

  it('refuses the non-canonical spellings a lenient decoder maps to the same bytes', () => {
    // "QQ" is "A" and "QUI" is "AB"; lenient decoders read the variants below as the same bytes.
    for (const variant of ['QR', 'QS', 'QT', 'QV', 'Qf', 'QUJ', 'QUK', 'QUL']) {
      assert.equal(isBase64Url(variant), false, variant);
      assert.equal(Buffer.from(variant, 'base64url').toString('base64url'), variant.length === 2 ? 'QQ' : 'QUI');
    }
    assert.equal(isBase64Url('QQ'), true);
    assert.equal(isBase64Url('QUI'), true);
  });

  it('decodes text strictly as UTF-8', () => {
    assert.equal(decodeBase64UrlToString(encodeBase64Url('héllo ✓')), 'héllo ✓');
    assert.throws(() => decodeBase64UrlToString(encodeBase64Url(new Uint8Array([0xc3, 0x28]))), TypeError);
    assert.throws(() => decodeBase64UrlToString(encodeBase64Url(new Uint8Array([0xed, 0xa0, 0x80]))), TypeError);
  });
});
