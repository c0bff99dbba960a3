/**
 * One Stream write in flight per user. A request finds its user's lane:
 *   - empty: its write starts;
 *   - a write in flight with the same profile: it shares that write's outcome;
 *   - a write in flight with another profile: it waits in the lane's one
 *     pending place and runs next. A later request with yet another profile
 *     takes that place over (Stream keeps whichever profile is written last,
 *     so the newest is the one worth writing) and everyone waiting there
 *     shares its outcome.
 * So a burst for one user costs at most two calls at a time, one after the
 * other, and no request waits behind more than one call.
 */

interface Slot {
  /** What is written (the profile hash); requests with the same one share the slot. */
  share: string;
  task: () => Promise<void>;
  promise: Promise<void>;
}

interface Lane {
  current: Slot;
  next: Slot | null;
}

const noop = (): void => undefined;

export class UserLanes {
  readonly #lanes = new Map<string, Lane>();

  /** Users with a write in flight. */
  get size(): number {
    return this.#lanes.size;
  }

  run(userId: string, share: string, task: () => Promise<void>): Promise<void> {
    const lane = this.#lanes.get(userId);
    if (lane === undefined) {
      const slot: Slot = { share, task, promise: Promise.resolve() };
      const fresh: Lane = { current: slot, next: null };
      this.#lanes.set(userId, fresh);
      slot.promise = this.#execute(userId, fresh, slot);
      return slot.promise;
    }
    if (lane.next !== null) {
      lane.next.share = share;
      lane.next.task = task;
      return lane.next.promise;
    }
    if (lane.current.share === share) return lane.current.promise;
    const next: Slot = { share, task, promise: Promise.resolve() };
    lane.next = next;
    next.promise = lane.current.promise.then(noop, noop).then(() => {
      lane.current = next;
      lane.next = null;
      return this.#execute(userId, lane, next);
    });
    return next.promise;
  }

  async #execute(userId: string, lane: Lane, slot: Slot): Promise<void> {
    try {
      // Read when the slot starts, not when it was made: a later request may have taken it over.
      await slot.task();
    } finally {
      if (lane.next === null && lane.current === slot && this.#lanes.get(userId) === lane) this.#lanes.delete(userId);
    }
  }
}
