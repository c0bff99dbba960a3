import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { claimsFromClerkUser, viewsFromClerkUser, type ClerkMembershipPayload } from '../../src/policy/clerk-user.js';
import { derivePrivileges, evaluateAccess } from '../../src/policy/evaluate.js';
import { claimsView, compilePolicy, type CompiledPolicy } from '../../src/policy/policy-compile.js';
import { parsePolicyText } from '../../src/policy/policy-file.js';
import { parseRoleMap } from '../../src/policy/role-map.js';
import { createClerkWebhookHandlers } from '../../src/clerk-webhooks/handlers.js';
import { MemorySyncStore } from '../../src/state/sync-store.js';

function policyOf(yaml: string, roleMap = ''): CompiledPolicy {
  return compilePolicy({ document: parsePolicyText(yaml, 'yaml'), roleMap: parseRoleMap(roleMap).map });
}

describe('evaluateAccess: roles', () => {
  const policy = policyOf(
    `
role:
  - claim: metadata.role
    map: { admin: admin, support: moderator }
  - claim: groups
    map: { chat-mods: moderator, chat-admins: admin }
  - claim: metadata.is_staff
    equals: true
    role: staff
`,
    'org:admin=admin,org:moderator=moderator',
  );

  it('first matching rule wins', () => {
    const claims = { metadata: { role: 'support', is_staff: true }, org_role: 'org:admin', org_id: 'org_1' };
    assert.deepEqual(evaluateAccess({ userId: 'u', claims }, policy), { allowed: true, role: 'moderator', teams: [] });
  });

  it('a list claim matches by map order, not claim order', () => {
    const claims = { groups: ['everyone', 'chat-admins', 'chat-mods'] };
    assert.equal((evaluateAccess({ userId: 'u', claims }, policy) as { role: string }).role, 'moderator');
  });

  it('equals rules match booleans exactly', () => {
    assert.equal((evaluateAccess({ userId: 'u', claims: { metadata: { is_staff: true } } }, policy) as { role: string }).role, 'staff');
    assert.equal((evaluateAccess({ userId: 'u', claims: { metadata: { is_staff: 'true' } } }, policy) as { role: string }).role, 'user');
  });

  it('falls back to STREAM_ROLE_MAP, then user', () => {
    assert.equal(
      (evaluateAccess({ userId: 'u', claims: { metadata: { role: 'nobody' }, org_id: 'o', org_role: 'org:moderator' } }, policy) as { role: string }).role,
      'moderator',
    );
    assert.equal((evaluateAccess({ userId: 'u', claims: { v: 2, o: { id: 'o', rol: 'admin' } } }, policy) as { role: string }).role, 'admin');
    assert.equal((evaluateAccess({ userId: 'u', claims: { org_id: 'o', org_role: 'org:member' } }, policy) as { role: string }).role, 'user');
    assert.equal((evaluateAccess({ userId: 'u', claims: {} }, policy) as { role: string }).role, 'user');
  });

  it('org_role rules read v1 and v2 tokens alike', () => {
    const p = policyOf('role:\n  - claim: org_role\n    map: { "org:moderator": moderator }\n');
    for (const claims of [
      { org_id: 'o', org_role: 'org:moderator' },
      { v: 2, o: { id: 'o', rol: 'moderator' } },
    ]) {
      assert.equal((evaluateAccess({ userId: 'u', claims }, p) as { role: string }).role, 'moderator');
    }
  });

  it('uses default_role when nothing matches', () => {
    const p = policyOf('default_role: guest\n');
    assert.equal((evaluateAccess({ userId: 'u', claims: {} }, p) as { role: string }).role, 'guest');
  });

  it('numbers in claims match string map keys', () => {
    const p = policyOf('role:\n  - claim: metadata.level\n    map: { "3": moderator }\n');
    assert.equal((evaluateAccess({ userId: 'u', claims: { metadata: { level: 3 } } }, p) as { role: string }).role, 'moderator');
  });
});

