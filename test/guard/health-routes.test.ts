/**
 * /healthz and /readyz answer load balancers and supervisors whatever the guard holds against
 * their address (a health check behind a misconfigured proxy shares the address of everyone
 * behind it); a per-address budget of their own bounds them instead.
 */
import { describe, expect, it } from 'vitest';
import { HEALTH_BUDGET } from '../../src/guard/install.js';
import { KeyedBuckets } from '../../src/guard/keyed-buckets.js';
import { harnessPerTest, httpCall, rejectionCounts, upgrade } from './harness.js';

const harness = harnessPerTest();

describe('health routes and the guard', () => {
  it('answer 200 from an address under a cooldown, and under a flood ban', async () => {
    const h = await harness();
    expect((await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.110' })).status).toBe(401);
    expect((await httpCall(h, 'GET', '/probe', { from: '127.0.0.110' })).body).toMatchObject({ reason: 'cooldown' });
    expect((await httpCall(h, 'GET', '/healthz', { from: '127.0.0.110' })).status).toBe(200);
    expect((await httpCall(h, 'GET', '/readyz', { from: '127.0.0.110' })).body).toMatchObject({ status: 'ready' });

    for (let i = 0; i < 21; i++) await httpCall(h, 'GET', '/probe', { from: '127.0.0.111' });
    expect((await httpCall(h, 'GET', '/probe', { from: '127.0.0.111' })).body).toMatchObject({ reason: 'banned' });
    expect((await httpCall(h, 'GET', '/healthz', { from: '127.0.0.111' })).status).toBe(200);
    expect((await httpCall(h, 'GET', '/readyz', { from: '127.0.0.111' })).status).toBe(200);
  });

  it('have a budget of their own: past it 429 with Retry-After, no ban, and they never count toward the flood rule', async () => {
    const h = await harness();
    const from = '127.0.0.112';
    for (let i = 0; i < HEALTH_BUDGET.burst; i++) expect((await httpCall(h, 'GET', i % 2 ? '/healthz' : '/readyz', { from })).status).toBe(200);
    const over = await httpCall(h, 'GET', '/healthz', { from });
    expect([over.status, over.body, over.headers['retry-after']]).toEqual([429, { error: 'Too Many Requests', reason: 'health_rate_limited' }, '1']);
    // 51 health requests and a refusal: no flood (20 in 5 s), no ban on the address.
    expect((await httpCall(h, 'GET', '/probe', { from })).status).toBe(200);
    h.clock += 1_000; // 5 a second come back
    expect((await httpCall(h, 'GET', '/healthz', { from })).status).toBe(200);
    expect(await rejectionCounts(h.metrics)).toEqual({ health_rate_limited: 1 });
  });
});

describe('KeyedBuckets', () => {
  it('is a token bucket per key, bounded: the least recently used key is dropped first', () => {
    const buckets = new KeyedBuckets({ ratePerMinute: 60, burst: 2 }, 2);
    expect([buckets.take('a', 0).ok, buckets.take('a', 0).ok, buckets.take('a', 0).ok]).toEqual([true, true, false]);
    expect(buckets.take('a', 1_000).ok).toBe(true); // one a second
    buckets.take('b', 1_000);
    buckets.take('c', 1_000); // over 2 keys: 'a' goes, and starts full again
    expect(buckets.size).toBe(2);
    expect([buckets.take('a', 1_000).ok, buckets.take('a', 1_000).ok]).toEqual([true, true]);
  });
});
