import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/guard/memory-store.js';
import { guardLimits } from '../../src/guard/limits.js';
import type { BanVerdict } from '../../src/guard/penalty.js';
import { expectNoUnhandledRejections } from '../helpers/unhandled.js';
import { hangUp, harnessPerTest, httpCall, tokenFor, upgrade } from './harness.js';

/** A store whose calls the guard does not wait for fail, as a bug in a store would make them. */
class FailingStore extends MemoryStore {
  override releaseCall(): Promise<void> {
    return Promise.reject(new Error('release broke'));
  }
  override penalize(): Promise<BanVerdict> {
    return Promise.reject(new Error('penalize broke'));
  }
}

const harness = harnessPerTest();

/** The `op` of every 'guard store call failed' line so far. */
function failedOps(records: Record<string, unknown>[]): unknown[] {
  return records.filter((r) => r['msg'] === 'guard store call failed').map((r) => r['op']);
}

describe('store calls the guard does not await', () => {
  expectNoUnhandledRejections();

  it('a failing lease release at hang-up is logged, and the call slot is still freed', async () => {
    const h = await harness({ store: (config) => new FailingStore(guardLimits(config)) });
    const r = await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.20' });
    expect(r.status).toBe(101);
    await hangUp(r.ws);
    await expect.poll(() => failedOps(h.logs.records()), { timeout: 5_000 }).toEqual(['release_call']);
    expect(h.registry.live).toBe(0);
  });

  it('a failing penalty for a bad webhook signature is logged; the request still gets its 403', async () => {
    const h = await harness({ store: (config) => new FailingStore(guardLimits(config)) });
    const res = await httpCall(h, 'POST', '/twilio/voice', {
      from: '127.0.0.21',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'CallSid=CA1',
    });
    expect(res.status).toBe(403);
    await expect.poll(() => failedOps(h.logs.records()), { timeout: 5_000 }).toEqual(['penalize']);
  });
});
