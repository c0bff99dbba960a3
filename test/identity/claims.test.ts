import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertAudienceClaim,
  assertAuthorizedParty,
  assertSessionClaims,
  assertSessionState,
  assertTimeClaims,
  extractUserId,
} from '../../src/identity/claims.js';
import { SessionTokenError, type SessionTokenErrorCode } from '../../src/identity/errors.js';
import { issuerOptions } from '../support/identity.js';

const NOW = 1_750_000_000;
const SKEW = 5;

function throwsCode(fn: () => unknown, code: SessionTokenErrorCode): void {
  assert.throws(fn, (error: unknown) => error instanceof SessionTokenError && error.code === code);
}

describe('time claims', () => {
  it('treats exp + skew <= now as expired, to the second', () => {
    assert.equal(assertTimeClaims({ exp: NOW - SKEW + 1 }, NOW, SKEW), NOW - SKEW + 1);
    throwsCode(() => assertTimeClaims({ exp: NOW - SKEW }, NOW, SKEW), 'token_expired');
    assert.equal(assertTimeClaims({ exp: NOW - SKEW + 0.5 }, NOW, SKEW), NOW - SKEW + 0.5);
  });

  it('treats nbf or iat later than now + skew as not yet valid', () => {
    assertTimeClaims({ exp: NOW + 60, nbf: NOW + SKEW, iat: NOW + SKEW }, NOW, SKEW);
    throwsCode(() => assertTimeClaims({ exp: NOW + 60, nbf: NOW + SKEW + 1 }, NOW, SKEW), 'token_not_yet_valid');
    throwsCode(() => assertTimeClaims({ exp: NOW + 60, iat: NOW + SKEW + 0.001 }, NOW, SKEW), 'token_not_yet_valid');
  });

  it('requires exp and finite numbers', () => {
    throwsCode(() => assertTimeClaims({}, NOW, SKEW), 'malformed_token');
    for (const bad of ['1750000060', null, true, [NOW], Infinity, -Infinity, NaN]) {
      throwsCode(() => assertTimeClaims({ exp: bad }, NOW, SKEW), 'malformed_token');
      throwsCode(() => assertTimeClaims({ exp: NOW + 60, nbf: bad }, NOW, SKEW), 'malformed_token');
      throwsCode(() => assertTimeClaims({ exp: NOW + 60, iat: bad }, NOW, SKEW), 'malformed_token');
    }
  });

  it('ignores inherited properties', () => {
    const payload = Object.create({ exp: NOW + 60 }) as Record<string, unknown>;
    throwsCode(() => assertTimeClaims(payload, NOW, SKEW), 'malformed_token');
  });
});

describe('audience and authorized party', () => {
  it('needs one configured audience in aud when configured', () => {
    assertAudienceClaim({}, undefined);
    assertAudienceClaim({}, []);
    assertAudienceClaim({ aud: 'api' }, ['api']);
    assertAudienceClaim({ aud: ['x', 'api'] }, ['other', 'api']);
    for (const aud of [undefined, 'x', ['x'], [], 7, { api: true }, [['api']]]) {
      throwsCode(() => assertAudienceClaim({ aud }, ['api']), 'invalid_audience');
    }
  });

  it('checks azp against the list, and its presence when required', () => {
    assertAuthorizedParty({}, ['https://app'], false);
    assertAuthorizedParty({ azp: 'https://app' }, ['https://app'], true);
    assertAuthorizedParty({ azp: 'https://anything' }, [], false);
    throwsCode(() => assertAuthorizedParty({}, ['https://app'], true), 'unauthorized_party');
    throwsCode(() => assertAuthorizedParty({ azp: 'https://app.evil' }, ['https://app'], false), 'unauthorized_party');
    throwsCode(() => assertAuthorizedParty({ azp: ['https://app'] }, ['https://app'], false), 'unauthorized_party');
    throwsCode(() => assertAuthorizedParty({ azp: null }, [], false), 'unauthorized_party');
  });
});

describe('user id and session state', () => {
  it('accepts Stream user ids of 1 to 255 characters', () => {
    assert.equal(extractUserId({ sub: 'a' }, 'sub'), 'a');
    assert.equal(extractUserId({ uid: 'user@example_com-1' }, 'uid'), 'user@example_com-1');
    assert.equal(extractUserId({ sub: 'x'.repeat(255) }, 'sub'), 'x'.repeat(255));
    for (const sub of [undefined, '', 'x'.repeat(256), 42, ['a'], 'a b', 'a.b', 'a/b', 'ü', 'a\n', 'a\u0000', '😀']) {
      throwsCode(() => extractUserId({ sub }, 'sub'), 'invalid_subject');
    }
  });

  it('refuses pending sessions and impersonation unless allowed', () => {
    assertSessionState({ sts: 'active' }, false);
    assertSessionState({ act: null }, false);
    assertSessionState({ act: { sub: 'admin' } }, true);
    throwsCode(() => assertSessionState({ sts: 'pending' }, true), 'session_pending');
    throwsCode(() => assertSessionState({ act: { sub: 'admin' } }, false), 'impersonation_not_allowed');
    throwsCode(() => assertSessionState({ act: 'admin' }, false), 'impersonation_not_allowed');
  });

  it('runs every check in assertSessionClaims', () => {
    const issuer = issuerOptions({ kind: 'oidc', issuer: 'https://id.example.test', userIdClaim: 'uid', audience: ['api'] });
    const good = { iss: issuer.issuer, uid: 'user_1', aud: 'api', exp: NOW + 60 };
    assert.deepEqual(assertSessionClaims(good, issuer, NOW * 1000 + 999, SKEW), { userId: 'user_1', expiresAt: NOW + 60 });
    throwsCode(() => assertSessionClaims({ ...good, iss: `${issuer.issuer}/` }, issuer, NOW * 1000, SKEW), 'invalid_issuer');
    throwsCode(() => assertSessionClaims({ ...good, aud: 'web' }, issuer, NOW * 1000, SKEW), 'invalid_audience');
    throwsCode(() => assertSessionClaims({ ...good, uid: undefined, sub: 'user_1' }, issuer, NOW * 1000, SKEW), 'invalid_subject');
  });
});
