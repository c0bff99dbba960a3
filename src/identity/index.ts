export { SessionTokenError, type SessionTokenErrorCode } from './errors.js';
export type {
  AsymmetricAlgorithm,
  IssuerKeyStatus,
  IssuerKind,
  IssuerOptions,
  KeySetTiming,
  Logger,
  VerifiedSession,
  VerifierObserver,
} from './types.js';
export {
  decodeBase64Url,
  decodeBase64UrlToString,
  encodeBase64Url,
  isBase64Url,
} from './base64url.js';
export {
  MAX_TOKEN_LENGTH,
  isAsymmetricAlgorithm,
  keyFitsAlgorithm,
  parseCompactJws,
  verifyJwsSignature,
  type JsonObject,
  type ParsedJws,
} from './jws.js';
export { KeySet, type KeySetOptions } from './key-set.js';
export { DocumentFetchError, MAX_DOCUMENT_BYTES, isLoopbackHostname, parseKeyUrl } from './fetch-json.js';
export { discoverJwksUri, discoveryUrl } from './oidc-discovery.js';
export {
  assertAudienceClaim,
  assertAuthorizedParty,
  assertIssuerClaim,
  assertSessionClaims,
  assertSessionState,
  assertTimeClaims,
  extractUserId,
  MAX_USER_ID_LENGTH,
  type CheckedClaims,
} from './claims.js';
export { jwkThumbprint } from './thumbprint.js';
export { SessionVerifier, type SessionVerifierOptions } from './session-verifier.js';
export { DEV_ISSUER_KEY_FILE, loadOrCreateDevIssuer, type DevIssuer, type DevIssuerOptions } from '../dev/dev-issuer.js';
