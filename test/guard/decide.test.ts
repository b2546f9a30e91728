import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UNIT } from '../../src/guard/bucket.js';
import {
  decideAttempt,
  decideHit,
  decidePenalty,
  ipStaleAt,
  type AgentRecord,
  type GateVerdict,
  type IpRecord,
} from '../../src/guard/decide.js';
import type { GuardLimits } from '../../src/guard/limits.js';
import { SPEC_LIMITS } from './spec-limits.js';

const limits = SPEC_LIMITS;

/** A tiny in-test "store": one IP, any number of agents. */
class One {
  ip: IpRecord = {};
  agents = new Map<string, AgentRecord>();
  constructor(readonly l: GuardLimits = limits) {}
  attempt(now: number, penalize = true, agent = 'curl'): GateVerdict {
    const r = decideAttempt(this.ip, this.agents.get(agent) ?? {}, now, this.l, penalize);
    this.ip = r.nextState.ip;
    this.agents.set(agent, r.nextState.agent);
    return r.verdict;
  }
  hit(now: number): GateVerdict {
    const r = decideHit(this.ip, now, this.l);
    this.ip = r.nextState;
    return r.verdict;
  }
  penalize(now: number) {
    const r = decidePenalty(this.ip, now, this.l);
    this.ip = r.nextState;
    return r.verdict;
  }
}

describe('decideAttempt (anonymous upgrade)', () => {
  it('passes the first attempt and starts a 30 s cooldown; the next is a 403 with the wait left', () => {
    const s = new One();
    expect(s.attempt(1_000)).toEqual({
      ok: true,
      ban: { until: 31_000, strikes: 1, label: 'cooldown', fresh: true },
    });
    expect(s.attempt(11_000)).toEqual({ ok: false, status: 403, reason: 'cooldown', retryAfterMs: 20_000 });
  });

  it('after the cooldown the next rejected attempt earns 60 s, labelled banned', () => {
    const s = new One();
    s.attempt(0);
    expect(s.attempt(30_000)).toMatchObject({ ok: true, ban: { until: 90_000, strikes: 2, label: 'banned' } });
    expect(s.attempt(30_001)).toEqual({ ok: false, status: 403, reason: 'banned', retryAfterMs: 59_999 });
  });

  it('25 attempts in a burst: one passes (401), the rest are refused; past the budget they are automated_tool', () => {
    const s = new One();
    const verdicts = Array.from({ length: 25 }, () => s.attempt(5_000));
    expect(verdicts[0]).toMatchObject({ ok: true });
    expect(verdicts.slice(1, 20).every((v) => !v.ok && v.status === 403 && v.reason === 'cooldown')).toBe(true);
    // The 21st attempt finds the user-agent's budget (burst 20) spent.
    expect(verdicts.slice(20).every((v) => !v.ok && v.status === 403 && v.reason === 'automated_tool')).toBe(true);
  });

  it('a client that knocked through its cooldown finds its budget empty afterwards (429)', () => {
    const s = new One();
    for (let i = 0; i < 25; i++) s.attempt(0);
    // The 25 attempts spent all 20 tokens; by the cooldown's end (30 s) 10/min refilled 5.
    const after = Array.from({ length: 7 }, () => s.attempt(30_000, false));
    expect(after.slice(0, 5).every((v) => v.ok)).toBe(true);
    expect(after[5]).toEqual({ ok: false, status: 429, reason: 'automated_tool', retryAfterMs: 6_000 });
  });

  it('an empty IP budget spent by several user-agents is rate_limited, not automated_tool', () => {
    const s = new One({ ...limits, floodMax: 100 });
    for (let i = 0; i < 20; i++) s.attempt(0, false, `ua${i % 4}`);
    expect(s.attempt(0, false, 'ua0')).toEqual({ ok: false, status: 429, reason: 'rate_limited', retryAfterMs: 6_000 });
  });

  it('draining (no penalty) passes without a ban', () => {
    const s = new One();
    expect(s.attempt(0, false)).toEqual({ ok: true });
    expect(s.ip.penalty).toBeUndefined();
  });

  it('counts attempts toward the flood rule too', () => {
    const s = new One({ ...limits, cooldownMs: 0, burst: 100 });
    const v = Array.from({ length: 21 }, (_, i) => s.attempt(i, true));
    expect(v[20]).toEqual({
      ok: false,
      status: 403,
      reason: 'flood',
      retryAfterMs: 300_000,
      ban: { until: 300_020, strikes: 1, label: 'banned', fresh: true },
    });
  });
});

