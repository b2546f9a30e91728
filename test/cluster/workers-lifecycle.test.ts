/**
 * WORKERS=2 as a process tree: calls reach both workers, /metrics sums them, one SIGTERM to the
 * primary drains both and the primary exits 0 with nothing left behind, a group Ctrl-C under
 * `npm start` drains once, and a killed worker is replaced while the other's calls go on.
 */
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { expectRelayBothWays } from '../helpers/relay.js';
import type { FakeRealtimeConnection } from '../../tools/fakes/fake-realtime-connection.js';
import { isListening, processGroup } from '../ops/process-tree.js';
import { value } from '../ops/prom-text.js';
import { CLUSTER_TIMEOUT_MS, clusterPerTest, isMsg, placeCall, scrape, type Cluster, type LogRecord } from './workers-rig.js';
import { isAlive } from '../ops/process-tree.js';

const { start, calls } = clusterPerTest();
const caller = readFixture('caller-8k.ulaw').subarray(0, 4000); // 0.5 s
const agent = readFixture('agent-8k.ulaw').subarray(0, 8000); // 1 s

type Placed = Awaited<ReturnType<typeof placeCall>> & { readonly conn: FakeRealtimeConnection };

/**
 * Places calls one at a time until each worker carries at least one and `at` are placed (round
 * robin: two are enough; a few more cover stray connections). One at a time, so the stand-in's
 * n-th connection is the n-th call's upstream.
 */
async function callsOnBothWorkers(c: Cluster, at = 2): Promise<Placed[]> {
  const placed: Placed[] = [];
  const on = (n: number) => placed.filter((p) => c.workerOf(p.callSid) === n).length;
  while (on(1) === 0 || on(2) === 0 || placed.length < at) {
    expect(placed.length, 'calls placed before both workers carried one').toBeLessThan(at + 6);
    const before = c.realtime.totalConnections;
    const call = await placeCall(c, calls);
    const conn = await c.realtime.waitForConnection(before, 10_000);
    await conn.waitForEvent('session.update');
    await until(() => c.workerOf(call.callSid) !== undefined, 10_000, 'the stream to start');
    placed.push(Object.assign(call, { conn }));
  }
  return placed;
}

const errorsIn = (records: LogRecord[]) => records.filter((r) => typeof r.level === 'number' && r.level >= 50);

