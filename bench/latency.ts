/**
 * Benchmark 3, added latency at N concurrent calls, measured across the bridge on one clock (the
 * callers and the stand-in share this process): caller frame sent → `append` received (for the
 * frame that completes a 100 ms window: the window itself is a wait by design), model delta sent
 * → Twilio `media` received (the delta that completes a frame), `speech_started` sent → `clear`
 * received. Callers interrupt every answer (2 s pauses), so barge-ins happen all the time.
 * The figures include two loopback hops and the load generator's own scheduling, which is
 * reported alongside.
 */
import { LatencyProbe } from '../tools/sim/latency.js';
import { COUNTER, counterDelta, cpuShare, sleep } from './harness.js';
import { startRig } from './rig.js';

export interface LatencySeries {
  readonly count: number;
  readonly p50: number;
  /** Absent in results measured before the charts (bench/plots.ts) wanted it. */
  readonly p95?: number;
  readonly p99: number;
  readonly max: number;
}

export interface LatencyResult {
  readonly calls: number;
  readonly windowS: number;
  readonly callerToAppend: LatencySeries;
  readonly deltaToMedia: LatencySeries;
  readonly speechToClear: LatencySeries;
  readonly bridgeCpuPct: number;
  readonly bridgeLagP99Ms: number;
  readonly generatorLagP99Ms: number;
  readonly drops: number;
  readonly failedCalls: number;
}

export interface LatencyOptions {
  readonly calls: number;
  readonly windowS: number;
  readonly rampPerSecond: number;
  readonly log: (line: string) => void;
}

export async function runLatency(opts: LatencyOptions): Promise<LatencyResult> {
  const probe = new LatencyProbe();
  const rig = await startRig({ standIn: { probe }, load: { gapMs: 2000, probe } });
  const { bridge, load } = rig;
  try {
    await load.add(opts.calls, opts.rampPerSecond);
    await sleep(3000);
    const s0 = await bridge.stats({ resetLag: true });
    probe.reset();
    load.resetWindow();
    const t0 = performance.now();
    await sleep(opts.windowS * 1000);
    const s1 = await bridge.stats();
    const wallMs = performance.now() - t0;
    const series = (s: LatencyProbe['callerToUpstream']): LatencySeries => {
      const { count, p50, p99, max } = s.summary();
      return { count, p50, p95: s.percentile(95), p99, max };
    };
    const result: LatencyResult = {
      calls: load.live,
      windowS: opts.windowS,
      callerToAppend: series(probe.callerToUpstream),
      deltaToMedia: series(probe.modelToTwilio),
      speechToClear: series(probe.speechToClear),
      bridgeCpuPct: cpuShare(s0, s1, wallMs) * 100,
      bridgeLagP99Ms: s1.lag.p99,
      generatorLagP99Ms: load.generatorHealth().lagP99Ms,
      drops: counterDelta(s0, s1, COUNTER.droppedUp) + counterDelta(s0, s1, COUNTER.droppedTwilio),
      failedCalls: load.failed + load.endedEarly,
    };
    const fmt = (s: LatencySeries): string => `p50 ${s.p50.toFixed(2)} / p99 ${s.p99.toFixed(2)} ms (n=${s.count})`;
    opts.log(
      `  ${result.calls} calls: frame→append ${fmt(result.callerToAppend)}; delta→media ${fmt(result.deltaToMedia)}; ` +
        `speech_started→clear ${fmt(result.speechToClear)}; bridge cpu ${result.bridgeCpuPct.toFixed(0)} %, lag p99 ${result.bridgeLagP99Ms.toFixed(1)} ms; ` +
        `generator lag p99 ${result.generatorLagP99Ms.toFixed(1)} ms`,
    );
    return result;
  } finally {
    await rig.close();
  }
}
