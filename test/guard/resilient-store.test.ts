import { describe, expect, it } from 'vitest';

import { MemoryStore } from '../../src/guard/memory-store.js';
import { ResilientStore } from '../../src/guard/resilient-store.js';
import { withDeadline, DeadlineError } from '../../src/deadline.js';
import type { GuardStore } from '../../src/guard/store.js';
import { createMetrics } from '../../src/metrics.js';
import { SPEC_LIMITS } from './spec-limits.js';

const limits = SPEC_LIMITS;

function recordingLog() {
  const lines: { level: string; obj: unknown; msg?: string }[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, log: { warn: at('warn'), info: at('info'), debug: at('debug') } as never };
}

/** A backend that works, fails or hangs on command. */
function switchable(): GuardStore & { mode: 'up' | 'error' | 'hang'; ready: boolean; calls: number } {
  const inner = new MemoryStore(limits);
  const s = {
    mode: 'up' as 'up' | 'error' | 'hang',
    ready: true,
    calls: 0,
    go<T>(f: () => Promise<T>): Promise<T> {
      s.calls += 1;
      if (s.mode === 'error') return Promise.reject(new Error('connection is closed'));
      if (s.mode === 'hang') return new Promise<T>(() => {});
      return f();
    },
    hit: (ip: string, now: number) => s.go(() => inner.hit(ip, now)),
    attempt: (ip: string, a: string, now: number, p: boolean) => s.go(() => inner.attempt(ip, a, now, p)),
    penalize: (ip: string, now: number) => s.go(() => inner.penalize(ip, now)),
    claimToken: (id: string, e: number, now: number) => s.go(() => inner.claimToken(id, e, now)),
    claimCall: (sid: string, until: number, now: number) => s.go(() => inner.claimCall(sid, until, now)),
    releaseCall: (sid: string) => s.go(() => inner.releaseCall(sid)),
    ping: () => s.go(() => Promise.resolve()),
    close: () => Promise.resolve(),
  };
  return s;
}

describe('withDeadline', () => {
  it('passes a prompt answer through and rejects a late one', async () => {
    await expect(withDeadline(Promise.resolve(7), 50, 'a store')).resolves.toBe(7);
    await expect(withDeadline(new Promise(() => {}), 10, 'a store')).rejects.toBeInstanceOf(DeadlineError);
  });
});

describe('ResilientStore', () => {
  it('answers from memory on errors, logs the outage once, counts every failure, and recovers by probing', async () => {
    const backend = switchable();
    const { lines, log } = recordingLog();
    const metrics = createMetrics({ processDefaults: false });
    let mono = 0;
    const store = new ResilientStore(backend, new MemoryStore(limits), { log, metrics, deadlineMs: 20, probeIntervalMs: 30, mono: () => mono });
    expect(store.healthy).toBe(true);

    backend.mode = 'error';
    expect(await store.penalize('192.0.2.1', 0)).toMatchObject({ fresh: true, label: 'cooldown' });
    expect(store.healthy).toBe(false);
    expect(await store.hit('192.0.2.1', 1)).toMatchObject({ ok: false, reason: 'cooldown' });
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);

    backend.mode = 'up';
    expect(store.healthy).toBe(false); // within the probe interval: no try yet
    mono += 30;
    expect(store.healthy).toBe(false); // reading it started a probe…
    await new Promise((r) => setImmediate(r));
    expect(store.healthy).toBe(true); // …which found the backend answering
    expect(lines.filter((l) => l.level === 'info').map((l) => l.obj)).toEqual(['guard store recovered: shared decisions again']);
    const errors = await metrics.guardStoreErrors.get();
    expect(errors.values.map((v) => [v.labels.op, v.value])).toEqual([['penalize', 1]]);
  });

  it('is unhealthy while the backend says it is disconnected', () => {
    const backend = switchable();
    backend.ready = false;
    const store = new ResilientStore(backend, new MemoryStore(limits), { log: recordingLog().log });
    expect(store.healthy).toBe(false);
  });

  it('keeps what the backend decided for use during an outage: bans and used tokens', async () => {
    const backend = switchable();
    const store = new ResilientStore(backend, new MemoryStore(limits), { log: recordingLog().log, deadlineMs: 20 });
    expect(await store.attempt('192.0.2.9', 'a', 0, true)).toMatchObject({ ok: true, ban: { fresh: true } });
    expect(await store.claimToken('tok', 300_000, 0)).toBe(true);
    backend.mode = 'hang';
    expect(await store.hit('192.0.2.9', 1_000)).toMatchObject({ ok: false, status: 403, reason: 'cooldown', retryAfterMs: 29_000 });
    expect(await store.claimToken('tok', 300_000, 1_000)).toBe(false);
  });

  it('refuses an address whose ban it holds without asking the backend, until the ban ends', async () => {
    const backend = switchable();
    const store = new ResilientStore(backend, new MemoryStore(limits), { log: recordingLog().log });
    const ip = '192.0.2.30';
    expect(await store.attempt(ip, 'a', 0, true)).toMatchObject({ ok: true, ban: { fresh: true, until: 30_000 } });
    expect(backend.calls).toBe(1);
    expect(await store.attempt(ip, 'a', 1_000, true)).toEqual({ ok: false, status: 403, reason: 'cooldown', retryAfterMs: 29_000 });
    expect(await store.hit(ip, 2_000)).toMatchObject({ ok: false, status: 403, reason: 'cooldown' });
    expect(store.attemptNow(ip, 'a', 3_000, true)).toMatchObject({ ok: false, status: 403 });
    expect(backend.calls).toBe(1); // all from memory
    // Another address, or this one once its ban is over: only the backend knows.
    expect(store.attemptNow('192.0.2.31', 'a', 3_000, true)).toBeUndefined();
    expect(store.attemptNow(ip, 'a', 30_000, true)).toBeUndefined();
    await store.attempt(ip, 'a', 30_000, true);
    expect(backend.calls).toBe(2);
  });

  it('decides at once while the backend is down, and leaves the probe to the backend', async () => {
    const backend = switchable();
    const store = new ResilientStore(backend, new MemoryStore(limits), { log: recordingLog().log, probeIntervalMs: 60_000 });
    backend.mode = 'error';
    expect(await store.hit('192.0.2.40', 0)).toEqual({ ok: true }); // fails over, opens the breaker
    expect(store.attemptNow('192.0.2.41', 'a', 1, true)).toMatchObject({ ok: true, ban: { fresh: true } });
    expect(backend.calls).toBe(1);
  });
});
