import { describe, expect, it } from 'vitest';
import { CallRegistry } from '../../src/call-registry.js';

describe('CallRegistry reservations (pre-warmed upstream sessions)', () => {
  it('count toward MAX_CALLS for admission but never block a stream upgrade', () => {
    const registry = new CallRegistry({ maxCalls: 2, maxStreamsPerIp: 10 });
    const changes: number[] = [];
    registry.on('change', (live) => changes.push(live));
    const a = registry.reserve();
    const b = registry.reserve();
    expect(a).not.toBe('capacity');
    expect(b).not.toBe('capacity');
    expect(registry.live).toBe(2);
    expect(registry.reserved).toBe(2);
    expect(registry.streams).toBe(0);
    // Both admitted calls hold every slot: no third call is admitted…
    expect(registry.canServeNewCall()).toBe('capacity');
    expect(registry.reserve()).toBe('capacity');
    // …but the admitted calls' own streams still get their socket slots.
    const slot = registry.tryAcquire('10.0.0.1');
    expect(typeof slot).toBe('object');
    if (typeof a === 'object') a.release();
    if (typeof a === 'object') a.release(); // idempotent
    expect(registry.live).toBe(2);
    expect(registry.reserved).toBe(1);
    expect(changes).toEqual([1, 2, 3, 2]);
  });

  it('is refused while draining, and a drain waits for reservations to go', () => {
    const registry = new CallRegistry({ maxCalls: 5, maxStreamsPerIp: 5 });
    const held = registry.reserve();
    let idle = 0;
    registry.on('idle', () => (idle += 1));
    registry.startDrain();
    expect(idle).toBe(0);
    expect(registry.reserve()).toBe('draining');
    if (typeof held === 'object') held.release();
    expect(idle).toBe(1);
    expect(registry.live).toBe(0);
  });
});
