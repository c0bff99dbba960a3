/** A bounded map with per-entry expiry, for state kept in process memory. */

interface Entry<V> {
  value: V;
  /** Epoch milliseconds; `Infinity` for no expiry. */
  expiresAt: number;
}

/**
 * A size-capped map with per-entry expiry, evicting roughly least recently
 * used first, in O(1) per operation: entries live in two generations; when
 * the current one is full it becomes the previous one and the old previous
 * one is dropped whole. Reading an entry of the previous generation moves it
 * to the current one. At most `maxEntries` entries are held, so memory stays
 * flat however many distinct keys go through it.
 */
export class BoundedTtlMap<V> {
  #current = new Map<string, Entry<V>>();
  #previous = new Map<string, Entry<V>>();
  readonly #generationSize: number;
  readonly #now: () => number;

  constructor(maxEntries: number, now: () => number = Date.now) {
    if (!Number.isInteger(maxEntries) || maxEntries < 2) throw new RangeError('maxEntries must be an integer of at least 2');
    this.#generationSize = Math.floor(maxEntries / 2);
    this.#now = now;
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  get(key: string): V | undefined {
    let entry = this.#current.get(key);
    if (entry === undefined) {
      entry = this.#previous.get(key);
      if (entry === undefined) return undefined;
      this.#previous.delete(key);
      if (entry.expiresAt <= this.#now()) return undefined;
      this.#insert(key, entry);
      return entry.value;
    }
    if (entry.expiresAt <= this.#now()) {
      this.#current.delete(key);
      return undefined;
    }
    return entry.value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Store a value; `ttlSeconds <= 0` or non-finite means no expiry. */
  set(key: string, value: V, ttlSeconds: number): void {
    const expiresAt = Number.isFinite(ttlSeconds) && ttlSeconds > 0 ? this.#now() + ttlSeconds * 1000 : Infinity;
    this.#previous.delete(key);
    this.#insert(key, { value, expiresAt });
  }

  /** Store only when absent or expired; `true` when stored. */
  setIfAbsent(key: string, value: V, ttlSeconds: number): boolean {
    if (this.get(key) !== undefined) return false;
    this.set(key, value, ttlSeconds);
    return true;
  }

  delete(key: string): void {
    this.#current.delete(key);
    this.#previous.delete(key);
  }

  clear(): void {
    this.#current.clear();
    this.#previous.clear();
  }

  #insert(key: string, entry: Entry<V>): void {
    const isNew = !this.#current.has(key);
    this.#current.set(key, entry);
    if (isNew && this.#current.size >= this.#generationSize) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
  }
}
