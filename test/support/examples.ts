/**
 * The example apps under examples/: each is a small real project with its own
 * lockfile. An npm example is installed with `npm ci` from that lockfile and
 * checked with its own `check` script; node_modules is kept with a stamp of
 * the lockfile, so a later run installs again only when the lockfile changed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './process.js';

export const EXAMPLES_DIR = join(PROJECT_ROOT, 'examples');

export interface Example {
  name: string;
  dir: string;
  /** `npm` for a package.json with a lockfile, `dart` for a pubspec.yaml. */
  kind: 'npm' | 'dart';
  /** The npm example's scripts. */
  scripts: Record<string, string>;
}

/** Every examples/<name>/ with a package.json or a pubspec.yaml. */
export function listExamples(): Example[] {
  return readdirSync(EXAMPLES_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry): Example | undefined => {
      const dir = join(EXAMPLES_DIR, entry.name);
      if (existsSync(join(dir, 'package.json'))) {
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
        return { name: entry.name, dir, kind: 'npm', scripts: manifest.scripts ?? {} };
      }
      if (existsSync(join(dir, 'pubspec.yaml'))) return { name: entry.name, dir, kind: 'dart', scripts: {} };
      return undefined;
    })
    .filter((example): example is Example => example !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface CommandResult {
  code: number;
  output: string;
  ms: number;
}

/** Runs a command to its end, keeping stdout and stderr interleaved for the failure message. */
export function runCommand(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output, ms: Date.now() - started }));
  });
}

/** The last lines of a command's output, for an assertion message. */
export function tail(output: string, lines = 40): string {
  return output.trimEnd().split('\n').slice(-lines).join('\n');
}

const NETWORK_FAILURE = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH)\b|network request to .* failed/;

function lockfileStamp(dir: string): string {
  const hash = createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) hash.update(readFileSync(join(dir, file)));
  return hash.digest('hex');
}

/**
 * One install or build per example at a time across test processes (Vite
 * refuses a second build of a project that is building); a lock left by a
 * process that died is taken over.
 */
export async function withExampleLock<T>(example: Example, work: () => Promise<T>): Promise<T> {
  const lock = join(example.dir, '.example.lock');
  for (const started = Date.now(); ;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(lock, 'utf8'));
      let alive: boolean;
      try {
        alive = Number.isInteger(holder) && holder > 0 && process.kill(holder, 0);
      } catch {
        alive = false;
      }
      if (!alive) rmSync(lock, { force: true });
      else if (Date.now() - started > 30 * 60_000) throw new Error(`${lock} held by ${holder} for 30 minutes`, { cause: error });
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

export type InstallResult = { installed: boolean; ms: number } | { skip: string };

/**
 * `npm ci` from the example's own lockfile, unless node_modules was installed
 * from this same lockfile. Install scripts stay off: the checks need none.
 * When the registry cannot be reached the result says so, for a skip.
 */
export async function installExample(example: Example): Promise<InstallResult> {
  const stampFile = join(example.dir, 'node_modules', '.installed-from-lockfile');
  return withExampleLock(example, async () => {
    const stamp = lockfileStamp(example.dir);
    if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return { installed: false, ms: 0 };
    const result = await runCommand('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: example.dir });
    if (result.code !== 0) {
      const network = NETWORK_FAILURE.exec(result.output);
      if (network) return { skip: `examples/${example.name}: npm ci could not reach the registry (${network[0]}), so the example cannot be installed` };
      throw new Error(`npm ci in examples/${example.name} failed:\n${tail(result.output)}`);
    }
    writeFileSync(stampFile, stamp);
    return { installed: true, ms: result.ms };
  });
}
