/**
 * A bounded map that forgets its least recently used entry first: the one cache shape the guard's
 * records (guard/memory-store.ts), its learnt client addresses (guard/forwarded-clients.ts) and
 * pending calls (calls/pending-calls.ts) all need.
 *
 * A Map keeps insertion order, so re-inserting on every touch keeps it in use order, oldest
 * first; every operation is O(1). Overflow action: `set` drops the oldest entries until
 * `maxEntries` hold, and says how many it dropped. Time-based expiry is the caller's: it knows
 * what "stale" means, and sweeps with `dropStale` or by iterating (oldest first).
 */
export class Lru<K, V> implements Iterable<[K, V]> {
  readonly #entries = new Map<K, V>();
  readonly #maxEntries: number;

  /** @param maxEntries entries held at most (at least 1). */
  constructor(maxEntries: number) {
    this.#maxEntries = Math.max(1, Math.floor(maxEntries));
  }

  get size(): number {
    return this.#entries.size;
  }

  get maxEntries(): number {
    return this.#maxEntries;
  }

  /** The value, now the most recently used. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  /** The value, leaving the use order as it was. */
  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  /** Stores `value` as the most recently used. @returns how many older entries were dropped for room. */
  set(key: K, value: V): number {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    let dropped = 0;
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
      dropped += 1;
    }
    return dropped;
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  /**
   * Looks at the `looks` least recently used entries and drops those `stale` says are done: a
   * sweep of bounded cost a caller runs on each write, so expired entries go without a timer.
   */
  dropStale(looks: number, stale: (value: V, key: K) => boolean): void {
    let looked = 0;
    for (const [key, value] of this.#entries) {
      if (looked++ >= looks) break;
      if (stale(value, key)) this.#entries.delete(key);
    }
  }

  /** Entries, least recently used first. Deleting the current entry while iterating is safe. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.#entries.entries();
  }
}
