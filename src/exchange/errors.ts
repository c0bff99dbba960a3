/**
 * Why the exchange refuses a verified session. Their messages are safe to
 * show to the caller; src/http/problem-mapping.ts turns them into answers.
 */

/** The access policy refuses this user. */
export class AccessDeniedError extends Error {
  override readonly name = 'AccessDeniedError';
  /** Which rule refused, in the policy's words. */
  readonly reason: string;

  constructor(reason: string) {
    super(`Access refused by policy: ${reason}.`);
    this.reason = reason;
  }
}

/** The operation needs Stream, and there is none to call (dev mode with placeholder credentials). */
export class StreamNotConfiguredError extends Error {
  override readonly name = 'StreamNotConfiguredError';
  /** Nothing changes until the service is restarted with credentials, so retrying soon does not help. */
  readonly retryAfterSeconds = 60;

  constructor(operation: string) {
    super(`${operation} needs Stream credentials; dev mode is running with placeholders.`);
  }
}
