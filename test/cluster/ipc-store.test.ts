/**
 * The workers' guard store without Redis: every worker asks the primary's one MemoryStore over
 * IPC (guard/ipc-store.ts ↔ guard/primary-store.ts). Differential: random operations spread over
 * two workers give exactly the verdicts one MemoryStore gives them in one process.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/cluster/channel.js';
import { IpcStore } from '../../src/guard/ipc-store.js';
import { MemoryStore } from '../../src/guard/memory-store.js';
import { answerGuardRequest, serveGuardStore } from '../../src/guard/primary-store.js';
import { ResilientStore, type GuardLog } from '../../src/guard/resilient-store.js';
import { SPEC_LIMITS } from '../guard/spec-limits.js';
import { portPair } from './port-pair.js';

/** Two workers' stores, both served by one primary MemoryStore. */
function twoWorkers(): { stores: [IpcStore, IpcStore]; shared: MemoryStore; pipes: ReturnType<typeof portPair>[] } {
  const shared = new MemoryStore(SPEC_LIMITS);
  const pipes = [portPair(), portPair()];
  const stores = pipes.map((pipe) => {
    serveGuardStore(new Channel(pipe.primary), shared);
    return new IpcStore(new Channel(pipe.worker));
  }) as [IpcStore, IpcStore];
  return { stores, shared, pipes };
}

describe('IpcStore: the primary holds the guard state for every worker', () => {
  it('gives exactly the verdicts of one MemoryStore, whichever worker asks', async () => {
    const opArb = fc.record({
      worker: fc.integer({ min: 0, max: 1 }),
      gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 60_000 })),
      kind: fc.constantFrom('attempt', 'attempt', 'hit', 'penalize', 'claim', 'claim_call', 'release_call'),
      penalize: fc.boolean(),
      ip: fc.integer({ min: 0, max: 2 }),
      key: fc.integer({ min: 0, max: 2 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 80 }), async (ops) => {
        const { stores } = twoWorkers();
        const oracle = new MemoryStore(SPEC_LIMITS);
        let now = 1_700_000_000_000;
        for (const op of ops) {
          now += op.gapMs;
          const store = stores[op.worker]!;
          const ip = `198.51.100.${op.ip}`;
          const agent = `${ip}|ua`;
          const key = `k${op.key}`;
          switch (op.kind) {
            case 'attempt':
              expect(await store.attempt(ip, agent, now, op.penalize)).toEqual(oracle.attemptSync(ip, agent, now, op.penalize));
              break;
            case 'hit':
              expect(await store.hit(ip, now)).toEqual(oracle.hitSync(ip, now));
              break;
            case 'penalize':
              expect(await store.penalize(ip, now)).toEqual(oracle.penalizeSync(ip, now));
              break;
            case 'claim':
              expect(await store.claimToken(key, now + 300_000, now)).toBe(oracle.claimTokenSync(key, now + 300_000, now));
              break;
            case 'claim_call':
              expect(await store.claimCall(key, now + 3_600_000, now)).toBe(oracle.claimCallSync(key, now + 3_600_000, now));
              break;
            case 'release_call':
              await store.releaseCall(key);
              oracle.releaseCallSync(key);
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a token claimed through one worker is refused through the other; a call leased on one is live on the other', async () => {
    const { stores } = twoWorkers();
    const [a, b] = stores;
    expect(await a.claimToken('CA1:1700000300', 1_700_000_300_000, 1_700_000_000_000)).toBe(true);
    expect(await b.claimToken('CA1:1700000300', 1_700_000_300_000, 1_700_000_000_001)).toBe(false);
    expect(await b.claimCall('CA1', 1_700_010_000_000, 1_700_000_000_000)).toBe(true);
    expect(await a.claimCall('CA1', 1_700_010_000_000, 1_700_000_000_001)).toBe(false);
    await b.releaseCall('CA1');
    expect(await a.claimCall('CA1', 1_700_010_000_000, 1_700_000_000_002)).toBe(true);
  });

  it('wrapped like Redis: a primary that stops answering costs one deadline, then memory decides', async () => {
    const { stores, pipes } = twoWorkers();
    const lines: string[] = [];
    const log = { warn: (_o: unknown, m: string) => lines.push(m), info: (m: string) => lines.push(m), debug: () => {} } as unknown as GuardLog;
    const resilient = new ResilientStore(stores[0], new MemoryStore(SPEC_LIMITS), { deadlineMs: 20, probeIntervalMs: 60_000, log });
    expect(await resilient.claimToken('t1', 2_000, 1_000)).toBe(true);
    pipes[0]!.deaf = true;
    const started = performance.now();
    // Already claimed (the primary said so, and the worker kept a copy): still refused from memory.
    expect(await resilient.claimToken('t1', 2_000, 1_001)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect(lines).toContain('guard store unavailable: deciding from memory until it recovers');
    expect(await resilient.attempt('192.0.2.9', '192.0.2.9|ua', 1_002, false)).toEqual({ ok: true }); // no wait: breaker open
    expect(resilient.healthy).toBe(false);
    pipes[0]!.disconnect();
    expect(stores[0].ready).toBe(false);
  });

  it('the primary refuses malformed requests instead of deciding on them', () => {
    const store = new MemoryStore(SPEC_LIMITS);
    expect(() => answerGuardRequest(store, { op: 'hit', args: [1, 2] })).toThrow('expected a string');
    expect(() => answerGuardRequest(store, { op: 'attempt', args: ['ip', 'ua', 1, 'yes'] })).toThrow('expected a boolean');
    expect(() => answerGuardRequest(store, { op: 'hit', args: ['ip', Number.NaN] })).toThrow('expected a finite number');
    expect(() => answerGuardRequest(store, { op: 'flush', args: [] })).toThrow('unknown guard operation "flush"');
    expect(() => answerGuardRequest(store, null)).toThrow('guard request without arguments');
    expect(() => answerGuardRequest(store, { op: 'claim', args: ['x'.repeat(2_000), 1, 0] })).toThrow('at most 1 KiB');
  });
});
