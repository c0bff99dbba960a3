/**
 * docs/errors.md is held to the service: its table lists exactly the problem
 * codes with the statuses each is sent with, and every example in it is the
 * body the service answers in the situation the page describes, `detail`
 * included (only `request_id` differs).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { PROBLEM_CODES, statusesOf, type ProblemCode } from '../../src/errors/problems.js';
import { startNamedIssuerApp, type NamedIssuerApp } from '../support/harness.js';
import { PROJECT_ROOT } from '../support/process.js';

const ISSUER = 'https://my-app.clerk.accounts.dev';
const page = readFileSync(join(PROJECT_ROOT, 'docs/errors.md'), 'utf8');

let named: NamedIssuerApp;

before(async () => {
  named = await startNamedIssuerApp(ISSUER);
});

after(() => named.close());

const token = (claims: Record<string, unknown>) => named.token(claims);
const post = (headers: Record<string, string>, payload?: string) =>
  named.t.app.inject({ method: 'POST', url: '/stream/token', headers, ...(payload !== undefined ? { payload } : {}) });

/** What each example on the page shows, in the order it shows them: the request that gets that answer. */
const SITUATIONS: Array<[string, () => Promise<LightMyRequestResponse>]> = [
  ['an expired token', () => post({ authorization: `Bearer ${token({ exp: Math.floor(Date.now() / 1000) - 60 })}` })],
  ['an issuer with a trailing slash', () => post({ authorization: `Bearer ${token({ iss: `${ISSUER}/` })}` })],
  ['another issuer', () => post({ authorization: `Bearer ${token({ iss: 'https://clerk.my-app.com' })}` })],
  [
    'a preflight from an origin not allowed',
    () =>
      named.t.app.inject({
        method: 'OPTIONS',
        url: '/stream/token',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
      }),
  ],
  ['GET /stream/token', () => named.t.app.inject({ method: 'GET', url: '/stream/token' })],
  ['a body over 1 KiB', () => post({ 'content-type': 'application/json' }, JSON.stringify({ pad: 'x'.repeat(1100) }))],
  ['a text/plain body', () => post({ 'content-type': 'text/plain' }, '{}')],
];

function jsonExamples(markdown: string): Array<Record<string, unknown>> {
  return [...markdown.matchAll(/^```json\n([\s\S]*?)\n```$/gm)].map((m) => JSON.parse(m[1] as string) as Record<string, unknown>);
}

function tableRows(markdown: string): Array<{ code: string; statuses: number[] }> {
  return [...markdown.matchAll(/^\| `([a-z_]+)` \| ([\d, ]+) \|/gm)].map((m) => ({
    code: m[1] as string,
    statuses: (m[2] as string).split(',').map((s) => Number(s.trim())),
  }));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('docs/errors.md', () => {
  it('lists every problem code once, and no other', () => {
    const codes = tableRows(page).map((row) => row.code);
    assert.equal(new Set(codes).size, codes.length, 'each code once');
    assert.deepEqual([...codes].sort(), [...PROBLEM_CODES].sort());
  });

  it('gives each code the statuses it is sent with', () => {
    for (const row of tableRows(page)) assert.deepEqual(row.statuses, statusesOf(row.code as ProblemCode), row.code);
  });

  it('knows every status the source sends a code with', () => {
    for (const file of sourceFiles(join(PROJECT_ROOT, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/new ProblemError\(\{\s*code: '([a-z_]+)',\s*status: (\d+)/g)) {
        assert.ok(statusesOf(m[1] as ProblemCode).includes(Number(m[2])), `${file}: ${m[1]} with ${m[2]}`);
      }
    }
  });

  it('shows, in each example, the body the service answers', async () => {
    const examples = jsonExamples(page);
    assert.equal(examples.length, SITUATIONS.length, 'every example has its situation here, and every situation its example');
    for (const [i, [situation, request]] of SITUATIONS.entries()) {
      const response = await request();
      const { request_id: sentId, ...sent } = response.json() as Record<string, unknown>;
      const { request_id: shownId, ...shown } = examples[i] as Record<string, unknown>;
      assert.deepEqual(sent, shown, `example ${i + 1}: ${situation}`);
      assert.equal(typeof sentId, 'string');
      assert.match(String(shownId), /^[0-9a-f-]{36}$/);
    }
  });
});
