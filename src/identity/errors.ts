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

/** Fields for the operator's log line of a refusal, never sent to the client: values that are not secret. */
export type RefusalLogFields = Readonly<Record<string, string | readonly string[]>>;

export class SessionTokenError extends Error {
  override readonly name = 'SessionTokenError';
  readonly code: SessionTokenErrorCode;
  readonly logFields: RefusalLogFields | undefined;

  constructor(code: SessionTokenErrorCode, message: string, logFields?: RefusalLogFields) {
    super(message);
    this.code = code;
    this.logFields = logFields;
  }
}
