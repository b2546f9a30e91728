/**
 * Host-wide call slots (WORKERS > 1): the primary's count (cluster/host-slots.ts) and each
 * worker's registry asking it (cluster/worker-registry.ts), over an in-memory pipe.
 */
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/cluster/channel.js';
import { HostSlots } from '../../src/cluster/host-slots.js';
import { WorkerRegistry } from '../../src/cluster/worker-registry.js';
import type { HostAdmission } from '../../src/guard/host-admission.js';
import { createMetrics } from '../../src/metrics.js';
import { until } from '../helpers/until.js';
import { portPair } from './port-pair.js';

const limits = { maxCalls: 3, maxStreamsPerIp: 2 };

function host(opts: { deadlineMs?: number } = {}) {
  let now = 0;
  const slots = new HostSlots(limits, () => now);
  const lines: string[] = [];
  const log = { warn: (_o: unknown, m: string) => lines.push(m), info: (m: string) => lines.push(m) } as unknown as Pick<Logger, 'warn' | 'info'>;
  const metrics = createMetrics({ processDefaults: false });
  const pipes = [portPair(), portPair()];
  const workers = pipes.map((pipe, i) => {
    const primary = new Channel(pipe.primary);
    slots.serve(primary, i + 1);
    return new WorkerRegistry(limits, { channel: new Channel(pipe.worker), log, metrics, deadlineMs: opts.deadlineMs });
  }) as [WorkerRegistry, WorkerRegistry];
  return { slots, workers, pipes, lines, metrics, tick: (ms: number) => (now += ms) };
}

const held = (a: HostAdmission): Extract<HostAdmission, { ok: true }> => {
  if (!a.ok) throw new Error(`refused: ${a.reason}`);
  return a;
};

describe('HostSlots', () => {
  it('MAX_CALLS, MAX_STREAMS_PER_IP and one stream per call hold across workers; a release frees the slot', async () => {
    const { workers: [a, b], slots } = host();
    const one = held(await a.acquire('192.0.2.1', 'CA1'));
    expect(await b.acquire('192.0.2.1', 'CA1')).toEqual({ ok: false, reason: 'call_live' });
    held(await b.acquire('192.0.2.1', 'CA2'));
    expect(await a.acquire('192.0.2.1', 'CA3')).toEqual({ ok: false, reason: 'ip_cap' });
    held(await b.acquire('192.0.2.2', 'CA3'));
    expect(await a.acquire('192.0.2.3', 'CA4')).toEqual({ ok: false, reason: 'capacity' });
    expect(slots.streams).toBe(3);
    one.release();
    one.release(); // idempotent
    await until(() => slots.streams === 2, 1_000, 'the release to arrive');
    held(await a.acquire('192.0.2.3', 'CA4'));
  });

  it("a worker's exit frees its slots and reservations and names its calls", async () => {
    const { workers: [a, b], slots, tick } = host();
    held(await a.acquire('192.0.2.1', 'CA1'));
    held(await b.acquire('192.0.2.1', 'CA2'));
    slots.setReservations(1, 1);
    expect(slots.live).toBe(3);
    tick(5_000);
    expect(slots.releaseWorker(1)).toEqual([{ callSid: 'CA1', heldMs: 5_000 }]);
    expect(slots.live).toBe(1);
    expect(slots.releaseWorker(1)).toEqual([]);
    // A late release from the exited worker, or one for another worker's slot, changes nothing.
    slots.release(1, 2);
    expect(slots.streams).toBe(1);
  });

  it("tells every worker the host's count, which webhooks and pre-warm reservations heed", async () => {
    const { workers: [a, b], slots, pipes } = host();
    const tell = () => {
      for (const pipe of pipes) pipe.primary.send({ vb: 'note', kind: 'host_live', body: slots.live });
    };
    held(await a.acquire('192.0.2.1', 'CA1'));
    held(await a.acquire('192.0.2.2', 'CA2'));
    const reservation = b.reserve();
    expect(typeof reservation).toBe('object');
    await until(() => slots.live === 3, 1_000, 'the reservation to be told');
    tell();
    await until(() => b.hostLive === 3, 1_000, 'the count to arrive');
    // b itself holds nothing but a reservation, yet the host is full.
    expect(b.canServeNewCall()).toBe('capacity');
    expect(b.reserve()).toBe('capacity');
    expect(b.reserved).toBe(1);
    (reservation as { release(): void }).release();
    await until(() => slots.live === 2, 1_000, 'the release to be told');
    tell();
    await until(() => b.hostLive === 2, 1_000, 'the count to arrive');
    expect(b.canServeNewCall()).toBe(null);
  });

  it('a primary that does not answer in time: the stream is admitted on local limits, logged once, and a late grant handed back', async () => {
    const { workers: [a], slots, pipes, lines, metrics } = host({ deadlineMs: 20 });
    // Requests reach the primary, answers are held back until we let them through.
    const heldBack: unknown[] = [];
    const send = pipes[0]!.primary.send.bind(pipes[0]!.primary);
    pipes[0]!.primary.send = (m) => (heldBack.push(m), true);
    const admitted = await a.acquire('192.0.2.1', 'CA1');
    expect(admitted.ok).toBe(true);
    expect(lines.filter((l) => l.startsWith('host-wide call slots unavailable'))).toHaveLength(1);
    expect(slots.streams).toBe(1); // the primary granted it, late
    for (const m of heldBack.splice(0)) send(m as never);
    await until(() => slots.streams === 0, 1_000, 'the late grant to be handed back');
    pipes[0]!.primary.send = send;
    held(await a.acquire('192.0.2.1', 'CA2'));
    expect(lines).toContain('host-wide call slots answer again');
    const errors = await metrics.guardStoreErrors.get();
    expect(errors.values).toEqual([{ labels: { op: 'host_slot' }, value: 1 }]);
    // Gone altogether: admitted at once on local limits.
    pipes[0]!.disconnect();
    expect((await a.acquire('192.0.2.1', 'CA3')).ok).toBe(true);
  });
});
