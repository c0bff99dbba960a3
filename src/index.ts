/**
 * stream-token-service as a library: build the Fastify app from a validated
 * configuration, or use its parts (session-token verification, Stream token
 * minting) in a server of your own. The browser/React Native token provider
 * is `stream-token-service/client`.
 */
export { buildApp, type AppDependencies } from './server.js';
export { loadConfig, readEnvironment, describeConfig, ConfigError, Secret, type ServiceConfig, type ConfigProblem } from './config/index.js';
export { SessionVerifier, type SessionVerifierOptions } from './identity/session-verifier.js';
export { loadOrCreateDevIssuer, type DevIssuer } from './dev/dev-issuer.js';
export { SessionTokenError, type SessionTokenErrorCode } from './identity/errors.js';
export type { IssuerOptions, KeySetTiming, VerifiedSession, IssuerKeyStatus } from './identity/types.js';
export { StreamTokenMinter, type MintedStreamToken, type StreamTokenMinterOptions } from './stream/token-minter.js';
export { TokenExchange, type IssuedStreamToken, type RevokedStreamTokens } from './exchange/token-exchange.js';
export type { ProblemCode, ProblemBody } from './errors/problems.js';
