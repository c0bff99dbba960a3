import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClaimPathError, compileClaimPath, parseClaimPath } from '../../src/policy/claim-path.js';

describe('claim paths', () => {
  it('parses dotted, indexed and quoted segments', () => {
    assert.deepEqual(parseClaimPath('email_verified'), ['email_verified']);
    assert.deepEqual(parseClaimPath('metadata.role'), ['metadata', 'role']);
    assert.deepEqual(parseClaimPath('groups[0]'), ['groups', 0]);
    assert.deepEqual(parseClaimPath('["https://example.com/roles"]'), ['https://example.com/roles']);
    assert.deepEqual(parseClaimPath(`app['tenant.id'].name[2]`), ['app', 'tenant.id', 'name', 2]);
  });

  it('rejects malformed paths with a message', () => {
    for (const bad of ['', '.a', 'a.', 'a..b', 'a[', 'a[x]', 'a["x]', 'a]b', 'a["x"]b', 'a"b']) {
      assert.throws(() => parseClaimPath(bad), ClaimPathError, bad);
    }
    assert.throws(() => parseClaimPath('a.'.repeat(20) + 'a'), /more than 16 segments/);
  });

  it('resolves nested values and array elements', () => {
    const claims = { metadata: { role: 'admin', tags: ['x', 'y'] }, groups: ['g0', 'g1'] };
    assert.equal(compileClaimPath('metadata.role').resolve(claims), 'admin');
    assert.equal(compileClaimPath('metadata.tags[1]').resolve(claims), 'y');
    assert.equal(compileClaimPath('groups[5]').resolve(claims), undefined);
    assert.equal(compileClaimPath('metadata.role.deeper').resolve(claims), undefined);
    assert.equal(compileClaimPath('missing.x').resolve(claims), undefined);
  });

  it('reads a namespaced claim whose name contains dots', () => {
    const claims = { 'https://example.com/roles': ['admin'], https: { x: 1 } };
    assert.deepEqual(compileClaimPath('https://example.com/roles').resolve(claims), ['admin']);
    assert.deepEqual(compileClaimPath('["https://example.com/roles"]').resolve(claims), ['admin']);
  });

  it('never follows inherited or prototype members', () => {
    const claims = JSON.parse('{"a": {"__proto__": {"polluted": true}}}') as Record<string, unknown>;
    assert.equal(compileClaimPath('constructor').resolve({}), undefined);
    assert.equal(compileClaimPath('toString').resolve({}), undefined);
    assert.equal(compileClaimPath('a.constructor.name').resolve(claims), undefined);
    assert.deepEqual(compileClaimPath('a.__proto__').resolve(claims), { polluted: true }, 'an own key named __proto__ is data');
    assert.equal(compileClaimPath('a.length').resolve({ a: 'text' }), undefined);
    assert.equal(compileClaimPath('a.length').resolve({ a: [1, 2] }), undefined);
  });
});
