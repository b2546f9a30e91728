import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UNIT, fullAt, takeToken, type BucketState } from '../../src/guard/bucket.js';

const limits = { ratePerMinute: 10, burst: 20 };

function run(times: readonly number[], l = limits): boolean[] {
  let state: BucketState | undefined;
  return times.map((t) => {
    const r = takeToken(state, t, l);
    state = r.nextState;
    return r.verdict.ok;
  });
}

describe('token bucket', () => {
  it('admits a burst of exactly `burst`, then refuses with the wait for one token', () => {
    let state: BucketState | undefined;
    for (let i = 0; i < 20; i++) {
      const r = takeToken(state, 1_000, limits);
      expect(r.verdict).toEqual({ ok: true, remaining: 19 - i });
      state = r.nextState;
    }
    const refused = takeToken(state, 1_000, limits);
    // 10/min = one token per 6 s.
    expect(refused.verdict).toEqual({ ok: false, retryAfterMs: 6_000 });
    expect(refused.nextState.level).toBe(0);
  });

  it('refills at the rate: one token 6 s after emptying, not a millisecond earlier', () => {
    const empty: BucketState = { level: 0, updatedAt: 10_000 };
    expect(takeToken(empty, 15_999, limits).verdict).toEqual({ ok: false, retryAfterMs: 1 });
    const r = takeToken(empty, 16_000, limits);
    expect(r.verdict).toEqual({ ok: true, remaining: 0 });
    expect(r.nextState).toEqual({ level: 0, updatedAt: 16_000 });
  });

  it('never holds more than `burst`, however long it was idle', () => {
    const r = takeToken({ level: 0, updatedAt: 0 }, 10 * 86_400_000, limits);
    expect(r.nextState.level).toBe(19 * UNIT);
  });

  it('refills nothing when the clock steps back, and keeps its time', () => {
    const r = takeToken({ level: 5 * UNIT, updatedAt: 50_000 }, 40_000, limits);
    expect(r.nextState).toEqual({ level: 4 * UNIT, updatedAt: 50_000 });
  });

  it('is full again exactly when fullAt says', () => {
    const s: BucketState = { level: 18 * UNIT, updatedAt: 1_000 };
    expect(fullAt(s, limits)).toBe(1_000 + 12_000);
  });

  it('property: no window admits more than burst + rate × window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 200 }),
        (ratePerMinute, burst, gaps) => {
          const l = { ratePerMinute, burst };
          const times: number[] = [];
          let t = 1_700_000_000_000;
          for (const g of gaps) times.push((t += g));
          const ok = run(times, l);
          const admitted = times.filter((_, i) => ok[i]);
          for (let i = 0; i < admitted.length; i++) {
            for (let j = i; j < admitted.length; j++) {
              const span = admitted[j]! - admitted[i]!;
              expect(j - i + 1).toBeLessThanOrEqual(burst + (span * ratePerMinute) / UNIT);
            }
          }
        },
      ),
    );
  });
});
