import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compilePolicy } from '../../src/policy/policy-compile.js';
import {
  loadPolicyFile,
  MAX_POLICY_FILE_BYTES,
  parsePolicyText,
  PolicyFileError,
  policyFormatFor,
  validatePolicyDocument,
} from '../../src/policy/policy-file.js';

const YAML_POLICY = `
version: 1
role:
  - claim: org_role
    map:
      org:admin: admin
      org:moderator: moderator
  - claim: metadata.is_staff
    equals: true
    role: moderator
default_role: user
teams:
  from: org_id
  prefix: "org-"
allow:
  require_claims:
    email_verified: true
  require_organizations: [org_1, acme]
deny:
  deny_users: [user_banned]
`;

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PolicyFileError, `expected PolicyFileError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail('expected a PolicyFileError');
}

describe('policy file', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sts-policy-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses a full YAML policy', () => {
    const doc = parsePolicyText(YAML_POLICY, 'yaml');
    assert.equal(doc.role?.length, 2);
    assert.deepEqual(doc.teams, { from: 'org_id', prefix: 'org-' });
    assert.deepEqual(doc.allow?.require_organizations, ['org_1', 'acme']);
    assert.deepEqual(doc.deny?.deny_users, ['user_banned']);
  });

  it('parses the same policy as JSON', () => {
    const json = JSON.stringify({ role: [{ claim: 'metadata.role', map: { admin: 'admin' } }], teams: { from: 'org_id' } });
    assert.deepEqual(parsePolicyText(json, 'json').teams, { from: 'org_id' });
    assert.deepEqual(parsePolicyText(json, 'auto').teams, { from: 'org_id' });
    assert.deepEqual(parsePolicyText('teams: { from: org_slug }', 'auto').teams, { from: 'org_slug' });
  });

  it('treats an empty document as the empty policy', () => {
    assert.deepEqual(parsePolicyText('', 'yaml'), {});
    assert.deepEqual(parsePolicyText('# nothing\n', 'auto'), {});
  });

  it('chooses the format by extension', () => {
    assert.equal(policyFormatFor('/etc/p.yaml'), 'yaml');
    assert.equal(policyFormatFor('p.YML'), 'yaml');
    assert.equal(policyFormatFor('p.json'), 'json');
    assert.equal(policyFormatFor('policy'), 'auto');
  });

  it('loads YAML, JSON and extensionless files', async () => {
    await writeFile(join(dir, 'p.yaml'), YAML_POLICY);
    await writeFile(join(dir, 'p.json'), JSON.stringify({ deny: { deny_users: ['u1'] } }));
    await writeFile(join(dir, 'policy'), 'deny:\n  deny_users: [u2]\n');
    assert.equal(loadPolicyFile(join(dir, 'p.yaml')).role?.length, 2);
    assert.deepEqual(loadPolicyFile(join(dir, 'p.json')).deny?.deny_users, ['u1']);
    assert.deepEqual(loadPolicyFile(join(dir, 'policy')).deny?.deny_users, ['u2']);
  });

  it('reports an unreadable file and syntax errors', async () => {
    assert.throws(
      () => loadPolicyFile(join(dir, 'missing.yaml')),
      (error: unknown) => {
        assert.ok(error instanceof PolicyFileError);
        assert.match(error.problems[0] ?? '', /cannot read the file \(ENOENT\)/);
        assert.match(error.message, /missing\.yaml/);
        return true;
      },
    );
    await writeFile(join(dir, 'bad.json'), '{"role": [');
    assert.throws(() => loadPolicyFile(join(dir, 'bad.json')), /JSON:/);
    await writeFile(join(dir, 'bad.yaml'), 'role:\n  - claim: a\n   map: x\n');
    assert.throws(() => loadPolicyFile(join(dir, 'bad.yaml')), /YAML:/);
    await writeFile(join(dir, 'dup.yaml'), 'teams: {from: org_id}\nteams: {from: org_slug}\n');
    assert.throws(() => loadPolicyFile(join(dir, 'dup.yaml')), /YAML:.*[Uu]nique|YAML:.*duplicate/i);
  });

  it('refuses a file over 1 MiB without reading it whole, and takes one of exactly 1 MiB', async () => {
    const padded = (size: number) => `deny:\n  deny_users: [u3]\n${'#'.repeat(size - 26)}\n`;
    assert.equal(Buffer.byteLength(padded(MAX_POLICY_FILE_BYTES)), MAX_POLICY_FILE_BYTES);
    await writeFile(join(dir, 'limit.yaml'), padded(MAX_POLICY_FILE_BYTES));
    assert.deepEqual(loadPolicyFile(join(dir, 'limit.yaml')).deny?.deny_users, ['u3']);
    await writeFile(join(dir, 'big.yaml'), padded(MAX_POLICY_FILE_BYTES + 1));
    assert.throws(
      () => loadPolicyFile(join(dir, 'big.yaml')),
      (error: unknown) => {
        assert.ok(error instanceof PolicyFileError);
        assert.deepEqual(error.problems, ['the file is larger than 1 MiB (1048576 bytes), the most a policy file may be']);
        return true;
      },
    );
    // A device never ends: only the first MiB and one byte are read.
    assert.throws(() => loadPolicyFile('/dev/zero'), /larger than 1 MiB/);
  });

  it('names the path of every schema problem', () => {
    const problems = problemsOf(() =>
      validatePolicyDocument({
        version: 2,
        rolez: [],
        role: [
          { claim: 'metadata..role', map: { admin: 'Admin' } },
          { claim: 'x' },
          { claim: 'y', map: { a: 'admin' }, equals: true, role: 'admin' },
          { claim: 'z', equals: 'yes' },
          { claim: 'w', map: {} },
        ],
        teams: { from: 'org_id', prefix: 'bad prefix' },
        allow: { require_claims: { 'a.': true, ok: { nested: 1 } }, require_organizations: [] },
        deny: { deny_users: [''], users: ['x'] },
        default_role: 'channel_member',
      }),
    );
    const text = problems.join('\n');
    const expectations: Array<[string, RegExp]> = [
      ['version', /^version: version must be 1/m],
      ['unknown top-level key', /^\(top level\): Unrecognized key: "rolez"/m],
      ['bad claim path', /^role\[0\]\.claim: claim path "metadata\.\.role" has an empty segment/m],
      ['bad Stream role', /^role\[0\]\.map\.admin: "Admin" is not a valid Stream role name/m],
      ['rule without map or equals', /^role\[1\]: a role rule needs "map"/m],
      ['rule with both', /^role\[2\]: use either "map" or "equals"/m],
      ['equals without role', /^role\[3\]: "equals" and "role" must be given together/m],
      ['empty map', /^role\[4\]\.map: "map" must name at least one claim value/m],
      ['team prefix', /^teams\.prefix: prefix may contain only/m],
      ['require_claims path', /^allow\.require_claims\["a\."\]: claim path "a\." ends with "\."/m],
      ['require_claims value', /^allow\.require_claims\.ok: /m],
      ['empty organization list', /^allow\.require_organizations: list must not be empty/m],
      ['empty user id', /^deny\.deny_users\[0\]: user id must not be empty/m],
      ['unknown deny key', /^deny: Unrecognized key: "users"/m],
      ['default role', /^default_role: "channel_member" is a channel role/m],
    ];
    for (const [what, pattern] of expectations) assert.match(text, pattern, `${what}\n--- problems:\n${text}`);
  });

  it('rejects a document that is not an object', () => {
    assert.match(problemsOf(() => parsePolicyText('[1, 2]', 'json')).join('\n'), /\(top level\)/);
    assert.match(problemsOf(() => parsePolicyText('just text', 'yaml')).join('\n'), /\(top level\)/);
  });

  it('compiles into an immutable policy', () => {
    const policy = compilePolicy({ document: parsePolicyText(YAML_POLICY, 'yaml') });
    assert.ok(Object.isFrozen(policy));
    assert.equal(policy.roleRules.length, 2);
    assert.equal(policy.defaultRole, 'user');
    assert.equal(policy.teams?.prefix, 'org-');
    assert.deepEqual([...(policy.requireOrganizations ?? [])], ['org_1', 'acme']);
    assert.ok(policy.denyUsers.has('user_banned'));
    const empty = compilePolicy();
    assert.equal(empty.teams, null);
    assert.equal(empty.requireOrganizations, null);
    assert.equal(empty.defaultRole, 'user');
  });
});
