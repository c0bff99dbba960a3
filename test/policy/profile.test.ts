import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_IMAGE_URL_LENGTH, MAX_NAME_LENGTH, profileFromClaims } from '../../src/policy/profile.js';

describe('profileFromClaims', () => {
  it('uses name first', () => {
    assert.deepEqual(profileFromClaims({ name: 'Ada Lovelace', first_name: 'A', last_name: 'L', username: 'ada' }), {
      name: 'Ada Lovelace',
    });
  });

  it('falls back to first_name + last_name, then either part alone', () => {
    assert.equal(profileFromClaims({ first_name: ' Ada ', last_name: 'Lovelace', username: 'ada' }).name, 'Ada Lovelace');
    assert.equal(profileFromClaims({ first_name: 'Ada', username: 'ada' }).name, 'Ada');
    assert.equal(profileFromClaims({ last_name: 'Lovelace' }).name, 'Lovelace');
  });

  it('falls back to OIDC given_name + family_name, then username, then preferred_username', () => {
    assert.equal(profileFromClaims({ given_name: 'Grace', family_name: 'Hopper' }).name, 'Grace Hopper');
    assert.equal(profileFromClaims({ username: 'ada', preferred_username: 'x' }).name, 'ada');
    assert.equal(profileFromClaims({ preferred_username: 'grace' }).name, 'grace');
  });

  it('ignores non-strings and blank strings', () => {
    assert.deepEqual(profileFromClaims({ name: 42, first_name: ['x'], last_name: { a: 1 }, username: '   ' }), {});
    assert.equal(profileFromClaims({ name: '  ', username: 'ada' }).name, 'ada');
  });

  it('strips control and bidi characters and collapses whitespace', () => {
    assert.equal(profileFromClaims({ name: ' Ada\u0000\n\t  Love\u202Elace ' }).name, 'Ada Lovelace');
  });

  it('bounds the name length without splitting a surrogate pair', () => {
    const long = 'x'.repeat(MAX_NAME_LENGTH - 1) + '😀' + 'tail';
    const name = profileFromClaims({ name: long }).name ?? '';
    assert.ok(name.length <= MAX_NAME_LENGTH);
    assert.equal(name, 'x'.repeat(MAX_NAME_LENGTH - 1));
    assert.equal(profileFromClaims({ name: 'y'.repeat(5000) }).name, 'y'.repeat(MAX_NAME_LENGTH));
  });

  it('takes image_url, else picture, only http(s) URLs of bounded length', () => {
    assert.equal(profileFromClaims({ image_url: 'https://img.example/a.png', picture: 'https://p/b' }).image, 'https://img.example/a.png');
    assert.equal(profileFromClaims({ picture: ' https://p.example/b.png ' }).image, 'https://p.example/b.png');
    assert.equal(profileFromClaims({ image_url: 'javascript:alert(1)', picture: 'https://p.example/b' }).image, 'https://p.example/b');
    assert.equal(profileFromClaims({ image_url: 'data:image/png;base64,AAAA' }).image, undefined);
    assert.equal(profileFromClaims({ image_url: 'not a url' }).image, undefined);
    assert.equal(profileFromClaims({ image_url: 'https://user:pw@host/x.png' }).image, undefined);
    assert.equal(profileFromClaims({ image_url: `https://h/${'a'.repeat(MAX_IMAGE_URL_LENGTH)}` }).image, undefined);
    assert.equal(profileFromClaims({ image_url: 7 }).image, undefined);
  });
});
