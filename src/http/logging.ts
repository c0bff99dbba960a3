import { destination, pino, type DestinationStream, type Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** Where lines go; standard output by default. Tests pass a capturing stream. */
  destination?: DestinationStream;
  /** Values that must never appear in a line (API secrets, webhook secret). */
  secrets?: readonly string[];
  /**
   * Censor the field paths in REDACTED_PATHS (default true). Off only for a logger whose every call
   * site writes fixed, known-safe fields; its lines are still scrubbed.
   */
  redactPaths?: boolean;
}

/** Standard output through pino's asynchronous writer. */
export function standardOutput(): DestinationStream {
  return destination({ dest: 1, sync: false });
}

/** Anything shaped like a JWT: three base64url segments, the first a JSON object (`eyJ`). */
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*/g;
const BEARER_PATTERN = /(bearer\s+)[^\s"\\]+/gi;

/** Field paths that are never printed, whatever logs them. */
export const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'apiSecret',
  '*.apiSecret',
  'password',
  '*.password',
];

/**
 * pino with two layers of redaction: known field paths are censored when an
 * object is logged, and every finished line is scrubbed of JWT-shaped text,
 * bearer credentials and the configured secret values, so a token that ends
 * up inside an error message or URL cannot reach the log either.
 */
export function createLogger(options: LoggerOptions): Logger {
  const target = options.destination ?? standardOutput();
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 8);
  const scrubbing: DestinationStream = {
    write(line: string) {
      target.write(scrubLine(line, secrets));
    },
  };
  return pino(
    {
      level: options.level,
      ...(options.redactPaths === false ? {} : { redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }),
      base: { service: 'stream-token-service', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    scrubbing,
  );
}

export function scrubLine(line: string, secrets: readonly string[]): string {
  let out = line;
  if (out.includes('eyJ')) out = out.replace(JWT_PATTERN, '[redacted-jwt]');
  if (/bearer/i.test(out)) out = out.replace(BEARER_PATTERN, '$1[redacted]');
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  return out;
}
