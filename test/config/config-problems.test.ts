/**
 * `check-config` over wrong configurations an operator is likely to write:
 * each gets exactly the problems that name what to change, and no other.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../../src/cli/run.js';

const STREAM = { STREAM_API_KEY: 'k1', STREAM_API_SECRET: 'very-secret-value-xyz' };
const FIELDS =
  'issuer, audience, jwks_uri, algorithms, user_id_claim, allow_mutable_user_id_claim, user_id_prefix, authorized_parties, token_types, allow_machine_tokens';
const NO_PROVIDER = 'CLERK_JWT_ISSUER: no identity provider is configured, so no session token could ever be accepted';
/** `pk_test_` and the base64 of "my-app.clerk.accounts.dev$". */
const PUBLISHABLE_KEY = `pk_test_${Buffer.from('my-app.clerk.accounts.dev$').toString('base64')}`;
const SECRET_KEY = 'sk_test_0123456789abcdefSECRET';

interface Case {
  name: string;
  env: Record<string, string>;
  /** Every problem, as `VARIABLE: message`, each followed by its fix when given. */
  problems: Array<string | [string, string]>;
}

const CASES: Case[] = [
  {
    name: 'an OIDC issuer field in camelCase',
    env: { OIDC_ISSUERS: '[{"issuer":"https://x.eu.auth0.com/","audience":"a","jwksUri":"https://x.eu.auth0.com/jwks"}]' },
    problems: [['OIDC_ISSUERS: [0] unknown field "jwksUri"; did you mean "jwks_uri"?', `rename it to "jwks_uri"; the fields are ${FIELDS}`]],
  },
  {
    name: 'a misspelt OIDC issuer field',
    env: { OIDC_ISSUERS: '[{"issuer":"https://x.eu.auth0.com/","audiance":"a"}]' },
    problems: [['OIDC_ISSUERS: [0] unknown field "audiance"; did you mean "audience"?', `rename it to "audience"; the fields are ${FIELDS}`]],
  },
  {
    name: 'an OIDC issuer field that is nothing like one',
    env: { OIDC_ISSUERS: '[{"issuer":"https://x.eu.auth0.com/","audience":"a","tenant":"x"}]' },
    problems: [['OIDC_ISSUERS: [0] unknown field "tenant"', `remove it; the fields are ${FIELDS}`]],
  },
  {
    name: 'OIDC_ISSUERS that is not JSON',
    env: { OIDC_ISSUERS: "[{issuer:'https://x.eu.auth0.com/'}]" },
    problems: ['OIDC_ISSUERS: is not valid JSON'],
  },
  {
    name: 'a malformed publishable key',
    env: { CLERK_PUBLISHABLE_KEY: 'pk_tset_abc' },
    problems: ['CLERK_PUBLISHABLE_KEY: is not a Clerk publishable key (pk_test_… or pk_live_…)'],
  },
  {
    name: 'a secret key in the publishable key slot',
    env: { CLERK_PUBLISHABLE_KEY: SECRET_KEY },
    problems: [
      [
        'CLERK_PUBLISHABLE_KEY: holds a Clerk secret key (sk_test_…), not the publishable key',
        'set it to the publishable key (pk_test_… or pk_live_…) from Clerk dashboard → API keys; the secret key belongs in CLERK_SECRET_KEY, which is secret',
      ],
    ],
  },
  {
    name: 'a publishable key in the secret key slot, beside a working issuer',
    env: { CLERK_PUBLISHABLE_KEY: PUBLISHABLE_KEY, CLERK_SECRET_KEY: PUBLISHABLE_KEY },
    problems: [
      [
        'CLERK_SECRET_KEY: holds a Clerk publishable key (pk_test_…), not the secret key',
        'set it to the secret key (sk_test_… or sk_live_…) from Clerk dashboard → API keys; the publishable key belongs in CLERK_PUBLISHABLE_KEY',
      ],
    ],
  },
  {
    name: 'a publishable key in the secret key slot and no issuer: two problems, each its own',
    env: { CLERK_SECRET_KEY: PUBLISHABLE_KEY },
    problems: [NO_PROVIDER, 'CLERK_SECRET_KEY: holds a Clerk publishable key (pk_test_…), not the secret key'],
  },
  {
    name: 'a secret key as the webhook secret',
    env: { CLERK_PUBLISHABLE_KEY: PUBLISHABLE_KEY, CLERK_WEBHOOK_SECRET: SECRET_KEY },
    problems: ['CLERK_WEBHOOK_SECRET: holds a Clerk secret key (sk_test_…), not the webhook signing secret'],
  },
  {
    name: 'a publishable key as the Frontend API host',
    env: { CLERK_FRONTEND_API: PUBLISHABLE_KEY },
    problems: [
      [
        'CLERK_FRONTEND_API: holds a Clerk publishable key (pk_test_…), not a host name',
        'set it to the Frontend API host from Clerk dashboard, e.g. your-app.clerk.accounts.dev; the publishable key belongs in CLERK_PUBLISHABLE_KEY',
      ],
    ],
  },
  {
    name: 'a secret key as the PEM public key',
    env: { CLERK_PUBLISHABLE_KEY: PUBLISHABLE_KEY, CLERK_JWT_KEY: SECRET_KEY },
    problems: ['CLERK_JWT_KEY: holds a Clerk secret key (sk_test_…), not a PEM public key'],
  },
  {
    name: 'a plain http Clerk issuer',
    env: { CLERK_JWT_ISSUER: 'http://my-app.clerk.accounts.dev' },
    problems: ['CLERK_JWT_ISSUER: "http://my-app.clerk.accounts.dev" is not an https URL (plain http is allowed only on a loopback address)'],
  },
  {
    name: 'an unreadable secret file of another setting: the missing issuer is still named',
    env: { CLERK_SECRET_KEY_FILE: '/nonexistent/clerk-secret' },
    problems: ['CLERK_SECRET_KEY_FILE: cannot read the file it names (ENOENT)', NO_PROVIDER],
  },
  {
    name: 'an empty OIDC issuer list',
    env: { OIDC_ISSUERS: '[]' },
    problems: [NO_PROVIDER],
  },
];

/** The problems `check-config` prints, as `VARIABLE: message` with the fix line after it. */
function printedProblems(stderr: string): Array<[string, string]> {
  const lines = stderr.split('\n');
  const found: Array<[string, string]> = [];
  lines.forEach((line, i) => {
    const problem = /^ {2}- (.*)$/.exec(line);
    if (problem) found.push([problem[1] as string, (lines[i + 1] ?? '').replace(/^ {6}fix: /, '')]);
  });
  return found;
}

describe('check-config over wrong configurations', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      let out = '';
      let err = '';
      const code = await runCli(['check-config'], {
        env: { NODE_ENV: 'production', ...STREAM, ...c.env },
        cwd: mkdtempSync(join(tmpdir(), 'sts-config-')),
        stdout: (s) => (out += s),
        stderr: (s) => (err += s),
      });
      assert.equal(code, 2, out);
      const printed = printedProblems(err);
      assert.deepEqual(
        printed.map(([problem]) => problem),
        c.problems.map((p) => (typeof p === 'string' ? p : p[0])),
      );
      c.problems.forEach((p, i) => {
        if (typeof p !== 'string') assert.equal(printed[i]?.[1], p[1], p[0]);
      });
      for (const secret of [SECRET_KEY.slice(8), 'very-secret-value-xyz']) assert.ok(!err.includes(secret), 'no secret value is printed');
    });
  }
});