describe('evaluateAccess: teams', () => {
  it('one team per organization, from v1 and v2 tokens', () => {
    const p = policyOf('teams: { from: org_id }\n');
    assert.deepEqual(evaluateAccess({ userId: 'u', claims: { org_id: 'org_1' } }, p), { allowed: true, role: 'user', teams: ['org_1'] });
    assert.deepEqual(evaluateAccess({ userId: 'u', claims: { v: 2, o: { id: 'org_2' } } }, p), { allowed: true, role: 'user', teams: ['org_2'] });
    assert.deepEqual(evaluateAccess({ userId: 'u', claims: {} }, p), { allowed: true, role: 'user', teams: [] });
  });

  it('from a claim path holding a string or an array, with a prefix', () => {
    const p = policyOf('teams: { from: metadata.tenants, prefix: "t-" }\n');
    const r1 = evaluateAccess({ userId: 'u', claims: { metadata: { tenants: ['a', ' b ', 'a', '', 7, 'c'] } } }, p);
    assert.deepEqual(r1, { allowed: true, role: 'user', teams: ['t-a', 't-b', 't-c'] });
    const r2 = evaluateAccess({ userId: 'u', claims: { metadata: { tenants: 'solo' } } }, p);
    assert.deepEqual(r2, { allowed: true, role: 'user', teams: ['t-solo'] });
  });

  it('bounds the number and length of teams', () => {
    const p = policyOf('teams: { from: t }\n');
    const many = Array.from({ length: 500 }, (_, i) => `team${i}`);
    const r = evaluateAccess({ userId: 'u', claims: { t: [...many, 'x'.repeat(1000)] } }, p);
    assert.ok(r.allowed);
    assert.equal(r.teams.length, 100);
  });
});

