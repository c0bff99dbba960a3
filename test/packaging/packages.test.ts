/**
 * Both packages checked as a registry would see them: publint and
 * @arethetypeswrong/cli on the packed tarballs, the client's size budget, and
 * the client installed from its tarball into an empty project with `--offline`,
 * used from there against a running dev service.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { startDevApp, TEST_STREAM_KEY, type TestApp } from '../support/harness.js';
import { PROJECT_ROOT } from '../support/process.js';

const run = promisify(execFile);
const CLIENT_DIR = join(PROJECT_ROOT, 'packages/client');
const ATTW = join(PROJECT_ROOT, 'node_modules/.bin/attw');
/** What a browser or React Native app may download for the client: 3 KB minified and gzipped. */
const GZIP_BUDGET_BYTES = 3 * 1024;

const PACKAGES = [
  { name: 'stream-token-service', dir: PROJECT_ROOT },
  { name: 'stream-token-client', dir: CLIENT_DIR },
];

const work = mkdtempSync(join(tmpdir(), 'sts-pack-'));
const tarballs = new Map<string, { file: string; size: number; files: string[] }>();

interface PackResult {
  filename: string;
  size: number;
  files: Array<{ path: string }>;
}

/** `npm pack` without scripts: `npm test` built both packages just before. */
async function pack(dir: string): Promise<{ file: string; size: number; files: string[] }> {
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
  const [result] = JSON.parse(stdout) as PackResult[];
  assert.ok(result, stdout);
  return { file: join(work, result.filename), size: result.size, files: result.files.map((f) => f.path).sort() };
}

before(async () => {
  for (const { dir, name } of PACKAGES) {
    const entry = join(dir, 'dist/index.js');
    assert.ok(existsSync(entry), `${entry} is missing: run npm run build (npm test does) before these tests`);
    tarballs.set(name, await pack(dir));
  }
});

after(() => rmSync(work, { recursive: true, force: true }));

