import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeClerkOrgClaims } from '../../src/policy/clerk-org.js';
import { evaluateAccess } from '../../src/policy/evaluate.js';
import { compilePolicy } from '../../src/policy/policy-compile.js';
import { parseRoleMap } from '../../src/policy/role-map.js';

const v1 = { sub: 'user_1', org_id: 'org_1', org_role: 'org:admin', org_slug: 'acme' };
const v2 = { sub: 'user_1', v: 2, o: { id: 'org_1', rol: 'admin', slg: 'acme', per: 'read,write' } };

describe('normalizeClerkOrgClaims', () => {
  it('reads session token v1 claims', () => {
    assert.deepEqual(normalizeClerkOrgClaims(v1), { orgId: 'org_1', orgRole: 'org:admin', orgSlug: 'acme' });
  });

  it('reads session token v2 claims and prefixes the role', () => {
    assert.deepEqual(normalizeClerkOrgClaims(v2), { orgId: 'org_1', orgRole: 'org:admin', orgSlug: 'acme' });
  });

  it('keeps an existing org: prefix in v2 and prefixes bare v1 roles', () => {
    assert.equal(normalizeClerkOrgClaims({ v: 2, o: { id: 'org_1', rol: 'org:billing' } })?.orgRole, 'org:billing');
    assert.equal(normalizeClerkOrgClaims({ org_id: 'org_1', org_role: 'basic_member' })?.orgRole, 'org:basic_member');
  });

  it('returns null without an active organization', () => {
    assert.equal(normalizeClerkOrgClaims({ sub: 'u' }), null);
    assert.equal(normalizeClerkOrgClaims({ v: 2 }), null);
    assert.equal(normalizeClerkOrgClaims({ v: 2, o: { rol: 'admin' } }), null);
    assert.equal(normalizeClerkOrgClaims({ v: 2, org_id: 'org_legacy' }), null, 'v2 tokens are read from o only');
    assert.equal(normalizeClerkOrgClaims({ org_id: 42 }), null);
    assert.equal(normalizeClerkOrgClaims({ org_id: '  ' }), null);
  });

  it('leaves out missing role and slug', () => {
    assert.deepEqual(normalizeClerkOrgClaims({ org_id: 'org_1' }), { orgId: 'org_1' });
    assert.deepEqual(normalizeClerkOrgClaims({ v: 2, o: { id: 'org_1', rol: 7 } }), { orgId: 'org_1' });
  });

  it('v1 and v2 both map org:admin through STREAM_ROLE_MAP', () => {
    const policy = compilePolicy({ roleMap: parseRoleMap('org:admin=admin,org:moderator=moderator').map });
    for (const claims of [v1, v2]) {
      assert.deepEqual(evaluateAccess({ userId: 'user_1', claims }, policy), { allowed: true, role: 'admin', teams: [] });
    }
    const member = evaluateAccess({ userId: 'user_1', claims: { v: 2, o: { id: 'org_1', rol: 'member' } } }, policy);
    assert.deepEqual(member, { allowed: true, role: 'user', teams: [] });
  });
});
