/**
 * The variable table is the one place configuration facts live: these tests
 * fail when `.env.example`, the README, the service's docs or a raw read in
 * the source name a variable the table does not have, or the other way round.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderEnvExample } from '../../src/config/env-example.js';
import { misspeltVariables } from '../../src/config/spelling.js';
import { OIDC_ISSUER_FIELDS, SECRET_VARIABLES, VARIABLE_NAMES, variable, VARIABLES } from '../../src/config/variables.js';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');
const VARIABLE_LIKE = /\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g;
const known = new Set<string>([...VARIABLE_NAMES, ...SECRET_VARIABLES.map((name) => `${name}_FILE`)]);

function unknownNames(text: string, allowed: ReadonlySet<string> = new Set()): string[] {
  return [...new Set(text.match(VARIABLE_LIKE) ?? [])].filter((name) => !known.has(name) && !allowed.has(name)).sort();
}

describe('the variable table', () => {
  it('is what .env.example holds (npm run gen:env writes it)', () => {
    assert.equal(read('.env.example'), renderEnvExample(), '.env.example differs from the table: run npm run gen:env');
  });

  it('has every variable set in .env.example, and nothing else set there', () => {
    const set = [...read('.env.example').matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string);
    assert.deepEqual([...new Set(set)].sort(), [...VARIABLE_NAMES].sort());
  });

  it('explains every variable in .env.example, between its neighbours', () => {
    const lines = read('.env.example').split('\n');
    const at = VARIABLE_NAMES.map((name) => lines.findIndex((l) => new RegExp(`^(?:# )?${name}=`).test(l)));
    const words = (text: string) => text.replace(/#/g, ' ').replace(/\s+/g, ' ').trim();
    VARIABLE_NAMES.forEach((name, i) => {
      const own = lines.slice((at[i - 1] ?? -1) + 1, at[i + 1] ?? lines.length).join(' ');
      assert.ok(words(own).includes(words(variable(name).doc)), `${name} is explained in .env.example`);
    });
  });

  it('explains every field of an OIDC_ISSUERS entry in .env.example', () => {
    const text = read('.env.example');
    for (const [field, doc] of Object.entries(OIDC_ISSUER_FIELDS)) {
      assert.ok(doc.length > 0 && !doc.includes('\n'), `${field}: one line of doc`);
      const firstWords = doc.split(' ').slice(0, 3).join(' ');
      assert.match(text, new RegExp(`^#   ${field} +${firstWords.replace(/[.*+?^${}()|[\]\\"]/g, '\\$&')}`, 'm'), field);
    }
    for (const field of ['algorithms', 'user_id_claim', 'allow_mutable_user_id_claim']) assert.ok(field in OIDC_ISSUER_FIELDS, field);
  });

  it('knows every variable-like name the README and the service docs mention', () => {
    assert.deepEqual(unknownNames(read('README.md')), [], 'README.md');
    for (const doc of ['docs/deploy.md', 'docs/policy.md', 'docs/errors.md']) assert.deepEqual(unknownNames(read(doc)), [], doc);
    // A constant of the verifier and the fuzz tests' own knobs, not settings of the service.
    assert.deepEqual(unknownNames(read('docs/security.md'), new Set(['MAX_TOKEN_LENGTH', 'FUZZ_CASES', 'FC_SEED'])), [], 'docs/security.md');
  });

  it('knows every variable the source reads from the environment directly', () => {
    const files = (dir: string): string[] =>
      readdirSync(new URL(dir, ROOT)).flatMap((name) => (statSync(new URL(join(dir, name), ROOT)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]));
    const direct = files('src')
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => [...read(file).matchAll(/\benv(?:\.|\[')([A-Z][A-Z0-9_]*)/g)].map((m) => `${m[1]} (${file})`));
    assert.ok(direct.length > 0, 'the scan finds the CLI commands that read the environment');
    assert.deepEqual(
      direct.filter((entry) => !known.has(entry.split(' ')[0] as string)),
      [],
    );
  });

  it('keeps every default inside its range and among its choices, and names every choice in its doc', () => {
    for (const name of VARIABLE_NAMES) {
      const spec = variable(name);
      if (spec.kind === 'integer') {
        for (const value of [spec.default, spec.devDefault]) {
          if (value !== null && value !== undefined) assert.ok(value >= spec.min && value <= spec.max, `${name}: ${value}`);
        }
      }
      if (spec.kind === 'choice') {
        assert.ok(spec.choices.includes(spec.default), name);
        for (const option of spec.choices) assert.match(spec.doc, new RegExp(`\\b${option}\\b`), `${name} documents ${option}`);
      }
      assert.ok(spec.doc.length > 0 && !spec.doc.includes('\n'), `${name}: one line of doc`);
    }
  });

  it('marks as secret exactly the variables that may come from a file', () => {
    assert.deepEqual([...SECRET_VARIABLES].sort(), [
      'CLERK_API_KEY',
      'CLERK_JWT_KEY',
      'CLERK_SECRET_KEY',
      'CLERK_WEBHOOK_SECRET',
      'REDIS_URL',
      'STREAM_API_SECRET',
    ]);
    assert.equal(VARIABLES.STREAM_API_KEY.essential, true);
  });
});

describe('misspelt variables', () => {
  it('names a set variable one or two edits from one the service reads, and the one meant', () => {
    assert.deepEqual(misspeltVariables({ STREAM_API_SECRT: 'x', CLERK_JWT_ISUER: 'x', REDIS_URL_FIEL: 'x', stream_api_key: 'x' }), [
      { name: 'STREAM_API_SECRT', meant: 'STREAM_API_SECRET' },
      { name: 'CLERK_JWT_ISUER', meant: 'CLERK_JWT_ISSUER' },
      { name: 'REDIS_URL_FIEL', meant: 'REDIS_URL_FILE' },
      { name: 'stream_api_key', meant: 'STREAM_API_KEY' },
    ]);
  });

  it("leaves known names, short names and other programs' variables alone", () => {
    const env = {
      STREAM_API_SECRET: 'x',
      REDIS_URL_FILE: 'x',
      HOME: '/root',
      HOSTS: 'x',
      PATH: '/bin',
      SSL_CERT_FILE: 'x',
      NODE_OPTIONS: 'x',
      HTTP_PROXY: 'x',
    };
    assert.deepEqual(misspeltVariables(env), []);
  });
});
