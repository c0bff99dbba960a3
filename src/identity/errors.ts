/**
 * Every way a session token can be refused. The code is part of the public
 * contract: it is returned as the problem `code` and counted in metrics, so
 * apps and dashboards can rely on it. Messages are safe to show to a client:
 * they never contain token text, key material or configuration secrets.
 */
export type SessionTokenErrorCode =
  | 'missing_token'
  | 'malformed_token'
  | 'unsupported_token_type'
  | 'invalid_signature'
  | 'unknown_key'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'unauthorized_party'
  | 'invalid_subject'
  | 'session_pending'
  | 'impersonation_not_allowed'
  | 'keys_unavailable';

export class SessionTokenError extends Error {
  override readonly name = 'SessionTokenError';
  readonly code: SessionTokenErrorCode;

  constructor(code: SessionTokenErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
