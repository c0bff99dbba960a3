import type { KeyObject } from 'node:crypto';
import { assertSessionClaims } from './claims.js';
import { SessionTokenError } from './errors.js';
import { isAsymmetricAlgorithm, readCompactJws, splitCompactJws, verifyCompactJwsSignature, type JsonObject } from './jws.js';
import { KeySet } from './key-set.js';
import { namespaceProblems } from './namespaces.js';
import { HeaderCache, headerFacts, tokenTypesFor } from './token-header.js';
import type {
  AsymmetricAlgorithm,
  IssuerKeyStatus,
  IssuerOptions,
  KeySetTiming,
  Logger,
  VerifiedSession,
  VerifierObserver,
} from './types.js';

export interface SessionVerifierOptions {
  issuers: IssuerOptions[];
  keySetTiming: KeySetTiming;
  clockSkewSeconds: number;
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  now?: () => number;
  /** Used for JWKS and discovery requests; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  logger?: Logger;
  observer?: VerifierObserver;
  /**
   * Verify the tokens that arrive in one turn of the event loop together, in
   * passes of `BATCH_PASS_SIZE`, once that turn's I/O is done (`setImmediate`). Every token is
   * still checked in full. Between network reads, an RSA check runs with the
   * processor's caches full of HTTP code and costs far more than back to back
   * (`npm run bench` shows how much); a server under load gains that back,
   * while a lone request waits for nothing but the end of the current turn.
   * Off by default: one-at-a-time callers would only add a turn per call.
   */
  batch?: boolean;
}

interface TrustedIssuer {
  options: IssuerOptions;
  keySet: KeySet;
  algorithms: ReadonlySet<string>;
  /** Accepted `typ` header values, lower-cased. */
  tokenTypes: ReadonlySet<string>;
  /** A token without `typ` is refused (Clerk and dev always send one; OIDC issuers that type their tokens). */
  requireType: boolean;
}

interface PendingVerification {
  issuer: TrustedIssuer;
  /** The token text, checked by `readCompactJws` (a remembered header segment when it was first seen). */
  token: string;
  /** Index of the token's second dot: the signing input ends here. */
  secondDot: number;
  payload: JsonObject;
  alg: AsymmetricAlgorithm;
  kid: string | undefined;
}

interface QueuedVerification {
  token: string;
  resolve: (session: VerifiedSession) => void;
  reject: (error: SessionTokenError) => void;
}

/** A queued token read and matched with its key, waiting for the signature stage. */
interface KeyedVerification {
  queued: QueuedVerification;
  pending: PendingVerification;
  key: KeyObject;
  /** Set by the signature stage: 'signed', or why the token is refused. */
  outcome: 'signed' | SessionTokenError | null;
}

/** Tokens taken through the stages of one pass together; a turn's queue is verified in passes of this size. */
export const BATCH_PASS_SIZE = 32;

