import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { ConfigProblem } from './problems.js';
import { SECRET_VARIABLES } from './variables.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The process environment over `.env` (a real environment variable always
 * wins, as with dotenv's default), read once at start.
 */
export function readEnvironment(options: { processEnv: Environment; cwd: string; envFile?: string }): Environment {
  const envPath = resolve(options.cwd, options.envFile ?? '.env');
  const fromFile = existsSync(envPath) ? parseDotenv(readFileSync(envPath)) : {};
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const [key, value] of Object.entries(options.processEnv)) {
    if (value !== undefined) merged[key] = value;
  }
  return merged;
}

/**
 * Replaces every `<NAME>_FILE` of a secret variable with the file's content
 * (trailing newline removed), the convention of Docker and Kubernetes secrets.
 */
export function resolveSecretFiles(env: Environment, readFile: (path: string) => string, problems: ConfigProblem[]): Environment {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_VARIABLES) {
    const filePath = env[`${name}_FILE`];
    if (filePath === undefined || filePath === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push({
        variable: `${name}_FILE`,
        message: `both ${name} and ${name}_FILE are set`,
        fix: `set only one of ${name} or ${name}_FILE`,
      });
      continue;
    }
    try {
      out[name] = readFile(filePath).replace(/\r?\n$/, '');
    } catch (err) {
      const reason = err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : 'unreadable';
      problems.push({
        variable: `${name}_FILE`,
        message: `cannot read the file it names (${reason})`,
        fix: `point ${name}_FILE at a readable file that holds only the value`,
      });
    }
  }
  return out;
}
