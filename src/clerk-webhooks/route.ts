/**
 * `POST /webhooks/clerk`: Clerk's webhooks, delivered by Svix.
 *
 * Encapsulated plugin: its raw-body content-type parser and body limit apply
 * to this route only. Refusals are thrown as problems; the app's error handler
 * answers them.
 *
 *   1. An `svix-id` that is not a Svix message id (over 64 characters, or
 *      outside `[A-Za-z0-9_.:-]`) is refused first: 400 `invalid_webhook`.
 *      The signature is checked over the exact bytes received, with the
 *      `svix` library (`svix-id`, `svix-timestamp`, `svix-signature`; the
 *      timestamp must be within 5 minutes). Failure: 400 `invalid_webhook`,
 *      nothing changes.
 *   2. Unknown event types: 200 `{ ok: true, ignored: true }`.
 *   3. The `svix-id` is claimed in the sync store (`SET NX EX`): a delivery
 *      already applied answers 200 `{ ok: true, duplicate: true }`.
 *   4. The event (see payload.ts) is applied. If Stream (or the store)
 *      fails, the claim is given back, so Svix's retry applies it, and the
 *      failure is answered as on every other route (503
 *      `upstream_unavailable` with `Retry-After`). A user event older than
 *      the last one applied for that user (by `clerkEventTime`) changes
 *      nothing: 200 `{ ok: true, stale: true }`.
 */

import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Webhook, WebhookVerificationError } from 'svix';
import { ProblemError } from '../errors/problems.js';
import type { Logger } from '../identity/types.js';
import type { SyncStore } from '../state/sync-store.js';
import { StreamUnavailableError, SyncStoreUnavailableError } from '../stream/sync-errors.js';
import type { ClerkWebhookHandlers } from './handlers.js';
import { decodeClerkEvent } from './payload.js';

/** svix's fixed timestamp tolerance. */
export const SVIX_TOLERANCE_SECONDS = 300;
/** How long an applied `svix-id` is remembered: Svix retries a message for about 28 hours. */
export const DEFAULT_REPLAY_TTL_SECONDS = 3 * 24 * 3600;
export const DEFAULT_WEBHOOK_BODY_LIMIT = 256 * 1024;
/** Svix message ids are `msg_` and about 27 characters; anything longer or stranger is not from Svix. */
const SVIX_ID_MAX_LENGTH = 64;
const SVIX_ID = new RegExp(`^[A-Za-z0-9_.:-]{1,${SVIX_ID_MAX_LENGTH}}$`);

export type WebhookOutcome = 'applied' | 'duplicate' | 'stale' | 'ignored' | 'invalid' | 'unavailable' | 'failed';

export interface ClerkWebhookPluginOptions {
  /** `CLERK_WEBHOOK_SECRET` (`whsec_...`). */
  secret: string;
  /**
   * Largest accepted age of `svix-timestamp` (and how far ahead of this clock it may be), seconds.
   * Default and maximum: 300 (svix's own check); a smaller value tightens it.
   */
  toleranceSeconds?: number;
  handlers: ClerkWebhookHandlers;
  store: SyncStore;
  logger?: Logger;
  /** How long an applied `svix-id` is remembered. Default 3 days; must exceed the tolerance. */
  replayTtlSeconds?: number;
  /** Largest body, bytes. Default 256 KiB. */
  bodyLimit?: number;
  /** Route path. Default `/webhooks/clerk`. */
  path?: string;
  /** Metrics hook, called once per request. */
  observer?: { webhook?(eventType: string, outcome: WebhookOutcome): void };
  /** Clock in milliseconds, for tests. */
  now?: () => number;
}

