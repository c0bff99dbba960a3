export { loadConfig, type LoadConfigOptions } from './load.js';
export { frontendApiFromPublishableKey } from './issuers.js';
export { isLoopbackHost } from './reader.js';
export { readEnvironment, resolveSecretFiles, type Environment } from './environment.js';
export { MAX_RATE_LIMIT_PER_MINUTE, SECRET_VARIABLES } from './variables.js';
export { ConfigError, formatProblems, type ConfigProblem } from './problems.js';
export { Secret } from './secret.js';
export { describeConfig } from './describe.js';
export type * from './types.js';
