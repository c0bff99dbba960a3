import type { ParseArgsConfig } from 'node:util';
import { loadConfig, readEnvironment, ConfigError, type Environment, type ServiceConfig } from '../config/index.js';

export interface CliContext {
  env: Environment;
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Used by `request`; global fetch by default. */
  fetch?: typeof fetch;
}

export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[], context: CliContext): Promise<number | null>;
}

/** Exit code for configuration errors, so scripts can tell them from failures at run time. */
export const CONFIG_ERROR_EXIT_CODE = 2;

/** The config from the environment and `.env`, or the list of problems on stderr. */
export function loadCliConfig(context: CliContext, options: { devMode?: boolean } = {}): ServiceConfig | number {
  try {
    return loadConfig({
      env: readEnvironment({ processEnv: context.env, cwd: context.cwd }),
      cwd: context.cwd,
      ...(options.devMode === true ? { devMode: true } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      context.stderr(`${err.message}\n`);
      return CONFIG_ERROR_EXIT_CODE;
    }
    throw err;
  }
}