describe('evaluateAccess: allow and deny', () => {
  const policy = policyOf(`
allow:
  require_claims:
    email_verified: true
    metadata.plan: [pro, enterprise]
  require_organizations: [org_1, acme]
deny:
  deny_users: [user_bad]
`);
  const good = { email_verified: true, metadata: { plan: 'pro' }, org_id: 'org_1' };

  it('allows a session meeting every rule', () => {
    assert.deepEqual(evaluateAccess({ userId: 'u', claims: good }, policy), { allowed: true, role: 'user', teams: [] });
  });

  it('denies listed users first', () => {
    const r = evaluateAccess({ userId: 'user_bad', claims: good }, policy);
    assert.deepEqual(r, { allowed: false, rule: 'deny_users', reason: 'this user is not allowed to use chat' });
  });

  it('requires an allowed organization by id or slug', () => {
    assert.equal(evaluateAccess({ userId: 'u', claims: { ...good, org_id: 'org_9', org_slug: 'acme' } }, policy).allowed, true);
    assert.equal(evaluateAccess({ userId: 'u', claims: { ...good, org_id: undefined, v: 2, o: { id: 'org_9', slg: 'acme' } } }, policy).allowed, true);
    const other = evaluateAccess({ userId: 'u', claims: { ...good, org_id: 'org_9' } }, policy);
    assert.deepEqual(other, { allowed: false, rule: 'require_organizations', reason: 'the active organization is not allowed to use chat' });
    const none = evaluateAccess({ userId: 'u', claims: { email_verified: true, metadata: { plan: 'pro' } } }, policy);
    assert.deepEqual(none, { allowed: false, rule: 'require_organizations', reason: 'an active organization is required' });
  });

  it('requires claims by exact equality', () => {
    for (const claims of [
      { ...good, email_verified: false },
      { ...good, email_verified: 'true' },
      { ...good, email_verified: undefined },
      { ...good, metadata: { plan: 'free' } },
      { ...good, metadata: {} },
    ]) {
      const r = evaluateAccess({ userId: 'u', claims }, policy);
      assert.equal(r.allowed, false);
      assert.equal((r as { rule: string }).rule, 'require_claims');
      assert.match((r as { reason: string }).reason, /claim "(email_verified|metadata\.plan)" does not have a required value/);
    }
    assert.equal(evaluateAccess({ userId: 'u', claims: { ...good, metadata: { plan: 'enterprise' } } }, policy).allowed, true);
  });

  it('an empty policy allows everyone as user', () => {
    assert.deepEqual(evaluateAccess({ userId: 'u', claims: {} }, compilePolicy()), { allowed: true, role: 'user', teams: [] });
  });

  it('never throws and always gives a valid role, whatever the claims', () => {
    const p = policyOf(
      `
role:
  - claim: metadata.role
    map: { admin: admin }
  - claim: a.b[0].c
    equals: 1
    role: moderator
teams: { from: org_id, prefix: "o-" }
allow:
  require_claims: { "x.y": [true, 1, "a"] }
`,
      'org:admin=admin',
    );
    fc.assert(
      fc.property(fc.string(), fc.jsonValue(), fc.dictionary(fc.string(), fc.jsonValue()), (userId, extra, claims) => {
        const input = { userId, claims: { ...claims, metadata: extra, o: extra, org_id: extra, x: { y: extra } } };
        const r = evaluateAccess(input, p);
        if (r.allowed) {
          assert.match(r.role, /^[a-z0-9_-]+$/);
          assert.ok(r.teams.every((t) => typeof t === 'string' && t.startsWith('o-')));
        } else {
          assert.equal(typeof r.reason, 'string');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('privileges from Clerk webhook objects', () => {
  const policy = policyOf(
    `
role:
  - claim: metadata.role
    map: { admin: admin }
teams: { from: org_id }
`,
    'org:admin=admin,org:moderator=moderator',
  );

  it('rebuilds claims from a Clerk user object', () => {
    const claims = claimsFromClerkUser({
      id: 'user_1',
      first_name: 'Ada',
      last_name: null,
      username: 'ada',
      image_url: 'https://img.clerk.com/x',
      primary_email_address_id: 'idn_2',
      email_addresses: [
        { id: 'idn_1', email_address: 'old@example.com', verification: { status: 'unverified' } },
        { id: 'idn_2', email_address: 'ada@example.com', verification: { status: 'verified' } },
      ],
      public_metadata: { role: 'admin' },
    });
    assert.deepEqual(claims, {
      sub: 'user_1',
      first_name: 'Ada',
      username: 'ada',
      image_url: 'https://img.clerk.com/x',
      email: 'ada@example.com',
      email_verified: true,
      public_metadata: { role: 'admin' },
      metadata: { role: 'admin' },
    });
  });

  it('several memberships: union of teams, earliest STREAM_ROLE_MAP entry wins', () => {
    const views = viewsFromClerkUser({
      id: 'user_1',
      organization_memberships: [
        { role: 'org:member', organization: { id: 'org_a', slug: 'a' } },
        { role: 'org:moderator', organization: { id: 'org_b' } },
        { role: 'org:admin', organization: { id: 'org_c' } },
        { role: 'org:admin', organization: null },
      ],
    });
    assert.equal(views.length, 3);
    assert.deepEqual(derivePrivileges(views, policy), { role: 'admin', teams: ['org_a', 'org_b', 'org_c'] });
  });

  it('no memberships: one view without an organization; metadata rules apply', () => {
    const views = viewsFromClerkUser({ id: 'user_1', public_metadata: { role: 'admin' }, organization_memberships: null });
    assert.equal(views.length, 1);
    assert.deepEqual(derivePrivileges(views, policy), { role: 'admin', teams: [] });
    assert.deepEqual(derivePrivileges([claimsView({ sub: 'x' })], policy), { role: 'user', teams: [] });
  });
});

describe('evaluateAccess: what each rule kind matches, exactly', () => {
  const roleOf = (claims: Record<string, unknown>, p: CompiledPolicy): string => {
    const r = evaluateAccess({ userId: 'u', claims }, p);
    assert.ok(r.allowed);
    return r.role;
  };

  it('map on a list claim: only a listed value gives a role, never the first entry by default', () => {
    const p = policyOf('role:\n  - claim: groups\n    map: { chat-mods: moderator, chat-admins: admin }\n');
    assert.equal(roleOf({ groups: ['everyone'] }, p), 'user');
    assert.equal(roleOf({ groups: ['everyone', 'staff', 7, true, null] }, p), 'user');
    assert.equal(roleOf({ groups: [] }, p), 'user');
    assert.equal(roleOf({ groups: ['Chat-Mods', 'chat-mods '] }, p), 'user', 'compared exactly');
    assert.equal(roleOf({ groups: ['everyone', 'chat-admins'] }, p), 'admin', 'a later map entry alone');
  });

  it('equals on a list claim: the list must contain the value', () => {
    const p = policyOf('role:\n  - claim: groups\n    equals: staff\n    role: moderator\n');
    assert.equal(roleOf({ groups: ['everyone'] }, p), 'user');
    assert.equal(roleOf({ groups: [] }, p), 'user');
    assert.equal(roleOf({ groups: ['Staff', 'staff ', ['staff']] }, p), 'user');
    assert.equal(roleOf({ groups: ['everyone', 'staff'] }, p), 'moderator');
  });

  it('map on a boolean claim: true and false match the keys "true" and "false", and nothing else does', () => {
    const p = policyOf('role:\n  - claim: metadata.staff\n    map: { "true": moderator, "false": guest }\n');
    assert.equal(roleOf({ metadata: { staff: true } }, p), 'moderator');
    assert.equal(roleOf({ metadata: { staff: false } }, p), 'guest');
    assert.equal(roleOf({ metadata: { staff: [false] } }, p), 'guest');
    assert.equal(roleOf({ metadata: { staff: [true, false] } }, p), 'moderator');
    for (const staff of [null, {}, { a: true }, 'yes', 1, 0]) {
      assert.equal(roleOf({ metadata: { staff } }, p), 'user', JSON.stringify(staff));
    }
  });

  it('a team name of exactly 100 characters, prefix included, is kept; 101 is dropped', () => {
    const p = policyOf('teams: { from: t, prefix: "org-" }\n');
    const at = 'a'.repeat(100 - 'org-'.length);
    const past = 'b'.repeat(101 - 'org-'.length);
    const r = evaluateAccess({ userId: 'u', claims: { t: [at, past, 'c'] } }, p);
    assert.deepEqual(r, { allowed: true, role: 'user', teams: [`org-${at}`, 'org-c'] });
    assert.equal(`org-${at}`.length, 100);
  });
});

describe('require_organizations: an unlisted organization is refused whatever its slug', () => {
  const policy = policyOf('allow:\n  require_organizations: [org_1, acme]\n');
  const refused = { allowed: false, rule: 'require_organizations', reason: 'the active organization is not allowed to use chat' };

  it('an unlisted id with an unlisted slug is refused, in v1 and v2 tokens', () => {
    assert.deepEqual(evaluateAccess({ userId: 'u', claims: { org_id: 'org_9', org_slug: 'other' } }, policy), refused);
    assert.deepEqual(evaluateAccess({ userId: 'u', claims: { v: 2, o: { id: 'org_9', slg: 'other' } } }, policy), refused);
    assert.deepEqual(evaluateAccess({ userId: 'u', claims: { org_id: 'org_9', org_slug: 'org_10' } }, policy), refused);
  });

  it('a listed slug or id is allowed', () => {
    assert.equal(evaluateAccess({ userId: 'u', claims: { org_id: 'org_9', org_slug: 'acme' } }, policy).allowed, true);
    assert.equal(evaluateAccess({ userId: 'u', claims: { org_id: 'org_1', org_slug: 'other' } }, policy).allowed, true);
  });
});

describe('webhook sync: a user in several organizations gets the role of the best mapped membership', () => {
  const policy = policyOf('teams: { from: org_id }\n', 'org:admin=admin,org:moderator=moderator');
  const member = (role: string, id: string): ClerkMembershipPayload => ({ role, organization: { id } });

  async function syncedRole(memberships: ClerkMembershipPayload[]): Promise<string | undefined> {
    const upserted: Array<{ role?: string }> = [];
    const handlers = createClerkWebhookHandlers({
      sync: {
        onUserUpserted: async (user) => void upserted.push(user),
        onUserDeleted: async () => {},
        revokeTokens: async () => {},
        onMembershipChanged: async () => {},
      },
      policy,
      onUserDeleted: 'deactivate',
      events: new MemorySyncStore(),
    });
    await handlers.userUpserted(
      { id: 'user_1', organization_memberships: memberships },
      { type: 'user.updated', id: 'msg_1', deliveredAt: new Date(0), occurredAt: new Date(0) },
    );
    assert.equal(upserted.length, 1);
    return upserted[0]?.role;
  }

  it('member, then moderator: moderator (not the first STREAM_ROLE_MAP entry)', async () => {
    assert.equal(await syncedRole([member('org:member', 'org_a'), member('org:moderator', 'org_b')]), 'moderator');
    assert.equal(await syncedRole([member('org:moderator', 'org_a'), member('org:member', 'org_b')]), 'moderator');
  });

  it('members only: user; an admin membership anywhere: admin', async () => {
    assert.equal(await syncedRole([member('org:member', 'org_a'), member('org:member', 'org_b')]), 'user');
    assert.equal(await syncedRole([member('org:member', 'org_a'), member('org:moderator', 'org_b'), member('org:admin', 'org_c')]), 'admin');
  });
});