describe('WORKERS=2', { timeout: CLUSTER_TIMEOUT_MS }, () => {
  it('calls reach both workers, /metrics sums them, and one SIGTERM drains both: the primary exits 0 and nothing is left', async () => {
    const c = await start();
    const placed = await callsOnBothWorkers(c, 4);
    const pids = [...c.workerPids().values()];
    expect(pids).toHaveLength(2);

    // Whichever worker gets the scrape answers for both (two scrapes on two connections: both workers).
    for (let i = 0; i < 2; i++) {
      const text = await scrape(c);
      expect(value(text, 'voice_bridge_calls_started_total')).toBe(placed.length);
      expect(value(text, 'voice_bridge_live_calls')).toBe(placed.length);
      expect(value(text, 'voice_bridge_workers')).toBe(2);
      expect(value(text, 'voice_bridge_workers_scraped')).toBe(2);
      for (const n of [1, 2]) {
        const on = placed.filter((p) => c.workerOf(p.callSid) === n).length;
        expect(value(text, 'voice_bridge_worker_calls', { worker: String(n) }), `worker ${n}`).toBe(on);
      }
    }

    // What systemd's KillMode=mixed does: SIGTERM to the main process only.
    c.server.child.kill('SIGTERM');
    await until(() => c.records().filter(isMsg('draining: no new calls; waiting for live calls to end')).length === 2, 20_000, 'both workers to drain');
    const ready = await fetch(`${c.server.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    // The live calls go on, on both workers, until they hang up.
    for (const worker of [1, 2]) {
      const p = placedOn(c, placed, worker);
      await expectRelayBothWays(p, p.conn, caller, agent);
    }
    expect(c.server.child.exitCode).toBeNull();
    for (const p of placed) expect((await p.hangUp()).code).toBe(1000);

    expect(await c.server.exited).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(isAlive(pid), `worker ${pid}`).toBe(false);
    expect(await isListening(c.server.port)).toBe(false);
    const records = c.records();
    expect(records.filter(isMsg('worker finished')).map((r) => r.worker).sort()).toEqual([1, 2]);
    expect(records.find(isMsg('every worker has finished; exiting'))).toMatchObject({ code: 0 });
    expect(records.filter(isMsg('drain finished')).map((r) => r.outcome)).toEqual(['idle', 'idle']);
    expect(errorsIn(records)).toEqual([]);
  });

  it('a killed worker is replaced and its call logged as ended; the other worker\'s call goes on and new calls reach both', async () => {
    const c = await start();
    const [first, second] = await callsOnBothWorkers(c);
    const victim = c.workerOf(first!.callSid)!;
    const survivor = placedOn(c, [first!, second!], victim === 1 ? 2 : 1);
    const oldPid = c.workerPids().get(victim)!;

    process.kill(oldPid, 'SIGKILL');
    const exit = await c.server.waitForLine(isMsg('worker exited unexpectedly; its calls ended'), 20_000);
    expect(exit).toMatchObject({ role: 'primary', worker: victim, pid: oldPid, signal: 'SIGKILL', liveCalls: 1 });
    expect(await c.server.waitForLine((r) => r.msg === 'call ended' && r.role === 'primary')).toMatchObject({
      worker: victim,
      callSid: first!.callSid,
      reason: 'worker_exit',
    });
    expect((await first!.closed).code).toBe(1006); // its socket died with the process

    await until(() => c.workerPids().get(victim) !== oldPid, 20_000, 'a replacement to start');
    const newPid = c.workerPids().get(victim)!;
    await until(() => c.records().some((r) => r.msg === 'worker listening' && r.pid === newPid), 30_000, 'the replacement to listen');
    expect(survivor.isOpen).toBe(true);

    const again = await callsOnBothWorkers(c);
    expect(again.some((p) => c.workerOf(p.callSid) === victim)).toBe(true);
    const text = await scrape(c);
    expect(value(text, 'voice_bridge_worker_exits_total')).toBe(1);
    expect(value(text, 'voice_bridge_calls_ended_total', { reason: 'worker_exit' })).toBe(1);
    expect(value(text, 'voice_bridge_live_calls')).toBe(1 + again.length);
    for (const p of [survivor, ...again]) expect((await p.hangUp()).code).toBe(1000);
  });
});

function placedOn<T extends { callSid: string }>(c: Cluster, placed: readonly T[], worker: number): T {
  const found = placed.find((p) => c.workerOf(p.callSid) === worker);
  if (!found) throw new Error(`no call on worker ${worker}`);
  return found;
}

describe('WORKERS=2 under npm start', { timeout: CLUSTER_TIMEOUT_MS }, () => {
  it('Ctrl-C (SIGINT to the whole group: npm, primary and workers at once) drains once, and npm exits 0', async () => {
    const c = await start({}, { npm: true });
    const npmPid = c.server.child.pid!;
    const group = processGroup(npmPid);
    // npm, the primary (npm's child) and two workers (the primary's, started by absolute path).
    expect(group.map((p) => p.cmdline.replace(/^\S*node \S*dist\/server\.js$/, 'node server')).sort()).toEqual(['node server', 'node server', 'node server', 'npm start']);
    expect(group.filter((p) => p.ppid === group.find((q) => q.cmdline === 'node dist/server.js')!.pid)).toHaveLength(2);
    const [call] = await callsOnBothWorkers(c);

    process.kill(-npmPid, 'SIGINT');
    await until(() => c.records().filter(isMsg('draining: no new calls; waiting for live calls to end')).length === 2, 20_000, 'both workers to drain');
    await expectRelayBothWays(call!, call!.conn, caller, agent);
    for (const p of calls) if (p.isOpen) expect((await p.hangUp()).code).toBe(1000);
    expect(await c.server.exited).toEqual({ code: 0, signal: null });
    expect(processGroup(npmPid)).toEqual([]);
    const records = c.records();
    expect(records.filter(isMsg('second shutdown signal: exiting now'))).toEqual([]);
    expect(records.filter(isMsg('shutdown signal received')).map((r) => r.worker).sort()).toEqual([1, 2]);
    expect(errorsIn(records)).toEqual([]);
  });
});
