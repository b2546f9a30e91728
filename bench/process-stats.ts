/**
 * What a benchmarked server process reports about itself on `/__bench/stats` (the bridge,
 * bench-bridge.ts, and the baselines, baseline-server.ts, alike, so the harness measures all
 * three the same way): CPU, memory, event-loop lag, live handles, and the server's own counts.
 */
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';

/**
 * Lag sampling interval, ms: fine enough to see 5 ms stalls, cheap (100 wake-ups a second). One
 * for the bridge and the baselines, so their lag figures compare.
 */
export const LAG_RESOLUTION_MS = 10;

export interface BridgeStats {
  readonly pid: number;
  /** process.cpuUsage(), µs. */
  readonly cpu: { readonly user: number; readonly system: number };
  readonly memory: NodeJS.MemoryUsage;
  /** Event-loop delay since the last reset (beyond the sampling interval), ms. */
  readonly lag: { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number };
  /** process.getActiveResourcesInfo(), counted by kind. */
  readonly handles: Record<string, number>;
  readonly sessions: number;
  readonly liveCalls: number;
  /** The server's own counters. */
  readonly counters: Record<string, number>;
}

/** The event-loop delay histogram the stats read, already sampling. */
export function startLagMonitor(): ELDHistogram {
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  lag.enable();
  return lag;
}

/** The stats routes answer loopback callers only. */
export function loopbackOnly(ip: string | undefined): boolean {
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';
}

/** This process's figures now, with the server's own `sessions`, `liveCalls` and `counters`. */
export function processStats(lag: ELDHistogram, own: Pick<BridgeStats, 'sessions' | 'liveCalls' | 'counters'>): BridgeStats {
  const handles: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) handles[kind] = (handles[kind] ?? 0) + 1;
  // The histogram holds whole intervals between samples (resolution + delay): lag is the excess.
  const toMs = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS) : 0);
  return {
    pid: process.pid,
    cpu: process.cpuUsage(),
    memory: process.memoryUsage(),
    lag: { p50: toMs(lag.percentile(50)), p99: toMs(lag.percentile(99)), max: toMs(lag.max), mean: toMs(lag.mean) },
    handles,
    ...own,
  };
}
