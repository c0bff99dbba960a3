import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapOrgRole, parseRoleMap } from '../../src/policy/role-map.js';

describe('parseRoleMap', () => {
  it('parses entries, tolerating whitespace', () => {
    const { map, problems } = parseRoleMap(' org:admin = admin , org:moderator=moderator ');
    assert.deepEqual(problems, []);
    assert.deepEqual(
      [...map],
      [
        ['org:admin', 'admin'],
        ['org:moderator', 'moderator'],
      ],
    );
  });

  it('adds the org: prefix to bare keys', () => {
    const { map, problems } = parseRoleMap('admin=admin,org:support=channel_support');
    assert.deepEqual(problems, []);
    assert.equal(map.get('org:admin'), 'admin');
    assert.equal(mapOrgRole(map, 'org:support'), 'channel_support');
    assert.equal(mapOrgRole(map, 'org:member'), undefined);
    assert.equal(mapOrgRole(map, undefined), undefined);
  });

  it('treats an empty or missing value as an empty map', () => {
    for (const input of ['', '   ', undefined, null]) {
      const { map, problems } = parseRoleMap(input);
      assert.equal(map.size, 0);
      assert.deepEqual(problems, []);
    }
  });

  it('reports every malformed entry and keeps the valid ones', () => {
    const { map, problems } = parseRoleMap('org:admin=admin,,nokey,a=b=c,=user,org:x=,org:mod=Moderator,org:y=has space,org:admin=user');
    assert.equal(map.size, 1);
    assert.equal(map.get('org:admin'), 'admin');
    assert.equal(problems.length, 8, problems.join('\n'));
    assert.match(problems[0] ?? '', /entry 2 is empty/);
    assert.match(problems[1] ?? '', /entry 3 "nokey" must have the form key=value/);
    assert.match(problems[2] ?? '', /entry 4 "a=b=c"/);
    assert.match(problems[3] ?? '', /entry 5 .*both sides/);
    assert.match(problems[4] ?? '', /entry 6 .*both sides/);
    assert.match(problems[5] ?? '', /entry 7: "Moderator" is not a valid Stream role name/);
    assert.match(problems[6] ?? '', /entry 8: "has space" is not a valid Stream role name/);
    assert.match(problems[7] ?? '', /entry 9: "org:admin" is mapped more than once/);
  });

  it('rejects invalid keys and channel-level roles', () => {
    const { problems } = parseRoleMap('org:ad min=admin,org:a=channel_moderator,org:b=' + 'x'.repeat(65));
    assert.equal(problems.length, 3);
    assert.match(problems[0] ?? '', /not a valid organization role/);
    assert.match(problems[1] ?? '', /channel role/);
    assert.match(problems[2] ?? '', /longer than 64/);
  });
});
