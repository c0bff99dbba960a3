import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { bearerToken } from '../../src/http/bearer.js';
import { ProblemError } from '../../src/http/problem.js';

/** The rule bearerToken implements, written down here on its own as the reference. */
const BEARER = /^bearer[ \t]+([^ \t]+)[ \t]*$/i;

/** bearerToken restated independently (the regular expression, then the refusals): the reference for the differential test. */
function bearerTokenByRegExp(header: string | undefined): string {
  if (header === undefined || header === '')
    throw new ProblemError({ code: 'missing_token', detail: 'Send the session token as Authorization: Bearer <token>.' });
  const match = BEARER.exec(header);
  if (match === null) {
    if (/^bearer\b/i.test(header) && header.trim().length > 6) {
      throw new ProblemError({ code: 'malformed_token', detail: 'The Authorization header must hold exactly one token.' });
    }
    throw new ProblemError({ code: 'missing_token', detail: 'Send the session token as Authorization: Bearer <token>.' });
  }
  return match[1] as string;
}

type Outcome = { token: string } | { code: string; status: number; detail: string | undefined };

function outcome(header: string | undefined, parse: (header: string | undefined) => string = bearerToken): Outcome {
  try {
    return { token: parse(header) };
  } catch (error) {
    assert.ok(error instanceof ProblemError, `threw ${String(error)}`);
    return { code: error.code, status: error.status, detail: error.detail };
  }
}

test('bearerToken takes the credential of a Bearer header, in any case, with spaces or tabs around it', () => {
  for (const header of ['Bearer abc', 'bearer abc', 'BEARER abc', 'BeArEr abc', 'Bearer \t abc', 'Bearer\tabc', 'Bearer abc  ', 'Bearer abc\t']) {
    assert.deepEqual(outcome(header), { token: 'abc' }, header);
  }
});

test('bearerToken refuses two credentials as malformed_token and anything else as missing_token', () => {
  assert.equal((outcome('Bearer abc def') as { code: string }).code, 'malformed_token');
  assert.equal((outcome('Bearer abc\tdef') as { code: string }).code, 'malformed_token');
  assert.equal((outcome('Bearer-abc') as { code: string }).code, 'malformed_token');
  for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Bearer \t ', 'Basic abc', 'Bearerabc', 'Token abc', ' Bearer abc', 'Beare abc']) {
    assert.equal((outcome(header) as { code?: string }).code, 'missing_token', JSON.stringify(header));
  }
});

test('bearerToken answers every header exactly as the regular expression reference', () => {
  const piece = fc.constantFrom(
    'Bearer',
    'bearer',
    'BEARER',
    'bEaReR',
    'Bearer ',
    ' ',
    '\t',
    '  ',
    'x',
    'eyJ',
    '.',
    '-',
    '\r',
    '\n',
    'ſ',
    'İ',
    'K',
    'é',
    '\u0000',
    '\u00a0',
    '\u3000',
    'b',
    'r',
  );
  const header = fc.oneof(
    fc.array(piece, { maxLength: 12 }).map((parts) => parts.join('')),
    fc
      .tuple(
        fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Bearer\t'),
        fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 }),
        fc.string({ maxLength: 40 }),
        fc.string({ unit: fc.constantFrom(' ', '\t', 'a'), maxLength: 3 }),
      )
      .map(([scheme, gap, token, tail]) => `${scheme}${gap}${token}${tail}`),
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 30 }).map((s) => `Bearer ${s}`),
  );
  fc.assert(
    fc.property(header, (value) => {
      assert.deepEqual(outcome(value), outcome(value, bearerTokenByRegExp), JSON.stringify(value));
    }),
    { numRuns: 20_000 },
  );
});

test('every scheme other than Bearer (any case) is missing_token, even one letter away from it', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl';
  const missing = { code: 'missing_token', status: 401, detail: 'Send the session token as Authorization: Bearer <token>.' };
  for (const scheme of ['Digest', 'Basic', 'Token', 'Negotiate', 'DPoP', 'MAC', 'JWT', 'OAuth', 'Bearerx', 'XBearer']) {
    assert.deepEqual(outcome(`${scheme} ${jwt}`), missing, scheme);
  }
  // Each of the six letters replaced by any other printable ASCII character (or a look-alike), in either case.
  const replacements = [
    ...Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i)),
    '\t',
    'ſ',
    'ß',
    'İ',
    'К',
    '\uFF42',
    '\u0142',
    '\u00e9',
  ];
  let checked = 0;
  for (let position = 0; position < 6; position++) {
    for (const replacement of replacements) {
      if (replacement.toLowerCase() === 'bearer'[position]) continue;
      for (const base of ['Bearer', 'bearer', 'BEARER']) {
        const scheme = base.slice(0, position) + replacement + base.slice(position + 1);
        assert.deepEqual(outcome(`${scheme} ${jwt}`), missing, JSON.stringify(scheme));
        checked++;
      }
    }
  }
  assert.equal(checked, 6 * (replacements.length - 2) * 3);
  assert.deepEqual(outcome(`bEaReR ${jwt}`), { token: jwt }, 'the scheme itself, in any case, still works');
});
