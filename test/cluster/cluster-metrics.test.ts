/**
 * The host's /metrics and minute line (WORKERS > 1): every worker's registry and the primary's
 * summed by each metric's aggregator, a worker that does not answer left out (and counted), and
 * the minute line's figures read from the sum.
 */
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/cluster/channel.js';
import { gatherHost, hostExposition, hostSnapshot, serveHostMetrics, serveWorkerMetrics } from '../../src/cluster/cluster-metrics.js';
import { createPrimaryMetrics } from '../../src/cluster/primary-metrics.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { value } from '../ops/prom-text.js';
import { portPair } from './port-pair.js';

function rig() {
  const primary = createPrimaryMetrics({ processDefaults: false, streamsByWorker: () => new Map([[1, 3]]), workers: 2 });
  const workers: Metrics[] = [createMetrics({ processDefaults: false }), createMetrics({ processDefaults: false })];
  const pipes = workers.map(() => portPair());
  const toWorkers = pipes.map((pipe) => new Channel(pipe.primary));
  const fromWorkers = pipes.map((pipe, i) => {
    const channel = new Channel(pipe.worker);
    serveWorkerMetrics(channel, workers[i]!.registry);
    return channel;
  });
  const gather = () => gatherHost(toWorkers, { own: primary.registry, setScraped: (n) => primary.workersScraped.set(n), deadlineMs: 50 });
  for (const channel of toWorkers) serveHostMetrics(channel, gather);
  return { primary, workers, pipes, gather, fromWorkers };
}

describe('host metrics', () => {
  it('a scrape on any worker answers the sum over every worker and the primary', async () => {
    const { primary, workers, fromWorkers } = rig();
    workers[0]!.callsStarted.inc(2);
    workers[1]!.callsStarted.inc(3);
    workers[0]!.callsEnded.labels('hangup').inc(1);
    primary.callsEnded.labels('worker_exit').inc(1);
    workers[0]!.liveCalls.set(1);
    workers[1]!.liveCalls.set(3);
    workers[1]!.draining.set(1);
    workers[0]!.draining.set(1);
    for (const channel of fromWorkers) {
      const { body, contentType } = await hostExposition(channel)();
      expect(contentType).toMatch(/^text\/plain/);
      expect(value(body, 'voice_bridge_calls_started_total')).toBe(5);
      expect(value(body, 'voice_bridge_calls_ended_total', { reason: 'hangup' })).toBe(1);
      expect(value(body, 'voice_bridge_calls_ended_total', { reason: 'worker_exit' })).toBe(1);
      expect(value(body, 'voice_bridge_live_calls')).toBe(4);
      expect(value(body, 'voice_bridge_draining')).toBe(1); // max, not 2
      expect(value(body, 'voice_bridge_workers_scraped')).toBe(2);
      expect(value(body, 'voice_bridge_worker_calls', { worker: '1' })).toBe(3);
      expect(value(body, 'voice_bridge_worker_calls', { worker: '2' })).toBe(0);
    }
  });

  it('a worker that does not answer in time is left out, and the scrape says so', async () => {
    const { workers, pipes, gather } = rig();
    workers[0]!.callsStarted.inc(2);
    workers[1]!.callsStarted.inc(3);
    pipes[1]!.deaf = true;
    const registry = await gather();
    const body = await registry.metrics();
    expect(value(body, 'voice_bridge_calls_started_total')).toBe(2);
    expect(value(body, 'voice_bridge_workers_scraped')).toBe(1);
  });

  it("the minute line's figures come from the sum", async () => {
    const { workers, gather } = rig();
    workers[0]!.httpRequests.labels('/twilio/voice', 'POST', '200').inc(4);
    workers[1]!.httpRequests.labels('/twilio/voice', 'POST', '200').inc(6);
    workers[0]!.rejections.labels('capacity').inc(1);
    workers[1]!.rejections.labels('capacity').inc(2);
    workers[1]!.prewarms.labels('adopted').inc(1);
    workers[0]!.liveCalls.set(2);
    workers[1]!.liveCalls.set(5);
    const snapshot = await hostSnapshot(await gather());
    expect(snapshot).toMatchObject({ httpRequests: 10, rejections: { capacity: 3 }, prewarms: { adopted: 1 }, liveCalls: 7 });
  });
});
