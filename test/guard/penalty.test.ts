import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { activeBan, ban, MAX_STRIKES, penaltyQuietAt, type PenaltyState } from '../../src/guard/penalty.js';

const limits = { cooldownMs: 30_000, floodBlockMs: 300_000, banMaxMs: 86_400_000, strikeWindowMs: 86_400_000 };

/** Bans the IP again each time the previous ban ends, returning the durations in seconds. */
function chain(n: number, cause: 'credential' | 'flood', l = limits): number[] {
  let state: PenaltyState | undefined;
  let now = 1_000_000;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = ban(state, now, cause, l);
    out.push((r.verdict.until - now) / 1000);
    state = r.nextState;
    now = r.verdict.until; // the moment the ban ends
  }
  return out;
}

describe('cooldown and escalation', () => {
  it('a first rejected credential starts a 30 s cooldown', () => {
    const r = ban(undefined, 5_000, 'credential', limits);
    expect(r.verdict).toEqual({ until: 35_000, strikes: 1, label: 'cooldown', fresh: true });
    expect(activeBan(r.nextState, 34_999)).toBeDefined();
    expect(activeBan(r.nextState, 35_000)).toBeUndefined();
  });

  it('escalates 30 s → 60 s → 120 s … and stops at BAN_MAX_SECONDS', () => {
    expect(chain(14, 'credential')).toEqual([
      30, 60, 120, 240, 480, 960, 1_920, 3_840, 7_680, 15_360, 30_720, 61_440, 86_400, 86_400,
    ]);
  });

  it('labels the first credential ban a cooldown and every later one banned', () => {
    let state: PenaltyState | undefined;
    const labels: string[] = [];
    for (let i = 0, now = 0; i < 3; i++) {
      const r = ban(state, now, 'credential', limits);
      labels.push(r.verdict.label);
      state = r.nextState;
      now = r.verdict.until;
    }
    expect(labels).toEqual(['cooldown', 'banned', 'banned']);
  });

  it('flood bans start at FLOOD_BLOCK_SECONDS and escalate the same way', () => {
    expect(chain(4, 'flood', { ...limits, banMaxMs: 1_500_000 })).toEqual([300, 600, 1_200, 1_500]);
    expect(ban(undefined, 0, 'flood', limits).verdict.label).toBe('banned');
  });

  it('a ban requested while one runs adds no strike and changes nothing', () => {
    const first = ban(undefined, 0, 'credential', limits);
    const again = ban(first.nextState, 10_000, 'credential', limits);
    expect(again.verdict).toEqual({ until: 30_000, strikes: 1, label: 'cooldown', fresh: false });
    expect(again.nextState).toBe(first.nextState);
  });

  it('forgets the chain 24 h after the last ban ended', () => {
    const first = ban(undefined, 0, 'credential', limits); // ends at 30 s
    expect(ban(first.nextState, 30_000 + 86_399_999, 'credential', limits).verdict.strikes).toBe(2);
    expect(ban(first.nextState, 30_000 + 86_400_000, 'credential', limits).verdict).toMatchObject({
      strikes: 1,
      label: 'cooldown',
    });
  });

  it('a zero cooldown is no ban and no strike', () => {
    const l = { ...limits, cooldownMs: 0 };
    const r = ban(undefined, 1_000, 'credential', l);
    expect(r.verdict.fresh).toBe(false);
    expect(r.nextState).toBeUndefined();
    const flood = ban(r.nextState, 1_000, 'flood', l);
    expect(flood.verdict).toEqual({ until: 301_000, strikes: 1, label: 'banned', fresh: true });
  });

  it('keeps its strike counter bounded', () => {
    expect(chain(MAX_STRIKES + 10, 'credential').at(-1)).toBe(86_400);
  });

  it('is quiet when both the ban and its 24 h memory are over', () => {
    const r = ban(undefined, 0, 'flood', limits);
    expect(penaltyQuietAt(r.nextState!, limits)).toBe(300_000 + 86_400_000);
  });

  it('property: bans never shorten', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 200_000 }), fc.constantFrom('credential' as const, 'flood' as const)), {
          maxLength: 100,
        }),
        fc.integer({ min: 1, max: 100_000 }),
        (steps, banMaxMs) => {
          const l = { ...limits, banMaxMs };
          let state: PenaltyState | undefined;
          let now = 0;
          for (const [gap, cause] of steps) {
            now += gap;
            const before = state?.until ?? 0;
            const r = ban(state, now, cause, l);
            expect(r.nextState!.until).toBeGreaterThanOrEqual(before);
            expect(r.verdict.until - now).toBeLessThanOrEqual(Math.max(banMaxMs, before - now));
            state = r.nextState;
          }
        },
      ),
    );
  });
});
