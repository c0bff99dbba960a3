/**
 * When a Clerk event happened, by Clerk's clock, to order each user's events:
 *   - `user.created`, `user.updated`: the user's `updated_at` (ms), else its
 *     `created_at`: the version of the user the event carries;
 *   - other events (a `user.deleted` carries only `{ id, object, deleted }`):
 *     the envelope's `timestamp` (ms), when Clerk created the event; it is part
 *     of the signed body and the same on every retry;
 *   - failing those, the delivery's `svix-timestamp`, which is newer on each retry.
 * A value that is not a positive number, or lies ahead of `latestMs` (this
 * clock plus the webhook tolerance), is passed over.
 */
export function clerkEventTime(type: string, envelope: Record<string, unknown>, data: Record<string, unknown>, deliveredAt: Date, latestMs: number): Date {
  const candidates = type === 'user.created' || type === 'user.updated' ? [data.updated_at, data.created_at, envelope.timestamp] : [envelope.timestamp];
  for (const value of candidates) {
    if (typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= latestMs) return new Date(Math.floor(value));
  }
  return deliveredAt;
}