function own(object: JsonObject, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

function malformed(message: string): SessionTokenError {
  return new SessionTokenError('malformed_token', message);
}

function invalidSignature(): SessionTokenError {
  return new SessionTokenError('invalid_signature', 'The token signature is not valid.');
}

/** Whatever went wrong, the caller sees a SessionTokenError. */
function asSessionTokenError(error: unknown): SessionTokenError {
  return error instanceof SessionTokenError ? error : malformed('The token could not be processed.');
}

function validateIssuer(options: IssuerOptions): void {
  const name = typeof options.issuer === 'string' ? options.issuer : '(invalid)';
  if (options.kind !== 'clerk' && options.kind !== 'oidc' && options.kind !== 'dev') {
    throw new Error(`Issuer ${name} has an unknown kind.`);
  }
  if (!Array.isArray(options.algorithms) || options.algorithms.length === 0) {
    throw new Error(`Issuer ${name} must allow at least one algorithm.`);
  }
  for (const alg of options.algorithms) {
    if (!isAsymmetricAlgorithm(alg)) {
      throw new Error(`Issuer ${name} allows an unsupported algorithm; only RS*, PS*, ES*, EdDSA and Ed25519 are accepted.`);
    }
  }
  if (typeof options.userIdClaim !== 'string' || options.userIdClaim.length === 0) {
    throw new Error(`Issuer ${name} must name the claim that carries the user id.`);
  }
  if (!Array.isArray(options.authorizedParties)) {
    throw new Error(`Issuer ${name} must list its authorized parties (possibly none).`);
  }
  if (options.tokenTypes !== undefined && (!Array.isArray(options.tokenTypes) || options.tokenTypes.length === 0 || options.tokenTypes.some((t) => typeof t !== 'string' || t === ''))) {
    throw new Error(`Issuer ${name} must list at least one token type when it lists any.`);
  }
}

/**
 * Verifies identity-provider session tokens. Checks run in this order:
 * parse → header types → route by the (unverified) `iss` → `alg` allow-list
 * → `typ` (required for Clerk, dev, and OIDC issuers with `tokenTypes`) →
 * `cat` → `crit`/`b64` → key by `kid` → signature → claims.
 * `jku`, `x5u`, `jwk` and `x5c` headers are never read: keys come only from
 * the configuration and the issuer's own JWKS.
 */
export class SessionVerifier {
  private readonly issuers = new Map<string, TrustedIssuer>();
  private readonly headers = new HeaderCache();
  private readonly clockSkewSeconds: number;
  private readonly now: () => number;
  private readonly batching: boolean;
  private queue: QueuedVerification[] = [];
  private flushScheduled = false;

  constructor(options: SessionVerifierOptions) {
    if (!Array.isArray(options.issuers) || options.issuers.length === 0) {
      throw new Error('At least one trusted issuer is required.');
    }
    if (typeof options.clockSkewSeconds !== 'number' || !Number.isFinite(options.clockSkewSeconds) || options.clockSkewSeconds < 0) {
      throw new Error('clockSkewSeconds must be a finite non-negative number.');
    }
    this.clockSkewSeconds = options.clockSkewSeconds;
    this.now = options.now ?? Date.now;
    this.batching = options.batch === true;
    const overlaps = namespaceProblems(options.issuers);
    if (overlaps.length > 0) throw new Error(`Issuer user ids could collide: ${overlaps.join('; ')}.`);
    for (const issuerOptions of options.issuers) {
      validateIssuer(issuerOptions);
      if (this.issuers.has(issuerOptions.issuer)) {
        throw new Error(`Issuer ${issuerOptions.issuer} is configured twice.`);
      }
      const keySet = new KeySet({
        issuer: issuerOptions,
        timing: options.keySetTiming,
        now: this.now,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.observer ? { observer: options.observer } : {}),
      });
      this.issuers.set(issuerOptions.issuer, {
        options: issuerOptions,
        keySet,
        algorithms: new Set(issuerOptions.algorithms),
        ...tokenTypesFor(issuerOptions),
      });
    }
  }

  /** Loads every issuer's keys once. Never rejects: failures are logged and retried. */
  async start(): Promise<void> {
    await Promise.all([...this.issuers.values()].map((issuer) => issuer.keySet.start().catch(() => undefined)));
  }

  /** Verifies a session token; rejects only with `SessionTokenError`. */
  verify(token: string): Promise<VerifiedSession> {
    if (!this.batching) {
      try {
        const result = this.verifyNow(token);
        return result instanceof Promise ? result : Promise.resolve(result);
      } catch (error) {
        return Promise.reject(asSessionTokenError(error));
      }
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ token, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  /** The whole check; a promise only when the key has to be fetched first. */
  private verifyNow(token: string): VerifiedSession | Promise<VerifiedSession> {
    const pending = this.inspect(token);
    const key = pending.issuer.keySet.getKey(pending.kid, pending.alg);
    return key instanceof Promise ? this.completeWhenKeyed(pending, key) : this.complete(pending, key);
  }

  /**
   * Verifies everything queued in the turn, `BATCH_PASS_SIZE` tokens at a time
   * and in stages that each run back to back for those tokens: read every
   * token (text, JSON, issuer, key), then check every signature, then every
   * claim set. Interleaving JSON parsing with RSA checks token by token
   * measured about a tenth slower. The queue never outlives the turn, so
   * reading requests cannot run ahead of verifying them.
   */
  private readonly flush = (): void => {
    const queue = this.queue;
    this.queue = [];
    this.flushScheduled = false;
    for (let start = 0; start < queue.length; start += BATCH_PASS_SIZE) {
      this.verifyPass(queue, start, Math.min(queue.length, start + BATCH_PASS_SIZE));
    }
  };

  private verifyPass(queue: readonly QueuedVerification[], start: number, end: number): void {
    const keyed: KeyedVerification[] = [];
    for (let i = start; i < end; i++) {
      const queued = queue[i]!;
      try {
        const pending = this.inspect(queued.token);
        const key = pending.issuer.keySet.getKey(pending.kid, pending.alg);
        if (key instanceof Promise) this.completeWhenKeyed(pending, key).then(queued.resolve, queued.reject);
        else keyed.push({ queued, pending, key, outcome: null });
      } catch (error) {
        queued.reject(asSessionTokenError(error));
      }
    }
    for (const entry of keyed) {
      const { pending } = entry;
      try {
        entry.outcome = verifyCompactJwsSignature(pending.alg, entry.key, pending.token, pending.secondDot) ? 'signed' : invalidSignature();
      } catch (error) {
        entry.outcome = asSessionTokenError(error);
      }
    }
    let nowMs: number | undefined;
    for (const { queued, pending, outcome } of keyed) {
      try {
        if (outcome !== 'signed') throw outcome ?? invalidSignature();
        nowMs ??= this.now();
        queued.resolve(this.acceptClaims(pending, nowMs));
      } catch (error) {
        queued.reject(asSessionTokenError(error));
      }
    }
  }

  /** Header segments remembered (see `HeaderCache`); for tests. */
  get cachedHeaderCount(): number {
    return this.headers.size;
  }

  /** Every issuer has loaded keys at least once and they have not expired past the stale limit. */
  isReady(): boolean {
    for (const issuer of this.issuers.values()) if (!issuer.keySet.isReady()) return false;
    return true;
  }

  status(): IssuerKeyStatus[] {
    return [...this.issuers.values()].map((issuer) => issuer.keySet.status());
  }

  /** Stops background key refreshes so the process can exit. */
  close(): void {
    for (const issuer of this.issuers.values()) issuer.keySet.close();
  }

  /** Everything that can be decided before a key is needed. */
  private inspect(token: string): PendingVerification {
    if (typeof token !== 'string') throw malformed('The token is not a string.');
    if (token.length === 0) throw new SessionTokenError('missing_token', 'No session token was given.');
    const firstDot = splitCompactJws(token);
    const secondDot = token.lastIndexOf('.');
    // Same order of checks as without the cache: the text, header JSON, payload JSON, then the header's
    // fields. A remembered segment passed the text checks when it was first seen.
    const headerSegment = token.substring(0, firstDot);
    let facts = this.headers.get(headerSegment);
    const { header, payload } = readCompactJws(token, firstDot, secondDot, facts !== undefined);
    if (header !== null) {
      facts = headerFacts(header);
      this.headers.set(headerSegment, facts);
    }
    const { alg, kid, typ } = facts!;

    const iss = own(payload, 'iss');
    if (iss === undefined) throw new SessionTokenError('invalid_issuer', 'The token names no issuer.');
    if (typeof iss !== 'string') throw malformed('The token "iss" claim is not a string.');
    const issuer = this.issuers.get(iss);
    if (issuer === undefined) throw new SessionTokenError('invalid_issuer', 'The token issuer is not trusted.');

    if (!issuer.algorithms.has(alg)) {
      throw new SessionTokenError('invalid_signature', 'The token signing algorithm is not allowed.');
    }
    if (typ === undefined ? issuer.requireType : !issuer.tokenTypes.has(typ)) {
      throw new SessionTokenError('unsupported_token_type', typ === undefined ? 'The token does not say what kind of token it is ("typ").' : 'This kind of token is not accepted.');
    }
    if (facts!.machineCategory) {
      throw new SessionTokenError('unsupported_token_type', 'Machine tokens are not accepted.');
    }
    if (facts!.extensions) {
      throw malformed('The token uses JWS extensions that are not supported.');
    }
    return { issuer, token, secondDot, payload, alg: alg as AsymmetricAlgorithm, kid };
  }

  private completeWhenKeyed(pending: PendingVerification, key: Promise<KeyObject>): Promise<VerifiedSession> {
    return key.then((resolved) => this.complete(pending, resolved)).catch((error: unknown) => {
      throw asSessionTokenError(error);
    });
  }

  private complete(pending: PendingVerification, key: KeyObject): VerifiedSession {
    if (!verifyCompactJwsSignature(pending.alg, key, pending.token, pending.secondDot)) throw invalidSignature();
    return this.acceptClaims(pending, this.now());
  }

  /** The claim checks of a token whose signature has been verified. */
  private acceptClaims(pending: PendingVerification, nowMs: number): VerifiedSession {
    const { issuer, payload } = pending;
    const { userId, expiresAt } = assertSessionClaims(payload, issuer.options, nowMs, this.clockSkewSeconds);
    return {
      userId,
      issuer: issuer.options.issuer,
      kind: issuer.options.kind,
      claims: Object.freeze(payload),
      expiresAt,
    };
  }
}
