/**
 * What a verified Clerk event asks of the handlers, read from its payload:
 * which handler, with which ids, and when it happened by Clerk's clock.
 * Payloads are checked, not trusted: an event that lacks a field its type
 * needs is `incomplete` and changes nothing.
 */

import { isRecord } from '../shared/is-record.js';
import type { ClerkUserPayload } from '../policy/clerk-user.js';
import { clerkEventTime } from './event-time.js';
import type { ClerkEventContext, ClerkMembershipChange, ClerkWebhookHandlers } from './handlers.js';

/** Applies the event through the handlers; `stale` when it is older than the last one applied for its user. */
export type ClerkEventAction = (handlers: ClerkWebhookHandlers, context: ClerkEventContext) => Promise<void | 'applied' | 'stale'>;

export type DecodedClerkEvent =
  /** Not an event: no `type` string or no `data` object. */
  | { kind: 'malformed' }
  /** An event type this service does not act on. */
  | { kind: 'unknown'; type: string }
  /** A known type whose payload lacks what the type needs. */
  | { kind: 'incomplete'; type: string }
  | { kind: 'event'; type: string; occurredAt: Date; apply: ClerkEventAction };

const USER_UPSERT = new Set(['user.created', 'user.updated']);
const SESSION_END = new Set(['session.ended', 'session.removed', 'session.revoked']);
const MEMBERSHIP = new Map<string, ClerkMembershipChange['kind']>([
  ['organizationMembership.created', 'created'],
  ['organizationMembership.updated', 'updated'],
  ['organizationMembership.deleted', 'deleted'],
]);

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function isKnownType(type: string): boolean {
  return USER_UPSERT.has(type) || type === 'user.deleted' || SESSION_END.has(type) || MEMBERSHIP.has(type);
}

/**
 * The event a verified payload carries. `deliveredAt` is the delivery's
 * `svix-timestamp`; `latestMs` the latest plausible time by Clerk's clock
 * (this clock plus the webhook tolerance): a time beyond it is passed over.
 */
export function decodeClerkEvent(payload: unknown, deliveredAt: Date, latestMs: number): DecodedClerkEvent {
  if (!isRecord(payload) || typeof payload.type !== 'string' || !isRecord(payload.data)) return { kind: 'malformed' };
  const { type, data } = payload;
  if (!isKnownType(type)) return { kind: 'unknown', type };
  const apply = actionFor(type, data, deliveredAt, latestMs);
  if (apply === null) return { kind: 'incomplete', type };
  return { kind: 'event', type, occurredAt: clerkEventTime(type, payload, data, deliveredAt, latestMs), apply };
}

function actionFor(type: string, data: Record<string, unknown>, deliveredAt: Date, latestMs: number): ClerkEventAction | null {
  if (USER_UPSERT.has(type)) {
    const id = nonEmptyString(data.id);
    if (id === undefined) return null;
    const user = { ...data, id } as ClerkUserPayload;
    return (h, ctx) => h.userUpserted(user, ctx);
  }
  if (type === 'user.deleted') {
    const id = nonEmptyString(data.id);
    if (id === undefined) return null;
    return (h, ctx) => h.userDeleted(id, ctx);
  }
  if (SESSION_END.has(type)) {
    const userId = nonEmptyString(data.user_id);
    if (userId === undefined) return null;
    // When the session ended (Clerk's clock, ms); the delivery time when absent or implausible.
    const updatedAt = data.updated_at;
    const endedAt = typeof updatedAt === 'number' && Number.isFinite(updatedAt) && updatedAt > 0 && updatedAt <= latestMs ? new Date(updatedAt) : deliveredAt;
    return (h, ctx) => h.sessionEnded(userId, endedAt, ctx);
  }
  const kind = MEMBERSHIP.get(type);
  if (kind === undefined) return null;
  const userData = data.public_user_data;
  const org = data.organization;
  const userId = isRecord(userData) ? nonEmptyString(userData.user_id) : undefined;
  const organizationId = isRecord(org) ? nonEmptyString(org.id) : undefined;
  if (userId === undefined || organizationId === undefined) return null;
  const change: ClerkMembershipChange = { kind, userId, organizationId };
  const slug = isRecord(org) ? nonEmptyString(org.slug) : undefined;
  if (slug !== undefined) change.organizationSlug = slug;
  const role = nonEmptyString(data.role);
  if (role !== undefined) change.role = role;
  return (h, ctx) => h.membershipChanged(change, ctx);
}