describe('package checks', () => {
  for (const { name, dir } of PACKAGES) {
    it(`${name}: publint (strict) finds nothing in what npm would publish`, async () => {
      const { messages, pkg } = await publint({ pkgDir: dir, strict: true });
      assert.deepEqual(
        messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`),
        [],
      );
    });

    // ESM only by design: CommonJS `require` of an ES module is the one thing the profile leaves out.
    it(`${name}: @arethetypeswrong/cli finds no type resolution problem (esm-only profile)`, async () => {
      const tarball = tarballs.get(name);
      assert.ok(tarball);
      try {
        await run(ATTW, [tarball.file, '--profile', 'esm-only', '--no-definitely-typed', '--format', 'ascii', '--no-color']);
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        assert.fail(`attw reported problems:\n${stdout ?? ''}${stderr ?? ''}`);
      }
    });
  }

  it('stream-token-client: the tarball holds the build, its declarations and the README, nothing else', () => {
    const tarball = tarballs.get('stream-token-client');
    assert.ok(tarball);
    const unexpected = tarball.files.filter((f) => !/^(package\.json|README\.md|dist\/[\w-]+\.(js|d\.ts))$/.test(f));
    assert.deepEqual(unexpected, []);
    assert.ok(tarball.files.includes('dist/stream-token-client.js'), 'the single-file build is in the tarball');
    const manifest = JSON.parse(readFileSync(join(CLIENT_DIR, 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(manifest.dependencies, undefined, 'no runtime dependencies');
    assert.equal(manifest.sideEffects, false);
  });

  it('stream-token-service: its tarball bundles stream-token-client, so it installs without a registry copy', () => {
    const tarball = tarballs.get('stream-token-service');
    assert.ok(tarball);
    assert.ok(tarball.files.includes('node_modules/stream-token-client/dist/index.js'), tarball.files.join(', '));
    assert.ok(tarball.files.includes('dist/client/index.d.ts'));
  });

  it("stream-token-service: its tarball holds the dev playground's page, style and script beside the code that reads them", () => {
    const tarball = tarballs.get('stream-token-service');
    assert.ok(tarball);
    for (const file of [
      'dist/dev/playground.js',
      'dist/dev/playground/index.html',
      'dist/dev/playground/playground.css',
      'dist/dev/playground/playground.js',
    ]) {
      assert.ok(tarball.files.includes(file), file);
    }
  });
});

describe('stream-token-client size budget', () => {
  it(`stays within ${GZIP_BUDGET_BYTES} bytes minified and gzipped, with no import left in the bundle`, async (t) => {
    const result = await build({
      entryPoints: [join(CLIENT_DIR, 'dist/index.js')],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2020',
      write: false,
      metafile: true,
    });
    const [output] = result.outputFiles;
    assert.ok(output);
    const gzipped = gzipSync(output.contents, { level: 9 }).length;
    t.diagnostic(`stream-token-client bundle: ${output.contents.length} B minified, ${gzipped} B gzipped (budget ${GZIP_BUDGET_BYTES} B)`);
    assert.ok(gzipped <= GZIP_BUDGET_BYTES, `${gzipped} B gzipped is over the ${GZIP_BUDGET_BYTES} B budget`);
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(
      inputs.every((file) => file.includes('packages/client/dist/')),
      `only the client's own files: ${inputs.join(', ')}`,
    );
  });
});

/** Runs in the empty app: what a new app would write, with the tarball installed and nothing else. */
const APP_SCRIPT = `
import { createTokenProvider, fetchStreamToken, StreamTokenError } from 'stream-token-client';
const endpoint = process.env.TOKEN_SERVICE_URL;
const session = await fetch(endpoint + '/dev/token', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ user_id: 'tarball-user' }),
}).then((response) => response.json());
const tokenProvider = createTokenProvider({ endpoint, getAuthToken: async () => session.token });
const token = await tokenProvider();
const details = await fetchStreamToken({ endpoint, authToken: session.token });
const refused = await fetchStreamToken({ endpoint, authToken: 'not-a-jwt' }).catch((error) => ({
  typed: error instanceof StreamTokenError, code: error.code, status: error.status,
}));
const vendored = await import(new URL('./node_modules/stream-token-client/dist/stream-token-client.js', import.meta.url));
console.log(JSON.stringify({
  resolved: import.meta.resolve('stream-token-client'),
  claims: JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()),
  userId: details.userId,
  apiKey: details.apiKey,
  refused,
  vendoredExports: Object.keys(vendored).sort(),
  exports: Object.keys(await import('stream-token-client')).sort(),
}));
`;

describe('stream-token-client from its tarball', () => {
  let service: TestApp | undefined;
  after(async () => service?.app.close());

  it('installs into an empty project with --offline, brings nothing else, and gets a token from a running dev service', async (t) => {
    const tarball = tarballs.get('stream-token-client');
    assert.ok(tarball);
    t.diagnostic(`stream-token-client tarball: ${tarball.size} B`);
    const app = join(work, 'empty-app');
    const cache = join(work, 'empty-npm-cache');
    const tgz = tarball.file.split('/').at(-1) as string;
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'empty-app', private: true, type: 'module' }));
    copyFileSync(tarball.file, join(app, tgz));
    // An empty cache and --offline: whatever the install needs has to be in the tarball.
    await run('npm', ['install', '--offline', '--cache', cache, '--no-audit', '--no-fund', `./${tgz}`], { cwd: app });

    const installed = readdirSync(join(app, 'node_modules')).filter((name) => name !== '.package-lock.json');
    assert.deepEqual(installed, ['stream-token-client'], 'node_modules holds the client only');
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    assert.deepEqual(Object.keys(lock.packages).sort(), ['', 'node_modules/stream-token-client']);
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.deepEqual(manifest.dependencies, { 'stream-token-client': `file:${tgz}` });

    service = await startDevApp({ LOG_LEVEL: 'info' });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    const endpoint = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
    writeFileSync(join(app, 'app.mjs'), APP_SCRIPT);
    const { stdout } = await run(process.execPath, ['app.mjs'], { cwd: app, env: { ...process.env, TOKEN_SERVICE_URL: endpoint } });
    const result = JSON.parse(stdout) as Record<string, unknown> & { claims: Record<string, unknown> };

    assert.equal(result.resolved, new URL('node_modules/stream-token-client/dist/index.js', `file://${app}/`).href, 'the installed copy, not the workspace');
    assert.equal(result.claims.user_id, 'tarball-user');
    assert.equal(result.userId, 'tarball-user');
    assert.equal(result.apiKey, TEST_STREAM_KEY);
    assert.deepEqual(result.refused, { typed: true, code: 'malformed_token', status: 401 });
    assert.deepEqual(result.exports, ['StreamTokenError', 'createTokenProvider', 'fetchStreamToken', 'findStreamTokenError']);
    assert.deepEqual(result.vendoredExports, result.exports, 'the single-file build exports the same');
    const exchanges = service.logs.records.filter((r) => r.msg === 'request' && r.route === '/stream/token');
    assert.deepEqual(
      exchanges.map((r) => r.status),
      [200, 200, 401],
    );
  });
});
