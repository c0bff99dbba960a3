import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBase64Url, decodeBase64UrlToString, decodeUtf8Strict, encodeBase64Url, isBase64Url, isBase64UrlRange } from '../../src/identity/base64url.js';

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

  it('agrees with a strict TextDecoder on any bytes, and keeps a byte-order mark', () => {
    const reference = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const decode = (decoder: (bytes: Uint8Array) => string, bytes: Uint8Array): string | null => {
      try {
        return decoder(bytes);
      } catch (error) {
        assert.ok(error instanceof TypeError);
        return null;
      }
    };
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 20 }).map((text) => new Uint8Array(Buffer.from(text, 'utf8'))),
      fc
        .array(fc.constantFrom(0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x8f, 0x90), { maxLength: 12 })
        .map((values) => new Uint8Array(values)),
    );
    fc.assert(
      fc.property(bytes, (input) => {
        assert.equal(
          decode(decodeUtf8Strict, input),
          decode((b) => reference.decode(b), input),
        );
        assert.equal(
          decode(decodeUtf8Strict, Buffer.from(input)),
          decode((b) => reference.decode(b), input),
        );
      }),
      { numRuns: 3000 },
    );
    assert.equal(decodeUtf8Strict(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])), '\uFEFFA');
  });

  it('judges a range inside a longer string as it judges the range alone', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...ALPHABET, '.', '=', '+', ' ', 'é'), maxLength: 30 }), fc.nat(30), fc.nat(30), (text, a, b) => {
        const start = Math.min(a, b, text.length);
        const end = Math.min(Math.max(a, b), text.length);
        assert.equal(isBase64UrlRange(text, start, end), isBase64Url(text.slice(start, end)));
      }),
      { numRuns: 2000 },
    );
  });
});
