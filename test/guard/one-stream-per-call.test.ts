/**
 * One live stream per CallSid: a replayed signed webhook mints a fresh valid token for a call that
 * is already streaming; its upgrade is refused with 409 before any WebSocket exists.
 */
import { describe, expect, it } from 'vitest';
import { CallRegistry } from '../../src/call-registry.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';
import { hangUp, harnessPerTest, rejectionCounts, upgrade, upgradeSignature } from './harness.js';

const harness = harnessPerTest();
const CALL = 'CA' + 'c'.repeat(32);

describe('one live stream per CallSid', () => {
  it('a second valid token for a streaming call gets 409 call_live, before any WebSocket; after the first ends a new one works', async () => {
    const h = await harness();
    const mint = (at: number) => mintStreamToken(h.config.streamSecret, CALL, at, 300);
    const first = await upgrade(h, `/twilio/stream/${mint(h.clock)}`, { from: '127.0.0.100' });
    expect(first.status).toBe(101);
    // A replayed webhook a second later: a different, valid token for the same call, signed too.
    const replay = mint(h.clock + 1_000);
    const second = await upgrade(h, `/twilio/stream/${replay}`, {
      from: '127.0.0.101',
      headers: { 'x-twilio-signature': upgradeSignature(h.config, replay) },
    });
    expect([second.status, second.body]).toEqual([409, { error: 'Conflict', reason: 'call_live' }]);
    expect(second.ws).toBeUndefined();
    expect(h.accepted).toHaveLength(1);
    expect(h.registry.streams).toBe(1);

    await hangUp(first.ws);
    await expect.poll(() => h.registry.isStreaming(CALL)).toBe(false);
    // The refused token was not spent (refused before the claim): it works now, like any new one.
    const third = await upgrade(h, `/twilio/stream/${replay}`, { from: '127.0.0.101' });
    expect(third.status).toBe(101);
    expect(h.accepted.map((a) => a.callSid)).toEqual([CALL, CALL]);
    expect(await rejectionCounts(h.metrics)).toEqual({ call_live: 1 });
    await hangUp(third.ws);
  });

  it('two upgrades for one call racing each other: exactly one is admitted', async () => {
    const h = await harness();
    const tokens = [0, 1, 2, 3].map((i) => mintStreamToken(h.config.streamSecret, CALL, h.clock + i * 1_000, 300));
    const results = await Promise.all(tokens.map((t, i) => upgrade(h, `/twilio/stream/${t}`, { from: `127.0.0.${102 + i}` })));
    expect(results.map((r) => r.status).sort()).toEqual([101, 409, 409, 409]);
    expect(h.accepted).toHaveLength(1);
    for (const r of results) await hangUp(r.ws);
  });
});

describe('CallRegistry', () => {
  it('holds one stream slot per CallSid until it is released; slots without a CallSid are not limited', () => {
    const registry = new CallRegistry({ maxCalls: 10, maxStreamsPerIp: 10 });
    const a = registry.tryAcquire('10.0.0.1', CALL);
    expect(typeof a).toBe('object');
    expect(registry.isStreaming(CALL)).toBe(true);
    expect(registry.tryAcquire('10.0.0.2', CALL)).toBe('call_live');
    expect(registry.live).toBe(1);
    expect(typeof registry.tryAcquire('10.0.0.1')).toBe('object');
    expect(typeof registry.tryAcquire('10.0.0.1')).toBe('object');
    if (typeof a === 'object') {
      a.release();
      a.release(); // idempotent
    }
    expect(registry.isStreaming(CALL)).toBe(false);
    expect(typeof registry.tryAcquire('10.0.0.2', CALL)).toBe('object');
  });
});
