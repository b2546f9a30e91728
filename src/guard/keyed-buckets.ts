/**
 * Token buckets by key, in this process's memory only: for budgets that need no shared view,
 * such as the health endpoints' (each instance is polled on its own).
 *
 * Bounded like the memory store: at most `maxKeys` buckets, least recently used dropped first
 * (a dropped key starts full again: fail open for one quiet client), and a bucket that has
 * refilled equals "never seen", so it is dropped as it reaches the old end.
 */
import { fullAt, takeToken, type BucketLimits, type BucketState, type BucketVerdict } from './bucket.js';

interface Entry {
  readonly state: BucketState;
  readonly fullAt: number;
}

/** Examined per take, to drop buckets that have refilled: O(1) and enough to keep pace. */
const SWEEP_PER_TAKE = 2;

export class KeyedBuckets {
  readonly #limits: BucketLimits;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Entry>();

  constructor(limits: BucketLimits, maxKeys = 10_000) {
    this.#limits = limits;
    this.#maxKeys = Math.max(1, maxKeys);
  }

  take(key: string, now: number): BucketVerdict {
    const held = this.#buckets.get(key);
    const { verdict, nextState } = takeToken(held !== undefined && held.fullAt > now ? held.state : undefined, now, this.#limits);
    this.#buckets.delete(key);
    this.#buckets.set(key, { state: nextState, fullAt: fullAt(nextState, this.#limits) });
    let looked = 0;
    for (const [k, entry] of this.#buckets) {
      if (looked++ >= SWEEP_PER_TAKE) break;
      if (entry.fullAt <= now) this.#buckets.delete(k);
    }
    while (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done === true) break;
      this.#buckets.delete(oldest.value);
    }
    return verdict;
  }

  get size(): number {
    return this.#buckets.size;
  }
}