describe('decideHit (any route, no credentials)', () => {
  it('allows 20 requests in 5 s; the 21st bans for 5 min; then every route gets 403 banned', () => {
    const s = new One();
    for (let i = 0; i < 20; i++) expect(s.hit(i * 100)).toEqual({ ok: true });
    expect(s.hit(2_000)).toMatchObject({ ok: false, status: 403, reason: 'flood', retryAfterMs: 300_000 });
    expect(s.hit(3_000)).toEqual({ ok: false, status: 403, reason: 'banned', retryAfterMs: 299_000 });
  });

  it('a second flood within 24 h of the first ban ending is banned twice as long', () => {
    const s = new One();
    for (let i = 0; i < 21; i++) s.hit(0);
    for (let i = 0; i < 21; i++) s.hit(300_000 + i);
    expect(s.ip.penalty).toEqual({ until: 300_020 + 600_000, strikes: 2, label: 'banned' });
  });

  it('a rejected credential reported later (bad webhook signature) bans the IP for plain requests', () => {
    const s = new One();
    expect(s.penalize(0)).toEqual({ until: 30_000, strikes: 1, label: 'cooldown', fresh: true });
    expect(s.hit(1)).toEqual({ ok: false, status: 403, reason: 'cooldown', retryAfterMs: 29_999 });
  });
});

describe('staleness', () => {
  it('a record is stale once its bucket is full, its flood log quiet and its ban history forgotten', () => {
    const s = new One();
    s.attempt(0, false); // bucket 19/20 → full again 6 s later; flood log quiet at 5 s
    expect(ipStaleAt(s.ip, limits)).toBe(6_000);
    s.penalize(0);
    expect(ipStaleAt(s.ip, limits)).toBe(30_000 + 86_400_000);
  });
});

const opArb = fc.record({
  gap: fc.integer({ min: 0, max: 10_000 }),
  kind: fc.constantFrom('attempt' as const, 'hit' as const, 'penalize' as const),
  penalize: fc.boolean(),
  agent: fc.integer({ min: 0, max: 2 }),
});
const limitsArb = fc.record({
  ratePerMinute: fc.integer({ min: 1, max: 120 }),
  burst: fc.integer({ min: 1, max: 30 }),
  cooldownMs: fc.integer({ min: 0, max: 60_000 }),
  floodBlockMs: fc.integer({ min: 1_000, max: 600_000 }),
  banMaxMs: fc.integer({ min: 1_000, max: 3_600_000 }),
  strikeWindowMs: fc.constant(86_400_000),
  floodMax: fc.integer({ min: 1, max: 30 }),
  floodWindowMs: fc.integer({ min: 1_000, max: 10_000 }),
});

describe('properties', () => {
  it('no sequence of verdicts admits more anonymous attempts than the budget in any window', () => {
    fc.assert(
      fc.property(limitsArb, fc.array(opArb, { maxLength: 150 }), (l, ops) => {
        const s = new One(l);
        let now = 1_700_000_000_000;
        const admitted: number[] = [];
        for (const op of ops) {
          now += op.gap;
          if (op.kind === 'attempt' && s.attempt(now, op.penalize, `ua${op.agent}`).ok) admitted.push(now);
          if (op.kind === 'hit') s.hit(now);
          if (op.kind === 'penalize') s.penalize(now);
        }
        for (let i = 0; i < admitted.length; i++) {
          for (let j = i; j < admitted.length; j++) {
            const span = admitted[j]! - admitted[i]!;
            expect(j - i + 1).toBeLessThanOrEqual(l.burst + (span * l.ratePerMinute) / UNIT);
          }
        }
      }),
    );
  });

  it('bans never shorten, whatever happens', () => {
    fc.assert(
      fc.property(limitsArb, fc.array(opArb, { maxLength: 150 }), (l, ops) => {
        const s = new One(l);
        let now = 0;
        let until = 0;
        for (const op of ops) {
          now += op.gap;
          if (op.kind === 'attempt') s.attempt(now, op.penalize, `ua${op.agent}`);
          if (op.kind === 'hit') s.hit(now);
          if (op.kind === 'penalize') s.penalize(now);
          const next = s.ip.penalty?.until ?? 0;
          expect(next).toBeGreaterThanOrEqual(until);
          until = next;
        }
      }),
    );
  });

  it('a refusal always says how long to wait, and a 403 only comes with a running ban', () => {
    fc.assert(
      fc.property(limitsArb, fc.array(opArb, { maxLength: 100 }), (l, ops) => {
        const s = new One(l);
        let now = 0;
        for (const op of ops) {
          now += op.gap;
          const v = op.kind === 'hit' ? s.hit(now) : s.attempt(now, op.penalize, `ua${op.agent}`);
          if (v.ok) continue;
          expect(v.retryAfterMs).toBeGreaterThan(0);
          if (v.status === 403) expect(s.ip.penalty!.until).toBe(now + v.retryAfterMs);
        }
      }),
    );
  });
});
