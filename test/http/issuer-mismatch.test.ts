/**
 * A token from an issuer that is not configured names both sides: the
 * problem's detail carries the token's `iss` (and says when only a trailing
 * slash or letter case differs), the request's log line also lists the
 * configured issuers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNamedIssuerApp, type NamedIssuerApp } from '../support/harness.js';

const CONFIGURED = 'https://my-app.clerk.accounts.dev';

let named: NamedIssuerApp;

before(async () => {
  named = await startNamedIssuerApp(CONFIGURED);
});

after(() => named.close());

async function refusalFor(iss: string | undefined): Promise<{ status: number; code: string; detail: string; line: Record<string, unknown> | undefined }> {
  const { t } = named;
  const response = await t.app.inject({ method: 'POST', url: '/stream/token', headers: { authorization: `Bearer ${named.token({ iss })}` } });
  const body = response.json() as { code: string; detail: string };
  const line = t.logs.records.find((r) => r.msg === 'request' && r.reqId === response.headers['x-request-id']);
  return { status: response.statusCode, code: body.code, detail: body.detail, line };
}

describe('a token from an issuer that is not configured', () => {
  const cases = [
    {
      name: 'a trailing slash',
      iss: `${CONFIGURED}/`,
      detail: `The token issuer "${CONFIGURED}/" is not trusted: it differs from a trusted issuer only by a trailing slash.`,
      differsOnlyBy: 'a trailing slash',
    },
    {
      name: 'letter case',
      iss: 'https://My-App.clerk.accounts.dev',
      detail: 'The token issuer "https://My-App.clerk.accounts.dev" is not trusted: it differs from a trusted issuer only by letter case.',
      differsOnlyBy: 'letter case',
    },
    {
      name: 'both',
      iss: 'https://MY-APP.clerk.accounts.dev/',
      detail:
        'The token issuer "https://MY-APP.clerk.accounts.dev/" is not trusted: it differs from a trusted issuer only by a trailing slash and letter case.',
      differsOnlyBy: 'a trailing slash and letter case',
    },
    {
      name: 'another host (a custom Clerk domain)',
      iss: 'https://clerk.my-app.com',
      detail: 'The token issuer "https://clerk.my-app.com" is not trusted.',
      differsOnlyBy: undefined,
    },
    {
      name: 'another dev port',
      iss: 'http://localhost:8081/dev',
      detail: 'The token issuer "http://localhost:8081/dev" is not trusted.',
      differsOnlyBy: undefined,
    },
  ];
  for (const c of cases) {
    it(`differing by ${c.name}: the detail names the token's iss, the log line both sides`, async () => {
      const refusal = await refusalFor(c.iss);
      assert.equal(refusal.status, 401);
      assert.equal(refusal.code, 'invalid_issuer');
      assert.equal(refusal.detail, c.detail);
      assert.ok(refusal.line, 'the request was logged');
      assert.equal(refusal.line.code, 'invalid_issuer');
      assert.equal(refusal.line.iss, c.iss);
      assert.deepEqual(refusal.line.trustedIssuers, [CONFIGURED]);
      assert.equal(refusal.line.differsOnlyBy, c.differsOnlyBy);
      assert.equal(refusal.line.nearestIssuer, c.differsOnlyBy === undefined ? undefined : CONFIGURED);
    });
  }

  it('a token naming no issuer: the log line lists the trusted ones', async () => {
    const refusal = await refusalFor(undefined);
    assert.equal(refusal.code, 'invalid_issuer');
    assert.equal(refusal.detail, 'The token names no issuer.');
    assert.deepEqual(refusal.line?.trustedIssuers, [CONFIGURED]);
  });

  it('shows at most 200 characters of a long iss, in the detail and the log', async () => {
    const iss = `https://${'a'.repeat(400)}.example.com`;
    const refusal = await refusalFor(iss);
    assert.equal(refusal.code, 'invalid_issuer');
    assert.equal(refusal.detail, `The token issuer "${iss.slice(0, 200)}…" is not trusted.`);
    assert.equal(refusal.line?.iss, `${iss.slice(0, 200)}…`);
  });

  it('the configured issuer itself is accepted', async () => {
    const response = await named.t.app.inject({
      method: 'POST',
      url: '/stream/token',
      headers: { authorization: `Bearer ${named.token()}` },
    });
    assert.equal(response.statusCode, 200, response.body);
  });
});
