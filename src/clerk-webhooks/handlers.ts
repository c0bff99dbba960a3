/**
 * What each Clerk webhook event does to the Stream user, with role and teams
 * decided by the same policy as token requests.
 *
 * A webhook shows less than a session token, so:
 *   - `user.created` / `user.updated`: claims are rebuilt from the user object
 *     (see `claimsFromClerkUser`); when it lists organization memberships, role
 *     rules are tried against each (first rule that matches any wins) and the
 *     teams are the union. Custom session-token claims are unknown here.
 *   - `organizationMembership.created` / `.updated`: role and teams are what a
 *     session with that organization active would get from the organization
 *     claims alone; `.deleted`: what a session with no active organization
 *     would get. Rules on other claims do not match here.
 * In both cases the cached profile hash is dropped, so the user's next token
 * request writes the full profile from the session's own claims.
 *
 * `user.*` events are ordered per user by `occurredAt` in the sync store: an
 * update older than the last deletion or update applied changes nothing, so a
 * retried old `user.updated` cannot bring a deleted user back.
 */

import { claimsFromClerkUser, viewsFromClerkUser, type ClerkUserPayload } from '../policy/clerk-user.js';
import { derivePrivileges } from '../policy/evaluate.js';
import { claimsView, type CompiledPolicy } from '../policy/policy-compile.js';
import { profileFromClaims } from '../policy/profile.js';
import type { SyncStore } from '../state/sync-store.js';
import type { UserEventKind } from '../state/user-event-order.js';
import { SyncStoreUnavailableError } from '../stream/sync-errors.js';
import type { StreamUserSync, UserDeletedMode } from '../stream/user-sync.js';

/** The verified event being applied. */
export interface ClerkEventContext {
  /** Clerk event type, e.g. `user.updated`. */
  type: string;
  /** `svix-id`: the same on every delivery of one event. */
  id: string;
  /** `svix-timestamp` of this delivery. */
  deliveredAt: Date;
  /** When the event happened by the identity provider's clock (see `clerkEventTime`); orders a user's events. */
  occurredAt: Date;
}

export interface ClerkMembershipChange {
  kind: 'created' | 'updated' | 'deleted';
  userId: string;
  organizationId: string;
  organizationSlug?: string;
  /** Clerk organization role, e.g. `org:admin`. */
  role?: string;
}

/**
 * Applies verified events. Every method must be idempotent (a redelivered
 * event may be applied again) and throws `StreamUnavailableError`,
 * `StreamRejectedError` or `SyncStoreUnavailableError` when it could not apply.
 */
export interface ClerkWebhookHandlers {
  /** `stale`: older than the last event applied for this user; nothing was done. */
  userUpserted(user: ClerkUserPayload, event: ClerkEventContext): Promise<'applied' | 'stale'>;
  userDeleted(userId: string, event: ClerkEventContext): Promise<void>;
  /** Revoke the user's Stream tokens issued before `endedAt`. */
  sessionEnded(userId: string, endedAt: Date, event: ClerkEventContext): Promise<void>;
  membershipChanged(change: ClerkMembershipChange, event: ClerkEventContext): Promise<void>;
}

export interface ClerkWebhookHandlersOptions {
  sync: Pick<StreamUserSync, 'onUserUpserted' | 'onUserDeleted' | 'revokeTokens' | 'onMembershipChanged'>;
  policy: CompiledPolicy;
  /** `STREAM_ON_USER_DELETED`. */
  onUserDeleted: UserDeletedMode;
  /** `CLERK_USER_ID_PREFIX`: Clerk user ids become Stream user ids with it, as on token requests. */
  userIdPrefix?: string;
  /** Where each user's last applied event is recorded: the sync store the token path reads removals from. */
  events: Pick<SyncStore, 'recordUserEvent'>;
}

export function createClerkWebhookHandlers(options: ClerkWebhookHandlersOptions): ClerkWebhookHandlers {
  const { sync, policy } = options;
  const streamId = (clerkUserId: string): string => (options.userIdPrefix ?? '') + clerkUserId;
  /** `false` when the event is older than the last one applied for the user. */
  const record = async (userId: string, kind: UserEventKind, event: ClerkEventContext): Promise<boolean> => {
    try {
      return await options.events.recordUserEvent(userId, { kind, at: event.occurredAt.getTime() });
    } catch (error) {
      throw new SyncStoreUnavailableError('the sync store did not answer', error);
    }
  };
  return {
    async userUpserted(user, event) {
      const id = streamId(user.id);
      if (!(await record(id, 'upsert', event))) return 'stale';
      const { role, teams } = derivePrivileges(viewsFromClerkUser(user), policy);
      const profile = profileFromClaims(claimsFromClerkUser(user));
      await sync.onUserUpserted({ id, ...profile, role, teams });
      return 'applied';
    },
    async userDeleted(userId, event) {
      const id = streamId(userId);
      await record(id, 'delete', event);
      await sync.onUserDeleted(id, options.onUserDeleted);
    },
    async sessionEnded(userId, endedAt) {
      await sync.revokeTokens(streamId(userId), endedAt);
    },
    async membershipChanged(change) {
      const claims: Record<string, unknown> = { sub: change.userId };
      if (change.kind !== 'deleted') {
        claims.org_id = change.organizationId;
        if (change.role !== undefined) claims.org_role = change.role;
        if (change.organizationSlug !== undefined) claims.org_slug = change.organizationSlug;
      }
      const { role, teams } = derivePrivileges([claimsView(claims)], policy);
      await sync.onMembershipChanged({
        userId: streamId(change.userId),
        role,
        ...(policy.teams !== null ? { teams } : {}),
      });
    },
  };
}
