import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A configuration value that must never reach a log line, a response or a
 * printed config. Every way a value is usually turned into text yields
 * `[redacted]`; only `reveal()` returns it, so each use is visible in review.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
