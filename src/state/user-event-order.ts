/**
 * The order of the identity provider's user events, per user. Webhooks
 * arrive in any order (Svix retries a failed delivery for hours), so an event
 * is applied only when it is newer than the last one applied for its user:
 * an update older than a deletion must not bring the user back.
 *
 * The record is one number per user: twice the event time (ms), plus one
 * when the user is deleted. An update at time t applies when 2t is at least
 * the record, i.e. it is newer than the last deletion or not older than the
 * last update. A deletion always applies (a deletion is never skipped on a
 * clock's word) and leaves the record odd, at least as high as it was: the
 * user stays deleted until an update newer than everything applied before.
 */

export type UserEventKind = 'upsert' | 'delete';

/** A user event to order: what it does and when it happened (ms since the epoch, the provider's clock). */
export interface UserEventStamp {
  kind: UserEventKind;
  at: number;
}

/** The record value of one event. */
export function eventOrder(stamp: UserEventStamp): number {
  if (!Number.isSafeInteger(stamp.at) || stamp.at < 0) throw new RangeError('a user event time must be a whole number of milliseconds');
  return stamp.at * 2 + (stamp.kind === 'delete' ? 1 : 0);
}

/** Whether a record says the last applied event deleted the user. */
export function recordsDeletion(record: number | null): boolean {
  return record !== null && record % 2 === 1;
}

/** The record after applying `stamp` to `current`, or null when the event is stale and changes nothing. */
export function nextRecord(current: number | null, stamp: UserEventStamp): number | null {
  const order = eventOrder(stamp);
  if (current === null) return order;
  if (stamp.kind === 'delete') return Math.max(order, current % 2 === 1 ? current : current + 1);
  return order < current ? null : Math.max(order, current);
}

/**
 * `nextRecord` in Redis, atomically on one key. KEYS[1]: the user's record;
 * ARGV: the event's order, its kind, the TTL in seconds (0: none). Returns 1
 * when the event applies, 0 when it is stale.
 */
export const RECORD_USER_EVENT_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]))
local order = tonumber(ARGV[1])
local record = order
if current then
  if ARGV[2] == 'delete' then
    local deleted = current
    if current % 2 == 0 then deleted = current + 1 end
    if deleted > order then record = deleted end
  else
    if order < current then return 0 end
    if current > order then record = current end
  end
end
if record ~= current then
  local value = string.format('%.0f', record)
  if ARGV[3] ~= '0' then
    redis.call('SET', KEYS[1], value, 'EX', ARGV[3])
  else
    redis.call('SET', KEYS[1], value)
  end
end
return 1
`;
