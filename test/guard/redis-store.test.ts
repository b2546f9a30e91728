import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuardLimits } from '../../src/guard/limits.js';
import { MemoryStore } from '../../src/guard/memory-store.js';
import { RedisStore } from '../../src/guard/redis-store.js';
import { cleanUp, REDIS_URL, requireRedis, skipRedis, uniquePrefix, whenReady } from './redis-helper.js';
import { SPEC_LIMITS } from './spec-limits.js';

const limits = SPEC_LIMITS;

describe.skipIf(skipRedis)('RedisStore against the real Redis', () => {
  const prefix = uniquePrefix();
  const stores: RedisStore[] = [];
  // Simulated time runs far ahead of Redis's own clock, which expires keys: keep every key for
  // the whole run (a stale record decides like an absent one, so this changes no verdict).
  const open = (l: GuardLimits = limits): RedisStore => {
    const s = new RedisStore(REDIS_URL, l, { keyPrefix: prefix, minTtlMs: 600_000 });
    stores.push(s);
    return s;
  };
  let a: RedisStore;
  let b: RedisStore;

  beforeAll(async () => {
    requireRedis();
    a = open();
    b = open();
    // Commands fail fast until ready (offline queue off), so wait for both connections.
    await Promise.all([whenReady(a.redis), whenReady(b.redis)]);
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await cleanUp(prefix);
  });

  it('gives exactly the verdicts of the pure decisions (random sequences, memory store as oracle)', async () => {
    let run = 0;
    const limitsArb = fc.record({
      ratePerMinute: fc.oneof(fc.constantFrom(7, 10, 13), fc.integer({ min: 1, max: 600 })),
      burst: fc.integer({ min: 1, max: 10 }),
      cooldownMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60_000 })),
      floodBlockMs: fc.integer({ min: 1, max: 600_000 }),
      banMaxMs: fc.integer({ min: 1, max: 3_600_000 }),
      strikeWindowMs: fc.integer({ min: 1, max: 86_400_000 }),
      floodMax: fc.integer({ min: 1, max: 25 }),
      floodWindowMs: fc.integer({ min: 1, max: 10_000 }),
    });
    // Time moves by small or large gaps, or lands exactly on (or one ms either side of) the end
    // of the flood window, the last ban or its 24 h memory, where off-by-one mistakes would show.
    // (It never steps back here: a record judged stale and then read at an earlier time is the
    // one case where "stale = never seen" does not hold; the next test covers clock steps.)
    const stepArb = fc.oneof(
      fc.record({
        kind: fc.constant('gap' as const),
        ms: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 60_000 })),
      }),
      fc.record({
        kind: fc.constantFrom('window' as const, 'banEnd' as const, 'strikeEdge' as const),
        ms: fc.integer({ min: -1, max: 1 }),
      }),
    );
    const opArb = fc.record({
      step: stepArb,
      kind: fc.constantFrom('attempt' as const, 'attempt' as const, 'hit' as const, 'penalize' as const, 'claim' as const),
      penalize: fc.boolean(),
      agent: fc.integer({ min: 0, max: 1 }),
      token: fc.integer({ min: 0, max: 2 }),
    });
    await fc.assert(
      fc.asyncProperty(limitsArb, fc.array(opArb, { minLength: 1, maxLength: 60 }), async (l, ops) => {
        const ip = `198.51.100.${++run % 250}-${run}`;
        const redis = open(l);
        await whenReady(redis.redis);
        const memory = new MemoryStore(l);
        let now = 1_700_000_000_000;
        let banUntil = 0;
        const sawBan = (v: { ok: boolean; retryAfterMs?: number; status?: number; ban?: { until: number } | undefined }): void => {
          if (v.ban) banUntil = Math.max(banUntil, v.ban.until);
          if (!v.ok && v.status === 403 && v.retryAfterMs !== undefined) banUntil = Math.max(banUntil, now + v.retryAfterMs);
        };
        try {
          for (const op of ops) {
            if (op.step.kind === 'gap') now += op.step.ms;
            else if (op.step.kind === 'window') now += l.floodWindowMs + op.step.ms;
            else {
              const edge = op.step.kind === 'banEnd' ? banUntil : banUntil + l.strikeWindowMs;
              now = Math.max(now, edge + op.step.ms);
            }
            const agent = `${ip}|ua${op.agent}`;
            if (op.kind === 'attempt') {
              const expected = memory.attemptSync(ip, agent, now, op.penalize);
              expect(await redis.attempt(ip, agent, now, op.penalize)).toEqual(expected);
              sawBan(expected);
            } else if (op.kind === 'hit') {
              const expected = memory.hitSync(ip, now);
              expect(await redis.hit(ip, now)).toEqual(expected);
              sawBan(expected);
            } else if (op.kind === 'penalize') {
              const expected = memory.penalizeSync(ip, now);
              expect(await redis.penalize(ip, now)).toEqual(expected);
              banUntil = Math.max(banUntil, expected.until);
            } else {
              // Redis expires the mark on its own clock, so only first-use is compared here.
              const id = `${ip}-t${op.token}`;
              const expiry = now + 3_600_000;
              expect(await redis.claimToken(id, expiry, now)).toBe(memory.claimTokenSync(id, now + 1e12, now));
            }
          }
        } finally {
          await redis.close();
          stores.splice(stores.indexOf(redis), 1);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('like the pure bucket, refills nothing when the clock steps back (another instance running behind)', async () => {
    const l = { ...limits, floodMax: 1_000 };
    const redis = open(l);
    await whenReady(redis.redis);
    const memory = new MemoryStore(l);
    const ip = '203.0.113.40';
    const t = 1_700_000_000_000;
    const steps = [...Array.from({ length: 21 }, () => t), t - 60_000, t + 1, t + 6_000];
    for (const now of steps) {
      expect(await redis.attempt(ip, `${ip}|x`, now, false)).toEqual(memory.attemptSync(ip, `${ip}|x`, now, false));
    }
    expect(memory.attemptSync(ip, `${ip}|y`, t + 6_000, false)).toMatchObject({ ok: false, status: 429 });
  });

  it('expires a record when it turns stale, so a quiet address costs Redis nothing', async () => {
    const c = new RedisStore(REDIS_URL, limits, { keyPrefix: prefix });
    stores.push(c);
    await whenReady(c.redis);
    await c.hit('203.0.113.50', 1_000_000); // only a flood-log entry: quiet 5 s later
    const ttl = await c.redis.pttl(`${prefix}ip:{203.0.113.50}`);
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
    await c.penalize('203.0.113.50', 1_000_000); // ban history: kept 30 s + 24 h
    expect(await c.redis.pttl(`${prefix}ip:{203.0.113.50}`)).toBeGreaterThan(86_400_000);
    await c.claimToken('tok-ttl', 1_060_000, 1_000_000);
    const tokenTtl = await c.redis.pttl(`${prefix}tok:tok-ttl`);
    expect(tokenTtl).toBeGreaterThan(59_000);
    expect(tokenTtl).toBeLessThanOrEqual(60_000);
  });

  it('shares one view: a ban made through one instance is enforced by the other', async () => {
    const ip = '203.0.113.60';
    const now = Date.now();
    expect(await a.attempt(ip, `${ip}|x`, now, true)).toMatchObject({ ok: true, ban: { label: 'cooldown', fresh: true } });
    expect(await b.hit(ip, now + 1)).toEqual({ ok: false, status: 403, reason: 'cooldown', retryAfterMs: 29_999 });
    expect(await b.attempt(ip, `${ip}|x`, now + 2, true)).toMatchObject({ ok: false, status: 403, reason: 'cooldown' });
  });

  it('a token used through one instance is refused by the other', async () => {
    const now = Date.now();
    const results = await Promise.all([a.claimToken('tok-shared', now + 60_000, now), b.claimToken('tok-shared', now + 60_000, now)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await a.claimToken('tok-shared', now + 60_000, now)).toBe(false);
  });

  it('concurrent attempts through both instances never exceed the budget', async () => {
    const ip = '203.0.113.70';
    const now = Date.now();
    // 100 attempts, interleaved over two connections, all at once; no penalty (as when draining).
    const verdicts = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).attempt(ip, `${ip}|ua${i % 7}`, now, false)),
    );
    expect(verdicts.filter((v) => v.ok)).toHaveLength(limits.burst);
    // The 21st inside 5 s is also a flood, so the rest are 403s under the flood ban.
    expect(verdicts.filter((v) => !v.ok && v.status === 403)).toHaveLength(100 - limits.burst);
  });
});
