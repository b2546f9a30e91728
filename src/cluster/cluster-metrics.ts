/**
 * /metrics and the minute line for the whole host (WORKERS > 1).
 *
 * A scrape reaches one worker (whichever the primary handed the connection to); that worker asks
 * the primary, the primary asks every worker for its registry as JSON, adds its own (its CPU and
 * memory, worker restarts, calls ended by a worker's exit) and sums them with prom-client's
 * `AggregatorRegistry.aggregate` (each metric by its aggregator: counters, gauges and histograms
 * summed, event-loop lag averaged, the version taken once). Not `clusterMetrics()`: that fails the
 * whole scrape, after 5 s, when one worker does not answer (one that is exiting, say); here a
 * worker gets GATHER_DEADLINE_MS and a scrape answers with those that did, and
 * voice_bridge_workers_scraped says how many that was.
 *
 * A worker that exits takes its counters with it: the host's sums then drop, which Prometheus
 * reads as a counter reset (rate() copes), and the minute line clamps that minute's deltas at 0.
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Channel } from './channel.js';
import type { Exposition } from '../ops/metrics-route.js';
import { snapshotOf, type MetricsSnapshot, type Sample } from '../ops/minute-summary.js';

/** Primary → worker: your registry as JSON. */
export const WORKER_METRICS_REQUEST = 'metrics';
/** Worker → primary: the host's exposition text. */
export const HOST_METRICS_REQUEST = 'host_metrics';
/** How long the primary waits for each worker's figures, ms. @default 2_000 */
export const GATHER_DEADLINE_MS = 2_000;

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Worker side: answer the primary with this registry's figures. */
export function serveWorkerMetrics(channel: Channel, registry: Registry): void {
  channel.handle(WORKER_METRICS_REQUEST, () => registry.getMetricsAsJSON());
}

/** How long a scrape waits for the primary's answer (its own wait for the workers, and a margin), ms. */
export const HOST_SCRAPE_DEADLINE_MS = GATHER_DEADLINE_MS + 3_000;

/** Worker side: what a scrape answers (an error, so a 500, when the primary does not answer in time). */
export function hostExposition(channel: Channel): () => Promise<Exposition> {
  return async () => {
    const reply = (await within(channel.request(HOST_METRICS_REQUEST, null), HOST_SCRAPE_DEADLINE_MS)) as Partial<Exposition> | undefined;
    if (typeof reply?.body !== 'string' || typeof reply.contentType !== 'string') throw new Error('the primary sent no metrics in time');
    return { contentType: reply.contentType, body: reply.body };
  };
}

/** Resolves with `promise`'s value, or undefined after `ms` or on failure. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, late]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

export interface HostMetricsOptions {
  /** The primary's own registry; `voice_bridge_workers_scraped` is set on it before each gather. */
  readonly own: Registry;
  readonly setScraped: (workers: number) => void;
  /** @default GATHER_DEADLINE_MS */
  readonly deadlineMs?: number;
}

/** Primary side: every worker's figures and the primary's own, summed. */
export async function gatherHost(channels: readonly Channel[], opts: HostMetricsOptions): Promise<Registry> {
  const deadlineMs = opts.deadlineMs ?? GATHER_DEADLINE_MS;
  const answers = await Promise.all(channels.map((c) => within(c.request(WORKER_METRICS_REQUEST, null), deadlineMs)));
  const workers = answers.filter((a): a is MetricsJson => Array.isArray(a));
  opts.setScraped(workers.length);
  return AggregatorRegistry.aggregate([await opts.own.getMetricsAsJSON(), ...workers]);
}

/** Primary side: answer a worker's scrape with the host's figures. */
export function serveHostMetrics(channel: Channel, gather: () => Promise<Registry>): void {
  channel.handle(HOST_METRICS_REQUEST, async (): Promise<Exposition> => {
    const registry = await gather();
    return { contentType: registry.contentType, body: await registry.metrics() };
  });
}

/** The minute line's figures, from a summed registry. */
export async function hostSnapshot(registry: Registry): Promise<MetricsSnapshot> {
  const values = async (name: string): Promise<readonly Sample[]> => {
    const metric = registry.getSingleMetric(`voice_bridge_${name}`);
    return metric ? ((await metric.get()).values as readonly Sample[]) : [];
  };
  const [httpRequests, wsMessages, rejections, droppedFrames, prewarms, liveCalls] = await Promise.all(
    ['http_requests_total', 'ws_messages_total', 'rejections_total', 'dropped_frames_total', 'prewarm_total', 'live_calls'].map(values),
  );
  return snapshotOf({
    httpRequests: httpRequests!,
    wsMessages: wsMessages!,
    rejections: rejections!,
    droppedFrames: droppedFrames!,
    prewarms: prewarms!,
    liveCalls: liveCalls!,
  });
}
