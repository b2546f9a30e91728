/**
 * WORKERS=2 when things go wrong: a second shutdown signal stops everything at once (128 + its
 * number, as one process), a primary that is killed leaves no orphan behind (node:cluster ends
 * its workers), and a port that cannot be had fails the start with exit 1.
 */
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { isListening } from '../ops/process-tree.js';
import { startServerProcess } from '../helpers/server-process.js';
import { testEnv } from '../helpers/config.js';
import { SIGNAL_ECHO_MS } from '../../src/ops/shutdown-policy.js';
import { CLUSTER_TIMEOUT_MS, clusterPerTest, isMsg, placeCall } from './workers-rig.js';
import { isAlive } from '../ops/process-tree.js';

const { start, calls } = clusterPerTest();

describe('WORKERS=2, faults', { timeout: CLUSTER_TIMEOUT_MS }, () => {
  it('a second SIGTERM after the echo window kills the workers and exits 143 at once', async () => {
    const c = await start({ DRAIN_TIMEOUT_SECONDS: '600' });
    const call = await placeCall(c, calls);
    await until(() => c.workerOf(call.callSid) !== undefined, 10_000, 'the stream to start');
    const pids = [...c.workerPids().values()];

    c.server.child.kill('SIGTERM');
    const firstAt = performance.now();
    await until(() => c.records().filter(isMsg('draining: no new calls; waiting for live calls to end')).length === 2, 20_000, 'both workers to drain');
    // This wait is the policy's own window, not a guess at how long something takes.
    await until(() => performance.now() - firstAt > SIGNAL_ECHO_MS + 100, SIGNAL_ECHO_MS + 5_000, 'the echo window to pass');
    c.server.child.kill('SIGTERM');
    expect(await c.server.exited).toEqual({ code: 143, signal: null });
    expect(c.records().find(isMsg('second shutdown signal: exiting now'))).toMatchObject({ role: 'primary', liveCalls: 1 });
    expect((await call.closed).code).toBe(1006);
    await until(() => pids.every((pid) => !isAlive(pid)), 5_000, 'the workers to be gone');
  });

  it('when the primary is killed, node:cluster ends its workers at once: nothing is left serving', async () => {
    const c = await start();
    const call = await placeCall(c, calls);
    await until(() => c.workerOf(call.callSid) !== undefined, 10_000, 'the stream to start');
    const pids = [...c.workerPids().values()];

    c.server.child.kill('SIGKILL');
    await c.server.exited;
    await until(() => pids.every((pid) => !isAlive(pid)), 10_000, 'the workers to be gone');
    expect((await call.closed).code).toBe(1006);
    expect(await isListening(c.server.port)).toBe(false);
  });

  it('a port that cannot be had: the workers fail to listen and the primary exits 1', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      // startServerProcess waits for a listening line that never comes: it fails once the process exits.
      const starting = startServerProcess(testEnv({ WORKERS: '2', PORT: String(port) }));
      await expect(starting).rejects.toThrow(/server exited \(1\)/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
