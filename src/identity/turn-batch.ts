import type { KeyObject } from 'node:crypto';
import type { SessionTokenError } from './errors.js';
import { asSessionTokenError, invalidSignature, isSigned, keyFor, type PendingVerification } from './session-checks.js';
import type { VerifiedSession } from './types.js';

/** Tokens taken through the stages of one pass together; a turn's queue is verified in passes of this size. */
export const BATCH_PASS_SIZE = 32;

/** The verifier's own steps, which a batch runs stage by stage. */
export interface BatchSteps {
  /** Everything that can be decided before a key is needed. */
  inspect(token: string): PendingVerification;
  /** The rest of the check for a token whose key has to be fetched first. */
  whenKeyed(pending: PendingVerification, key: Promise<KeyObject>): Promise<VerifiedSession>;
  /** The claim checks of a signed token. */
  accept(pending: PendingVerification, nowMs: number): VerifiedSession;
  now(): number;
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

/**
 * Verifies the tokens that arrive in one turn of the event loop together, in
 * passes of `BATCH_PASS_SIZE`, once that turn's I/O is done (`setImmediate`).
 * Every token is still checked in full. Between network reads, an RSA check
 * runs with the processor's caches full of HTTP code and costs far more than
 * back to back (`npm run bench` shows how much); a server under load gains
 * that back, while a lone request waits for nothing but the end of the
 * current turn. The queue never outlives the turn, so reading requests cannot
 * run ahead of verifying them.
 */
export class TurnBatch {
  readonly #steps: BatchSteps;
  #queue: QueuedVerification[] = [];
  #scheduled = false;

  constructor(steps: BatchSteps) {
    this.#steps = steps;
  }

  verify(token: string): Promise<VerifiedSession> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ token, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  readonly #flush = (): void => {
    const queue = this.#queue;
    this.#queue = [];
    this.#scheduled = false;
    for (let start = 0; start < queue.length; start += BATCH_PASS_SIZE) {
      this.#verifyPass(queue.slice(start, start + BATCH_PASS_SIZE));
    }
  };

  /**
   * One pass, in stages that each run back to back for its tokens: read every
   * token (text, JSON, issuer, key), then check every signature, then every
   * claim set. Interleaving JSON parsing with RSA checks token by token
   * measured about a tenth slower.
   */
  #verifyPass(pass: readonly QueuedVerification[]): void {
    const keyed = this.#readAll(pass);
    for (const entry of keyed) {
      try {
        entry.outcome = isSigned(entry.pending, entry.key) ? 'signed' : invalidSignature();
      } catch (error) {
        entry.outcome = asSessionTokenError(error);
      }
    }
    let nowMs: number | undefined;
    for (const { queued, pending, outcome } of keyed) {
      try {
        if (outcome !== 'signed') throw outcome ?? invalidSignature();
        nowMs ??= this.#steps.now();
        queued.resolve(this.#steps.accept(pending, nowMs));
      } catch (error) {
        queued.reject(asSessionTokenError(error));
      }
    }
  }

  /** The tokens whose key is at hand; the others are refused or go on once their key is fetched. */
  #readAll(pass: readonly QueuedVerification[]): KeyedVerification[] {
    const keyed: KeyedVerification[] = [];
    for (const queued of pass) {
      try {
        const pending = this.#steps.inspect(queued.token);
        const key = keyFor(pending);
        if (key instanceof Promise) this.#steps.whenKeyed(pending, key).then(queued.resolve, queued.reject);
        else keyed.push({ queued, pending, key, outcome: null });
      } catch (error) {
        queued.reject(asSessionTokenError(error));
      }
    }
    return keyed;
  }
}
