import { readFileSync } from 'node:fs';
import { resolveSecretFiles, type Environment } from './environment.js';
import { ConfigError, type ConfigProblem } from './problems.js';
import { VariableReader } from './reader.js';
import {
  checkDevMode,
  readClerkApi,
  readDev,
  readHttp,
  readIdentity,
  readLog,
  readMetrics,
  readMode,
  readPolicy,
  readRateLimits,
  readRedis,
  readRemovedUsers,
  readStream,
  readSync,
  readWebConcurrency,
} from './sections.js';
import type { ServiceConfig } from './types.js';

export interface LoadConfigOptions {
  env: Environment;
  /** Base for relative paths (`.dev/`, `POLICY_FILE`). */
  cwd: string;
  /** Forces dev mode on (the `--dev` flag of `serve`), as `DEV_MODE=true` would. */
  devMode?: boolean;
  /** Reads the files that `<NAME>_FILE` secret variables name. */
  readFile?: (path: string) => string;
}

/**
 * Reads every variable once, validates all of them, and either returns the
 * typed configuration or throws one `ConfigError` listing every problem with
 * its fix, so an operator fixes the whole file in one pass.
 */
export function loadConfig(options: LoadConfigOptions): ServiceConfig {
  const problems: ConfigProblem[] = [];
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const env = resolveSecretFiles(options.env, readFile, problems);
  const { production, devMode } = readMode(new VariableReader(env, problems), options.devMode === true);
  const read = new VariableReader(env, problems, devMode);

  const http = readHttp(read, options.cwd);
  const dev = readDev(read, options.cwd, http.port);
  const stream = readStream(read, dev.directory, production);
  const { identity, devUserIdPrefix } = readIdentity(read, devMode ? dev.issuer : null);
  if (devMode && !production) checkDevMode(read, { http, stream, identity, dev });
  const clerk = readClerkApi(read);
  const redisUrl = readRedis(read);

  const config: ServiceConfig = {
    production,
    devMode,
    http,
    log: readLog(read),
    stream,
    identity,
    clerk,
    dev: { ...dev, ...(devUserIdPrefix !== undefined ? { userIdPrefix: devUserIdPrefix } : {}) },
    sync: readSync(read, stream.placeholderCredentials),
    policy: readPolicy(read, options.cwd),
    rateLimit: readRateLimits(read),
    removedUsers: readRemovedUsers(read),
    redisUrl,
    metrics: readMetrics(read),
    webConcurrency: readWebConcurrency(read, { redisUrl, clerk }),
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
