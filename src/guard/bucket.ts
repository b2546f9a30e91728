/**
 * Token bucket: `burst` attempts at once, refilled at `ratePerMinute`.
 *
 * The level is kept in integer units of 1/60_000 of a token ("token-milliseconds per minute"):
 * one attempt costs UNIT, and each elapsed millisecond adds `ratePerMinute` units. With integer
 * `now` every quantity is an integer below 2^53, so this code and its Lua mirror in
 * redis-scripts.ts compute bit-identical results and Redis stores them without rounding.
 *
 * Pure: the caller passes the state (undefined = never seen = full) and `now`.
 */

/** Units per token: one minute in ms, so refill per ms is exactly `ratePerMinute` units. */
export const UNIT = 60_000;

export interface BucketState {
  /** Tokens left × UNIT, 0 … burst × UNIT. */
  readonly level: number;
  /** When `level` was computed, ms. Never moves backwards. */
  readonly updatedAt: number;
}

export interface BucketLimits {
  readonly ratePerMinute: number;
  readonly burst: number;
}

export type BucketVerdict =
  | { readonly ok: true; readonly remaining: number }
  | { readonly ok: false; readonly retryAfterMs: number };

/** The level at `now`, after refill, without taking anything. */
export function levelAt(state: BucketState | undefined, now: number, limits: BucketLimits): number {
  const capacity = limits.burst * UNIT;
  if (state === undefined) return capacity;
  // A clock that steps back refills nothing rather than going negative.
  const elapsed = Math.max(0, now - state.updatedAt);
  return Math.min(capacity, state.level + elapsed * limits.ratePerMinute);
}

/** Takes one token if there is one; otherwise says how long until there will be. */
export function takeToken(
  state: BucketState | undefined,
  now: number,
  limits: BucketLimits,
): { verdict: BucketVerdict; nextState: BucketState } {
  const level = levelAt(state, now, limits);
  const updatedAt = Math.max(state?.updatedAt ?? now, now);
  if (level >= UNIT) {
    const left = level - UNIT;
    return { verdict: { ok: true, remaining: Math.floor(left / UNIT) }, nextState: { level: left, updatedAt } };
  }
  return {
    verdict: { ok: false, retryAfterMs: Math.ceil((UNIT - level) / limits.ratePerMinute) },
    nextState: { level, updatedAt },
  };
}

/** When the bucket will be full again, ms; after that the state equals "never seen". */
export function fullAt(state: BucketState, limits: BucketLimits): number {
  return state.updatedAt + Math.ceil((limits.burst * UNIT - state.level) / limits.ratePerMinute);
}
