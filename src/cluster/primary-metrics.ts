/**
 * The primary's own figures (WORKERS > 1), summed into the host's /metrics with every worker's
 * (cluster-metrics.ts): its process (CPU, memory: it accepts every connection and answers the
 * workers' guard and slot requests), and what only it sees — workers running, workers that
 * exited unexpectedly, and the calls those took with them, as calls_ended_total{reason="worker_exit"}
 * beside the workers' own end reasons.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface PrimaryMetrics {
  readonly registry: Registry;
  readonly workers: Gauge;
  readonly workersScraped: Gauge;
  readonly workerExits: Counter;
  readonly callsEnded: Counter<'reason'>;
  readonly workerCalls: Gauge<'worker'>;
}

export interface PrimaryMetricsOptions {
  readonly processDefaults?: boolean;
  /** Streams each worker carries now (host-slots.ts), read at each scrape. */
  readonly streamsByWorker: () => ReadonlyMap<number, number>;
  readonly workers: number;
}

export function createPrimaryMetrics(opts: PrimaryMetricsOptions): PrimaryMetrics {
  const registry = new Registry();
  const p = 'voice_bridge_';
  const registers = [registry];
  if (opts.processDefaults !== false) collectDefaultMetrics({ register: registry, prefix: p, eventLoopMonitoringPrecision: 20 });
  return {
    registry,
    workers: new Gauge({ name: `${p}workers`, help: 'Worker processes running (WORKERS > 1)', registers }),
    workersScraped: new Gauge({
      name: `${p}workers_scraped`,
      help: 'Workers whose figures this scrape sums (fewer than voice_bridge_workers when one did not answer in time)',
      registers,
    }),
    workerExits: new Counter({
      name: `${p}worker_exits_total`,
      help: 'Worker processes that exited unexpectedly (each was replaced)',
      registers,
    }),
    // Same name, help and labels as the workers' counter (metrics.ts), so the two sum into one series.
    callsEnded: new Counter({
      name: `${p}calls_ended_total`,
      help: 'Calls ended, by end reason',
      labelNames: ['reason'],
      registers,
    }),
    // Only the primary reports it, so the host's sum keeps one series per worker: how even the spread is.
    workerCalls: new Gauge({
      name: `${p}worker_calls`,
      help: 'Media streams each worker carries (WORKERS > 1): how evenly connections are spread',
      labelNames: ['worker'],
      registers,
      collect(this: Gauge<'worker'>) {
        const byWorker = opts.streamsByWorker();
        for (let n = 1; n <= opts.workers; n++) this.labels(String(n)).set(byWorker.get(n) ?? 0);
      },
    }),
  };
}
