import { describe, expect, it } from 'vitest';

import { MemoryStore } from '../../src/guard/memory-store.js';
import { SPEC_LIMITS } from './spec-limits.js';

const limits = SPEC_LIMITS;

const ipOf = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

describe('MemoryStore', () => {
  it('applies the decisions: a penalised IP is refused, another is not', async () => {
    const store = new MemoryStore(limits);
    expect(await store.attempt('192.0.2.1', '192.0.2.1|a', 0, true)).toMatchObject({ ok: true, ban: { label: 'cooldown' } });
    expect(await store.hit('192.0.2.1', 1_000)).toEqual({ ok: false, status: 403, reason: 'cooldown', retryAfterMs: 29_000 });
    expect(await store.hit('192.0.2.2', 1_000)).toEqual({ ok: true });
    await store.close();
  });

  it('claims a token once, until it expires', async () => {
    const store = new MemoryStore(limits);
    expect(await store.claimToken('t1', 10_000, 0)).toBe(true);
    expect(await store.claimToken('t1', 10_000, 9_999)).toBe(false);
    expect(await store.claimToken('t2', 10_000, 9_999)).toBe(true);
    // Expired: the token itself is refused by then, so the mark may go and be re-made.
    expect(await store.claimToken('t1', 20_000, 10_000)).toBe(true);
    await store.close();
  });

  it('leases a live call to one stream until it is released or its lease ends', async () => {
    const store = new MemoryStore(limits);
    expect(await store.claimCall('CA1', 10_000, 0)).toBe(true);
    expect(await store.claimCall('CA1', 20_000, 5_000)).toBe(false);
    expect(await store.claimCall('CA2', 20_000, 5_000)).toBe(true);
    await store.releaseCall('CA1');
    expect(await store.claimCall('CA1', 20_000, 5_000)).toBe(true);
    // A lease whose release was lost runs out at its end.
    expect(await store.claimCall('CA2', 40_000, 20_000)).toBe(true);
    await store.close();
  });

  it('100,000 distinct IPs cannot grow it past its cap; the overflow drops the least recently seen', async () => {
    const store = new MemoryStore(limits, { maxEntries: 1_000 });
    // Keep one banned attacker busy throughout: it stays recently used, so its ban survives.
    await store.penalize('198.51.100.7', 0);
    for (let i = 0; i < 100_000; i++) {
      store.hitSync(ipOf(i), 1);
      if (i % 500 === 0) expect(store.hitSync('198.51.100.7', 1)).toMatchObject({ ok: false, reason: 'cooldown' });
    }
    expect(store.size).toBeLessThanOrEqual(1_000);
    expect(store.evicted).toBeGreaterThanOrEqual(99_000);
    expect(store.hitSync('198.51.100.7', 2)).toMatchObject({ ok: false, reason: 'cooldown' });
    // The first of the crowd was dropped: it is "never seen" again.
    expect(store.hitSync(ipOf(0), 2)).toEqual({ ok: true });
    await store.close();
  });

  it('drops stale records as time passes, without a timer and without reaching the cap', () => {
    const store = new MemoryStore(limits, { maxEntries: 1_000 });
    for (let i = 0; i < 500; i++) store.hitSync(ipOf(i), 0);
    expect(store.size).toBe(500);
    // Flood logs are quiet 5 s later; each write then sweeps up to two stale ones from the old end.
    for (let i = 0; i < 200; i++) store.hitSync(ipOf(10_000 + i), 10_000);
    expect(store.size).toBe(200 + (500 - 2 * 200));
    for (let i = 200; i < 300; i++) store.hitSync(ipOf(10_000 + i), 10_000);
    expect(store.size).toBe(300);
    expect(store.evicted).toBe(0);
  });

  it('a record read after it went stale decides like a fresh one', () => {
    const store = new MemoryStore(limits);
    store.penalizeSync('192.0.2.1', 0);
    expect(store.hitSync('192.0.2.1', 29_999)).toMatchObject({ ok: false });
    expect(store.hitSync('192.0.2.1', 30_000)).toEqual({ ok: true });
  });

  it('caps used-token marks, dropping the oldest claim', () => {
    const store = new MemoryStore(limits, { maxTokens: 100 });
    for (let i = 0; i < 1_000; i++) store.claimTokenSync(`t${i}`, 300_000, 0);
    expect(store.tokenCount).toBe(100);
    expect(store.claimTokenSync('t999', 300_000, 1)).toBe(false);
    expect(store.claimTokenSync('t0', 300_000, 1)).toBe(true);
  });

  it('banned() says whether a ban runs, and changes nothing: no budget spent, no eviction order touched', () => {
    const store = new MemoryStore(limits, { maxEntries: 2 });
    store.penalizeSync('192.0.2.1', 0);
    store.hitSync('192.0.2.2', 0);
    expect([store.banned('192.0.2.1', 29_999), store.banned('192.0.2.1', 30_000), store.banned('192.0.2.2', 0)]).toEqual([true, false, false]);
    // Had banned() touched 192.0.2.1, the next insert would evict 192.0.2.2 instead.
    store.hitSync('192.0.2.3', 1);
    expect(store.banned('192.0.2.1', 1)).toBe(false);
    expect(store.evicted).toBe(1);
  });
});
