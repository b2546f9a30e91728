/**
 * Benchmark 2, capacity: concurrent real-time calls on one core. The bridge (pinned to CPU 0)
 * carries N calls — each caller streaming 20 ms frames without pause (as Twilio does, silence
 * included), the stand-in answering each caller turn with 6 s of speech in 20 ms deltas — and N
 * steps up until frames are dropped or the event-loop lag p99 passes 50 ms.
 */
import { COUNTER, counterDelta, cpuShare, sleep } from './harness.js';
import { startRig } from './rig.js';

export interface CapacityStep {
  readonly calls: number;
  /** Bridge CPU over the window, % of one core. */
  readonly cpuPct: number;
  readonly cpuPctPerCall: number;
  readonly rssMb: number;
  readonly rssKbPerCall: number;
  /** Heap after a full GC at the end of the step, minus idle, per call. */
  readonly heapKbPerCall: number;
  readonly lagP50Ms: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  /** Messages the bridge received + sent per second (both peers). */
  readonly messagesPerS: number;
  readonly drops: number;
  readonly failedCalls: number;
  readonly maxAppendGapMs: number;
  readonly generatorLagP99Ms: number;
  /** Why the stepping stopped here, if it did. */
  readonly stop: string | null;
}

export interface CapacityResult {
  readonly steps: CapacityStep[];
  readonly idle: { readonly rssMb: number; readonly heapMb: number; readonly cpuPct: number };
  /** The largest N that met the criteria (no drops, lag p99 ≤ 50 ms, no failed calls). */
  readonly maxCalls: number;
  readonly windowS: number;
  readonly limitedBy: string;
}

export interface CapacityOptions {
  readonly steps: readonly number[];
  /** Measurement window per step, s. */
  readonly windowS: number;
  /** Calls placed per second while ramping. */
  readonly rampPerSecond: number;
  readonly log: (line: string) => void;
}

/** SPEC-level criteria for "carried": the event loop answers within 50 ms at p99. */
export const LAG_P99_LIMIT_MS = 50;
/** The load generator is saturated (its figures can't be trusted) when its own frames go out this late. */
const GENERATOR_LATE_LIMIT_MS = 60;

export async function runCapacity(opts: CapacityOptions): Promise<CapacityResult> {
  const rig = await startRig({ load: { gapMs: 7000 } });
  const { bridge, load, standIn } = rig;
  const steps: CapacityStep[] = [];
  let limitedBy = `the last step (${opts.steps.at(-1)} calls) still met the criteria`;
  const idle = { rssMb: 0, heapMb: 0, cpuPct: 0 };
  try {
    await sleep(1000);
    const idleMem = await bridge.gc();
    const idle0 = await bridge.stats({ resetLag: true });
    const idleT0 = performance.now();
    await sleep(2000);
    const idle1 = await bridge.stats();
    Object.assign(idle, { rssMb: idleMem.rss / 1e6, heapMb: idleMem.heapUsed / 1e6, cpuPct: cpuShare(idle0, idle1, performance.now() - idleT0) * 100 });
    opts.log(`idle: rss ${idle.rssMb.toFixed(0)} MB, heap ${idle.heapMb.toFixed(1)} MB, cpu ${idle.cpuPct.toFixed(1)} %`);

    for (const n of opts.steps) {
      await load.add(n - load.live, opts.rampPerSecond);
      // Let set-up traffic pass and answers start before measuring.
      await sleep(3000);
      const s0 = await bridge.stats({ resetLag: true });
      load.resetWindow();
      standIn.resetWindow();
      const t0 = performance.now();
      await sleep(opts.windowS * 1000);
      const s1 = await bridge.stats();
      const wallMs = performance.now() - t0;
      const generator = load.generatorHealth();
      const afterGc = await bridge.gc();
      const cpu = cpuShare(s0, s1, wallMs);
      const drops = counterDelta(s0, s1, COUNTER.droppedUp) + counterDelta(s0, s1, COUNTER.droppedTwilio);
      const messages =
        counterDelta(s0, s1, COUNTER.upstreamOut) + counterDelta(s0, s1, COUNTER.upstreamIn) + counterDelta(s0, s1, COUNTER.twilioOut) + counterDelta(s0, s1, COUNTER.twilioIn);
      const live = load.live;
      let stop: string | null = null;
      if (load.failed > 0) stop = `${load.failed} call(s) could not be placed: ${load.failures[0] ?? ''}`;
      else if (load.endedEarly > 0) stop = `${load.endedEarly} call(s) were ended by the bridge`;
      else if (drops > 0) stop = `${drops} frames dropped`;
      else if (s1.lag.p99 > LAG_P99_LIMIT_MS) stop = `event-loop lag p99 ${s1.lag.p99.toFixed(0)} ms > ${LAG_P99_LIMIT_MS} ms`;
      else if (generator.maxLateMs > GENERATOR_LATE_LIMIT_MS) stop = `load generator saturated (its frames up to ${generator.maxLateMs.toFixed(0)} ms late)`;
      const step: CapacityStep = {
        calls: live,
        cpuPct: cpu * 100,
        cpuPctPerCall: (cpu * 100) / Math.max(1, live),
        rssMb: s1.memory.rss / 1e6,
        rssKbPerCall: (s1.memory.rss - idleMem.rss) / 1e3 / Math.max(1, live),
        heapKbPerCall: (afterGc.heapUsed - idleMem.heapUsed) / 1e3 / Math.max(1, live),
        lagP50Ms: s1.lag.p50,
        lagP99Ms: s1.lag.p99,
        lagMaxMs: s1.lag.max,
        messagesPerS: messages / (wallMs / 1000),
        drops,
        failedCalls: load.failed + load.endedEarly,
        maxAppendGapMs: standIn.maxAppendGapMs,
        generatorLagP99Ms: generator.lagP99Ms,
        stop,
      };
      steps.push(step);
      opts.log(
        `  ${String(live).padStart(5)} calls: cpu ${step.cpuPct.toFixed(0)} % (${step.cpuPctPerCall.toFixed(3)} %/call), rss ${step.rssMb.toFixed(0)} MB ` +
          `(${step.rssKbPerCall.toFixed(0)} kB/call, heap ${step.heapKbPerCall.toFixed(0)} kB/call), lag p50/p99 ${step.lagP50Ms.toFixed(1)}/${step.lagP99Ms.toFixed(1)} ms, ` +
          `${Math.round(step.messagesPerS)} msg/s, drops ${drops}, generator lag p99 ${generator.lagP99Ms.toFixed(0)} ms${stop ? ` — stop: ${stop}` : ''}`,
      );
      if (stop) {
        limitedBy = stop;
        break;
      }
    }
  } finally {
    await rig.close();
  }
  const ok = steps.filter((s) => s.stop === null);
  return { steps, idle, maxCalls: ok.at(-1)?.calls ?? 0, windowS: opts.windowS, limitedBy };
}
