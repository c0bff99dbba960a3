/**
 * Every example under examples/ compiles as the guides show it: an npm
 * example is installed from its own lockfile and runs its `check` script
 * (`tsc --noEmit`, and `vite build` for the web app); the Flutter example runs
 * `dart analyze` where a Dart SDK is installed. Adding an example directory
 * with a `check` script adds it here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { installExample, listExamples, runCommand, tail, withExampleLock, type Example } from '../support/examples.js';

/** A first install of the Expo example downloads a few hundred MB; later runs reuse node_modules. */
const EXAMPLE_TIMEOUT_MS = 20 * 60_000;

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function checkDartExample(example: Example, t: { skip(message: string): void; diagnostic(message: string): void }): Promise<void> {
  const needsFlutter = /^\s+sdk:\s*flutter\s*$/m.test(readFileSync(join(example.dir, 'pubspec.yaml'), 'utf8'));
  const tool = needsFlutter ? 'flutter' : 'dart';
  if (!onPath('dart') || (needsFlutter && !onPath('flutter'))) {
    t.skip(`examples/${example.name}: no ${needsFlutter ? 'Flutter' : 'Dart'} SDK on PATH, so dart analyze cannot run (install it to check this example)`);
    return;
  }
  const get = await runCommand(tool, ['pub', 'get'], { cwd: example.dir });
  if (get.code !== 0) {
    t.skip(`examples/${example.name}: ${tool} pub get failed (its package repository is not reachable from here?):\n${tail(get.output, 10)}`);
    return;
  }
  const analyze = await runCommand('dart', ['analyze'], { cwd: example.dir });
  t.diagnostic(`dart analyze: ${analyze.ms} ms`);
  assert.equal(analyze.code, 0, tail(analyze.output));
}

describe('examples', () => {
  const examples = listExamples();

  it('has at least the examples the guides show: web, React Native and Flutter', () => {
    const found = examples.map((e) => `${e.name} (${e.kind})`);
    for (const expected of ['flutter (dart)', 'react-native (npm)', 'react-web (npm)']) assert.ok(found.includes(expected), found.join(', '));
  });

  for (const example of examples) {
    const what = example.kind === 'dart' ? 'dart analyze' : `npm ci, then npm run check (${example.scripts.check ?? 'missing'})`;
    it(`examples/${example.name}: ${what}`, { timeout: EXAMPLE_TIMEOUT_MS }, async (t) => {
      if (example.kind === 'dart') {
        await checkDartExample(example, t);
        return;
      }
      assert.ok(example.scripts.check, `examples/${example.name}/package.json has a check script`);
      const install = await installExample(example);
      if ('skip' in install) {
        t.skip(install.skip);
        return;
      }
      t.diagnostic(install.installed ? `npm ci: ${install.ms} ms` : 'npm ci: skipped, node_modules is from this lockfile');
      const check = await withExampleLock(example, () => runCommand('npm', ['run', 'check'], { cwd: example.dir }));
      t.diagnostic(`npm run check: ${check.ms} ms`);
      assert.equal(check.code, 0, `npm run check in examples/${example.name} failed:\n${tail(check.output)}`);
    });
  }
});
