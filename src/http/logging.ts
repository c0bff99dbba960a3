import { writeSync } from 'node:fs';
import { register as onExit } from 'on-exit-leak-free';
import { destination, pino, stdSerializers, type DestinationStream, type Logger } from 'pino';

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

/**
 * Standard output through pino's asynchronous writer, with the lines of one
 * event-loop turn handed over together (see {@link TurnBufferedLines}).
 */
export function standardOutput(): DestinationStream {
  const sonic = destination({ dest: 1, sync: false });
  return new TurnBufferedLines({
    write: (text) => sonic.write(text),
    flushSync: () => sonic.flushSync(),
    writeSync: (text) => {
      writeSync(1, text);
    },
  });
}

/** What {@link TurnBufferedLines} needs of its output: pino's writer (sonic-boom) and its file descriptor. */
export interface LineWriter {
  /** Queues text for writing (asynchronously). */
  write(text: string): unknown;
  /** Writes everything queued so far before returning. */
  flushSync(): void;
  /** Writes text before returning, after everything queued. */
  writeSync(text: string): void;
}

/**
 * Gathers the lines written during one turn of the event loop and passes
 * them on in one write when the turn's I/O is done (`setImmediate`): under
 * load one system call carries the lines of many requests instead of one
 * each, and no line waits longer than the current turn. At process exit,
 * pending lines are written synchronously, after what the writer had queued.
 */
export class TurnBufferedLines implements DestinationStream {
  readonly #target: LineWriter;
  #pending = '';
  #scheduled = false;

  constructor(target: LineWriter) {
    this.#target = target;
    // Held weakly: a logger that is dropped (tests build many) is not kept alive by the exit hook.
    onExit(this, (lines) => lines.flushSync());
  }

  write(line: string): void {
    this.#pending += line;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Writes what the writer had queued, then every pending line, before returning. */
  flushSync(): void {
    const text = this.#pending;
    this.#pending = '';
    try {
      this.#target.flushSync();
      if (text !== '') this.#target.writeSync(text);
    } catch {
      // The output is closed: there is nowhere left to write to.
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    try {
      this.#target.write(text);
    } catch {
      // The writer is closed (the process is shutting down); a log line must not take the process with it.
    }
  };
}

/**
 * From `eyJ` (a base64url JSON object) to the end of its dot-joined segments. Each repetition starts
 * with a dot, so there is one way to match and the scan stays linear even on `eyJeyJeyJ…`.
 */
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)*/g;
/** Linear too: a match starts only at `bearer`, and each run of spaces follows just one of them. */
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
      timestamp: isoTimeField,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError },
    },
    scrubbing,
  );
}

/**
 * pino's error serializer, keeping only the members that are text, numbers or booleans. Causes still
 * show in the message and stack, as pino writes them; object members do not, because they can hold
 * what must never be logged: the request config and `Authorization` header of a Stream SDK (axios)
 * error, the arguments of a failed Redis command, the raw bytes of a request Node could not parse
 * (`rawPacket`, numbers the line scrubber cannot recognise).
 */
export function serializeError(err: unknown): unknown {
  const out: unknown = stdSerializers.err(err as Error);
  if (out === null || typeof out !== 'object') return out;
  const safe: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(out)) {
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') safe[name] = value;
  }
  const errors: unknown = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors)) safe['aggregateErrors'] = errors.map(serializeError);
  return safe;
}

let lastMillisecond = Number.NaN;
let lastTimeField = '';

/**
 * pino's `isoTime` (`,"time":"<ISO 8601>"`), formatted once per millisecond
 * rather than once per line: under load many lines share a millisecond.
 */
export function isoTimeField(): string {
  const now = Date.now();
  if (now !== lastMillisecond) {
    lastMillisecond = now;
    lastTimeField = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTimeField;
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