function singleHeader(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** At most `max` characters of a client-supplied value, marked when cut, so a log line stays small. */
function truncateForLog(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}…[${value.length - max} more characters]`;
}

export const clerkWebhooksPlugin: FastifyPluginAsync<ClerkWebhookPluginOptions> = async (app, options) => {
  const tolerance = options.toleranceSeconds ?? SVIX_TOLERANCE_SECONDS;
  if (!(tolerance > 0 && tolerance <= SVIX_TOLERANCE_SECONDS)) {
    throw new RangeError(`toleranceSeconds must be between 1 and ${SVIX_TOLERANCE_SECONDS}`);
  }
  const replayTtl = options.replayTtlSeconds ?? DEFAULT_REPLAY_TTL_SECONDS;
  if (!(replayTtl > tolerance)) throw new RangeError('replayTtlSeconds must be longer than the timestamp tolerance');
  const bodyLimit = options.bodyLimit ?? DEFAULT_WEBHOOK_BODY_LIMIT;
  const now = options.now ?? Date.now;
  // Throws on a malformed secret: registration fails at start, not on the first webhook.
  const webhook = new Webhook(options.secret);
  const { handlers, store, observer } = options;

  // The signature covers the exact bytes: keep the body as a string, whatever its type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    done(null, body);
  });

  app.post(options.path ?? '/webhooks/clerk', { bodyLimit }, async (request, reply) => {
    const log = options.logger ?? request.log;
    const svixId = singleHeader(request, 'svix-id');
    const wellFormedId = svixId === undefined || SVIX_ID.test(svixId);

    const invalid = (detail: string): ProblemError => {
      observer?.webhook?.('unknown', 'invalid');
      // A malformed id is attacker-sized text: only its start reaches the log.
      log.warn({ svixId: wellFormedId ? svixId : truncateForLog(svixId ?? '', SVIX_ID_MAX_LENGTH), reason: detail }, 'clerk webhook refused');
      return new ProblemError({ code: 'invalid_webhook', detail });
    };

    if (!wellFormedId) throw invalid('svix-id is not a Svix message id');
    const svixTimestamp = singleHeader(request, 'svix-timestamp');
    const svixSignature = singleHeader(request, 'svix-signature');
    const body = typeof request.body === 'string' ? request.body : '';
    if (svixId === undefined || svixTimestamp === undefined || svixSignature === undefined) {
      throw invalid('the svix-id, svix-timestamp and svix-signature headers are required');
    }
    if (!/^\d{1,12}$/.test(svixTimestamp)) throw invalid('svix-timestamp is not a Unix time');
    const deliveredAtSeconds = Number(svixTimestamp);
    const skew = now() / 1000 - deliveredAtSeconds;
    if (Math.abs(skew) > tolerance) throw invalid(skew > 0 ? 'the webhook timestamp is too old' : 'the webhook timestamp is in the future');

    let payload: unknown;
    try {
      payload = webhook.verify(body, {
        'svix-id': svixId,
        'svix-timestamp': svixTimestamp,
        'svix-signature': svixSignature,
      });
    } catch (error) {
      if (error instanceof WebhookVerificationError) {
        const message = error.message.toLowerCase();
        if (message.includes('too old')) throw invalid('the webhook timestamp is too old');
        if (message.includes('too new')) throw invalid('the webhook timestamp is in the future');
        throw invalid('the webhook signature does not match');
      }
      // A signature-valid body that is not JSON.
      throw invalid('the webhook body is not JSON');
    }

    const deliveredAt = new Date(deliveredAtSeconds * 1000);
    const event = decodeClerkEvent(payload, deliveredAt, now() + SVIX_TOLERANCE_SECONDS * 1000);
    if (event.kind !== 'event') {
      observer?.webhook?.(event.kind === 'malformed' ? 'unknown' : event.type, 'ignored');
      if (event.kind === 'malformed') log.warn({ svixId }, 'clerk webhook without type or data ignored');
      if (event.kind === 'incomplete') log.warn({ svixId, type: event.type }, 'clerk webhook payload lacks the fields its type needs; ignored');
      return reply.code(200).send({ ok: true, ignored: true });
    }
    const { type, occurredAt } = event;

    let claimed: boolean;
    try {
      claimed = await store.claimWebhookId(svixId, replayTtl);
    } catch (error) {
      observer?.webhook?.(type, 'unavailable');
      log.error({ svixId, type, err: error }, 'sync store unavailable for clerk webhook');
      throw new SyncStoreUnavailableError('the sync store did not answer', error);
    }
    if (!claimed) {
      observer?.webhook?.(type, 'duplicate');
      return reply.code(200).send({ ok: true, duplicate: true });
    }

    let result: Awaited<ReturnType<typeof event.apply>>;
    try {
      result = await event.apply(handlers, { type, id: svixId, deliveredAt, occurredAt });
    } catch (error) {
      await store.releaseWebhookId(svixId).catch((releaseError: unknown) => {
        log.error({ svixId, err: releaseError }, 'could not release a clerk webhook claim');
      });
      // Unavailable: worth Svix's retry as it is; failed: Stream refused the update, or a bug, which the error handler logs.
      const unavailable = error instanceof StreamUnavailableError || error instanceof SyncStoreUnavailableError;
      observer?.webhook?.(type, unavailable ? 'unavailable' : 'failed');
      log.warn({ reqId: request.id, svixId, type, err: error }, 'clerk webhook not applied; will be retried');
      throw error;
    }
    if (result === 'stale') {
      observer?.webhook?.(type, 'stale');
      log.info({ svixId, type, occurredAt: occurredAt.toISOString() }, 'clerk webhook older than the last event applied for its user; nothing changed');
      return reply.code(200).send({ ok: true, stale: true });
    }
    observer?.webhook?.(type, 'applied');
    return reply.code(200).send({ ok: true });
  });
};

export default clerkWebhooksPlugin;
