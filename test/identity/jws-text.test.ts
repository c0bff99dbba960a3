import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isBase64Url } from '../../src/identity/base64url.js';
import { SessionTokenError } from '../../src/identity/errors.js';
import { MAX_TOKEN_LENGTH, parseCompactJws, readCompactJws, splitCompactJws } from '../../src/identity/jws.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The rules of a compact JWS's text, spelled out one by one: what splitCompactJws and readCompactJws must decide. */
function reference(token: string): string | null {
  if (token.length > MAX_TOKEN_LENGTH) return 'The token is too long.';
  const parts = token.split('.');
  if (parts.length !== 3) return 'The token must have exactly three segments.';
  if (parts.some((part) => part.length === 0)) return 'A token segment is empty.';
  if (!parts.every(isBase64Url)) return 'A token segment is not canonical base64url.';
  return null;
}

/** The text verdict: the JSON errors come only after every text check passed, so they count as accepted text. */
function actual(token: string): string | null {
  try {
    assert.equal(splitCompactJws(token), token.indexOf('.'));
    readCompactJws(token, token.indexOf('.'), token.lastIndexOf('.'), false);
    return null;
  } catch (error) {
    assert.ok(error instanceof SessionTokenError);
    assert.equal(error.code, 'malformed_token');
    return /^The token (header|payload) is not (valid JSON|a JSON object)\.$/.test(error.message) ? null : error.message;
  }
}

type Read = { error: string } | { header: unknown; payload: unknown };

/** A segment's JSON as the rules say: strict UTF-8 (a byte-order mark is kept, so JSON refuses it), then a JSON object. */
function referenceJson(segment: string, part: 'header' | 'payload'): { error: string } | { value: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Buffer.from(segment, 'base64url')));
  } catch {
    return { error: `The token ${part} is not valid JSON.` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: `The token ${part} is not a JSON object.` };
  return { value };
}

/** The text rules, then the header's JSON (unless the header is known), then the payload's. */
function referenceRead(token: string, headerKnown: boolean): Read {
  const text = reference(token);
  if (text !== null) return { error: text };
  const [header, payload] = token.split('.') as [string, string, string];
  const headerJson = headerKnown ? { value: null } : referenceJson(header, 'header');
  if ('error' in headerJson) return headerJson;
  const payloadJson = referenceJson(payload, 'payload');
  if ('error' in payloadJson) return payloadJson;
  return { header: headerJson.value, payload: payloadJson.value };
}

function actualRead(token: string, headerKnown: boolean): Read {
  try {
    return readCompactJws(token, splitCompactJws(token), token.lastIndexOf('.'), headerKnown);
  } catch (error) {
    assert.ok(error instanceof SessionTokenError);
    assert.equal(error.code, 'malformed_token');
    return { error: error.message };
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

  it('readCompactJws decides each token as the text rules, then the header JSON, then the payload JSON would', () => {
    const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');
    const segment = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }).map((value) => b64(JSON.stringify(value) ?? 'null')),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 })).map((value) => b64(JSON.stringify(value))),
      fc.uint8Array({ maxLength: 24 }).map(b64),
      fc.constantFrom('\uFEFF{}', '{"a":1}\u0000', '{"a":"\uD800"}', '{}{}', ' {} ').map(b64),
      fc.constant(b64(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]))),
    );
    // Canonical segments, then sometimes a character changed, added or taken away, or the dots moved.
    const token = fc
      .tuple(
        segment,
        segment,
        segment,
        fc.nat(),
        fc.constantFrom('', 'A', 'B', 'Q', '=', '+', '/', ' ', '.', '\u00e9', '\uD800', '\uFF21', 'drop'),
        fc.boolean(),
      )
      .map(([h, p, sig, at, change, mutate]) => {
        const whole = `${h}.${p}.${sig}`;
        if (!mutate) return whole;
        const i = at % (whole.length + 1);
        return change === 'drop' ? whole.slice(0, i) + whole.slice(i + 1) : whole.slice(0, i) + change + whole.slice(i + 1);
      });
    fc.assert(
      fc.property(token, fc.boolean(), (value, known) => {
        // A header may only be called known when its segment passed the text checks.
        const headerKnown = known && isBase64Url(value.split('.')[0] ?? '');
        assert.deepEqual(actualRead(value, headerKnown), referenceRead(value, headerKnown), JSON.stringify(value));
      }),
      { numRuns: 20_000 },
    );
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
