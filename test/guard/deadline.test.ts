import { describe, expect, it } from 'vitest';
import type { GuardStore } from '../../src/guard/index.js';
import { httpCall, rejectionCounts, harnessPerTest, tokenFor, upgrade, hangUp } from './harness.js';

/** A store whose every call never settles (a Redis that accepted the connection and went silent). */
const hangingStore = (): GuardStore & { calls: number } => {
  const never = <T>(): Promise<T> => new Promise<T>(() => {});
  const store = {
    calls: 0,
    hit: () => (store.calls++, never()),
    attempt: () => (store.calls++, never()),
    penalize: () => (store.calls++, never()),
    claimToken: () => (store.calls++, never()),
    claimCall: () => (store.calls++, never()),
    releaseCall: () => (store.calls++, never()),
    ping: () => (store.calls++, never()),
    close: () => Promise.resolve(),
  } as GuardStore & { calls: number };
  return store;
};

const harness = harnessPerTest();

describe('a store that hangs', () => {
  it('still answers within the deadline, from memory, logs the outage once and reports unhealthy', async () => {
    const store = hangingStore();
    const h = await harness({ store: () => store, deadlineMs: 50, probeIntervalMs: 60_000 });
    expect(h.guard.healthy).toBe(true);

    const started = performance.now();
    const first = await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.50' });
    const waited = performance.now() - started;
    expect(first.status).toBe(401);
    // It did wait for the store (the deadline), and did not hang: a liveness bound, not a benchmark.
    expect(waited).toBeGreaterThanOrEqual(45);
    expect(waited).toBeLessThan(5_000);
    expect(h.guard.healthy).toBe(false);

    // The memory fallback carries on deciding: the cooldown it started holds.
    expect((await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.50' })).status).toBe(403);
    expect((await httpCall(h, 'GET', '/probe', { from: '127.0.0.51' })).status).toBe(200);
    // Valid calls still get through: claim answered from memory.
    const ok = await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.50' });
    expect(ok.status).toBe(101);
    await hangUp(ok.ws);

    // The breaker is open: only the first call went to the hanging store.
    expect(store.calls).toBe(1);
    const errors = await h.metrics.guardStoreErrors.get();
    expect(errors.values.map((v) => [v.labels.op, v.value])).toEqual([['attempt', 1]]);
    const warnings = h.logs.records().filter((r) => r.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ op: 'attempt', msg: expect.stringContaining('guard store unavailable') });
    expect(await rejectionCounts(h.metrics)).toMatchObject({ bad_token: 1, cooldown: 1 });
  });

  it('tries the store again once per probe interval, each try bounded by the deadline', async () => {
    const store = hangingStore();
    const h = await harness({ store: () => store, deadlineMs: 20, probeIntervalMs: 100 });
    await httpCall(h, 'GET', '/probe', { from: '127.0.0.52' });
    expect(store.calls).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await httpCall(h, 'GET', '/probe', { from: '127.0.0.52' });
    await httpCall(h, 'GET', '/probe', { from: '127.0.0.52' });
    expect(store.calls).toBe(2);
    expect(h.logs.records().filter((r) => r.level === 40)).toHaveLength(1);
  });
});
