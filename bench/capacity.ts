/**
 * Benchmark 2, capacity: concurrent real-time calls on one core. The server under test (pinned to
 * CPU 0) carries N calls — each caller streaming 20 ms frames without pause (as Twilio does,
 * silence included), the stand-in answering each caller turn with 6 s of speech in 20 ms deltas —
 * and N steps up until frames are dropped or the event-loop lag p99 passes 50 ms.
 *
 * The bridge is stepped first; then the two baselines (bench/relay-floor.ts, bench/relay-naive.ts)
 * carry the same load at the baseline call counts, so the bridge's CPU per call is reported as a
 * ratio to each, measured in the same run on the same machine (a ratio survives a noisy machine;
 * an absolute figure does not).
 */
import { COUNTER, counterDelta, cpuShare, sleep, startBenchBridge, type ServerKind } from './harness.js';
import { LocalLoad, type LoadDriver } from './load-driver.js';
import { SpreadLoad } from './spread-load.js';

export interface CapacityStep {
  /** Calls asked for at this step (live calls may be fewer when some failed). */
  readonly target?: number;
  readonly calls: number;
  /** Server CPU over the window, % of one core. */
  readonly cpuPct: number;
  readonly cpuPctPerCall: number;
  readonly rssMb: number;
  readonly rssKbPerCall: number;
  /** Heap after a full GC at the end of the step, minus idle, per call. */
  readonly heapKbPerCall: number;
  readonly lagP50Ms: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  /** Messages the server received + sent per second (both peers). */
  readonly messagesPerS: number;
  readonly drops: number;
  readonly failedCalls: number;
  readonly maxAppendGapMs: number;
  readonly generatorLagP99Ms: number;
  /** Why the stepping stopped here, if it did. */
  readonly stop: string | null;
}

export interface ServerIdle {
  readonly rssMb: number;
  readonly heapMb: number;
  readonly cpuPct: number;
}

/** One server stepped through its call counts. */
export interface ServerRun {
  readonly server: ServerKind;
  readonly steps: CapacityStep[];
  readonly idle: ServerIdle;
  /** The largest N that met the criteria. */
  readonly maxCalls: number;
  readonly limitedBy: string;
}

/** The bridge's CPU per call against each baseline at one call count, measured in the same run. */
export interface CpuRatio {
  readonly calls: number;
  /** CPU % of a core per call; null when that server was not measured at this count (saturated before). */
  readonly bridge: number | null;
  readonly floor: number | null;
  readonly naive: number | null;
  /** bridge ÷ floor, bridge ÷ naive; null when either side is missing. */
  readonly vsFloor: number | null;
  readonly vsNaive: number | null;
  /** Why a figure is missing or suspect (a server or the generator saturated). */
  readonly note: string;
}

export interface CapacityResult {
  /** The bridge's steps (kept at the top level: older results have only these). */
  readonly steps: CapacityStep[];
  readonly idle: ServerIdle;
  /** The largest N that met the criteria (no drops, lag p99 ≤ 50 ms, no failed calls). */
  readonly maxCalls: number;
  readonly windowS: number;
  readonly limitedBy: string;
  /** Load-generator processes (1: callers and stand-in in the benchmark's own process). */
  readonly generators?: number;
  /** The baselines' runs (floor, naive), when measured. */
  readonly baselines?: ServerRun[];
  readonly ratios?: CpuRatio[];
}

export interface CapacityOptions {
  /** Call counts the bridge steps through. */
  readonly steps: readonly number[];
  /** Call counts the baselines are measured at (and the bridge, if not in `steps`); [] for none. */
  readonly baselineSteps?: readonly number[];
  /** Measurement window per step, s. */
  readonly windowS: number;
  /** Calls placed per second while ramping. */
  readonly rampPerSecond: number;
  /** Load-generator processes; 1 keeps callers and stand-in in this process. @default 1 */
  readonly generators?: number;
  /** CPUs the generator processes are pinned to, one each in turn. */
  readonly generatorCpus?: readonly number[];
  readonly log: (line: string) => void;
  /** Short "where are we" updates (the progress line). */
  readonly progress?: (what: string) => void;
}

/** SPEC-level criteria for "carried": the event loop answers within 50 ms at p99. */
export const LAG_P99_LIMIT_MS = 50;
/** The load generator is saturated (its figures can't be trusted) when its own frames go out this late. */
const GENERATOR_LATE_LIMIT_MS = 60;
/** Callers pause this long after each utterance: answers play out (the baselines replay the same loop). */
const GAP_MS = 7000;

async function startLoad(opts: CapacityOptions): Promise<LoadDriver> {
  const k = opts.generators ?? 1;
  return k > 1 ? SpreadLoad.start({ gapMs: GAP_MS, processes: k, cpus: opts.generatorCpus ?? [] }) : LocalLoad.start({ gapMs: GAP_MS });
}

/** Steps one server through `steps` (stopping at the first step that misses the criteria). */
export async function stepServer(server: ServerKind, steps: readonly number[], opts: CapacityOptions): Promise<ServerRun> {
  const say = (what: string): void => opts.progress?.(`capacity: ${server}, ${what}`);
  say('starting');
  const load = await startLoad(opts);
  const out: CapacityStep[] = [];
  let limitedBy = `the last step (${steps.at(-1) ?? 0} calls) still met the criteria`;
  const idle = { rssMb: 0, heapMb: 0, cpuPct: 0 };
  try {
    const bridge = await startBenchBridge({ realtimeUrl: load.realtimeUrl, server, env: server === 'bridge' ? {} : { BASELINE_GAP_MS: String(GAP_MS) } });
    try {
      await load.attach(bridge.baseUrl, bridge.authToken);
      await sleep(1000);
      const idleMem = await bridge.gc();
      const idle0 = await bridge.stats({ resetLag: true });
      const idleT0 = performance.now();
      await sleep(2000);
      const idle1 = await bridge.stats();
      Object.assign(idle, { rssMb: idleMem.rss / 1e6, heapMb: idleMem.heapUsed / 1e6, cpuPct: cpuShare(idle0, idle1, performance.now() - idleT0) * 100 });
      opts.log(`${server} idle: rss ${idle.rssMb.toFixed(0)} MB, heap ${idle.heapMb.toFixed(1)} MB, cpu ${idle.cpuPct.toFixed(1)} %`);

      for (const n of steps) {
        const before = await load.snapshot();
        say(`ramping to ${n} calls`);
        await load.add(n - before.live, opts.rampPerSecond);
        // Let set-up traffic pass and answers start before measuring.
        await sleep(3000);
        say(`${n} calls, measuring ${opts.windowS} s`);
        const s0 = await bridge.stats({ resetLag: true });
        await load.resetWindow();
        const t0 = performance.now();
        await sleep(opts.windowS * 1000);
        const s1 = await bridge.stats();
        const wallMs = performance.now() - t0;
        const snap = await load.snapshot();
        const afterGc = await bridge.gc();
        const cpu = cpuShare(s0, s1, wallMs);
        const drops = counterDelta(s0, s1, COUNTER.droppedUp) + counterDelta(s0, s1, COUNTER.droppedTwilio);
        const messages =
          counterDelta(s0, s1, COUNTER.upstreamOut) + counterDelta(s0, s1, COUNTER.upstreamIn) + counterDelta(s0, s1, COUNTER.twilioOut) + counterDelta(s0, s1, COUNTER.twilioIn);
        const live = snap.live;
        let stop: string | null = null;
        if (snap.failed > 0) stop = `${snap.failed} call(s) could not be placed: ${snap.failures[0] ?? ''}`;
        else if (snap.endedEarly > 0) stop = `${snap.endedEarly} call(s) were ended by the server`;
        else if (drops > 0) stop = `${drops} frames dropped`;
        else if (s1.lag.p99 > LAG_P99_LIMIT_MS) stop = `event-loop lag p99 ${s1.lag.p99.toFixed(0)} ms > ${LAG_P99_LIMIT_MS} ms`;
        else if (snap.generatorMaxLateMs > GENERATOR_LATE_LIMIT_MS) stop = `load generator saturated (its frames up to ${snap.generatorMaxLateMs.toFixed(0)} ms late)`;
        const step: CapacityStep = {
          target: n,
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
          failedCalls: snap.failed + snap.endedEarly,
          maxAppendGapMs: snap.maxAppendGapMs,
          generatorLagP99Ms: snap.generatorLagP99Ms,
          stop,
        };
        out.push(step);
        opts.log(
          `  ${server.padEnd(6)} ${String(live).padStart(5)} calls: cpu ${step.cpuPct.toFixed(0)} % (${step.cpuPctPerCall.toFixed(3)} %/call), rss ${step.rssMb.toFixed(0)} MB ` +
            `(${step.rssKbPerCall.toFixed(0)} kB/call, heap ${step.heapKbPerCall.toFixed(0)} kB/call), lag p50/p99 ${step.lagP50Ms.toFixed(1)}/${step.lagP99Ms.toFixed(1)} ms, ` +
            `${Math.round(step.messagesPerS)} msg/s, drops ${drops}, generator lag p99 ${snap.generatorLagP99Ms.toFixed(0)} ms${stop ? ` — stop: ${stop}` : ''}`,
        );
        if (stop) {
          limitedBy = stop;
          break;
        }
      }
      say('hanging up');
      await load.hangUpAll();
    } finally {
      await bridge.stop();
    }
  } finally {
    await load.close();
  }
  const ok = out.filter((s) => s.stop === null);
  return { server, steps: out, idle, maxCalls: ok.at(-1)?.calls ?? 0, limitedBy };
}

/** The step of `run` at `calls` (asked for), if it was measured. */
function stepAt(run: ServerRun | undefined, calls: number): CapacityStep | undefined {
  return run?.steps.find((s) => (s.target ?? s.calls) === calls);
}

/** The bridge's CPU per call ÷ each baseline's, at each baseline call count. */
export function cpuRatios(bridge: ServerRun, baselines: readonly ServerRun[], counts: readonly number[]): CpuRatio[] {
  const floorRun = baselines.find((b) => b.server === 'floor');
  const naiveRun = baselines.find((b) => b.server === 'naive');
  return counts.map((calls) => {
    const b = stepAt(bridge, calls);
    const f = stepAt(floorRun, calls);
    const n = stepAt(naiveRun, calls);
    const notes: string[] = [];
    for (const [name, run, s] of [
      ['bridge', bridge, b],
      ['floor', floorRun, f],
      ['naive relay', naiveRun, n],
    ] as const) {
      if (run === undefined) continue;
      if (s === undefined) notes.push(`${name}: not measured (stopped before: ${run.limitedBy})`);
      else if (s.stop !== null) notes.push(`${name}: ${s.stop}`);
    }
    const per = (s: CapacityStep | undefined): number | null => (s === undefined ? null : s.cpuPctPerCall);
    const ratio = (x: CapacityStep | undefined, y: CapacityStep | undefined): number | null => (x === undefined || y === undefined || y.cpuPctPerCall <= 0 ? null : x.cpuPctPerCall / y.cpuPctPerCall);
    return { calls, bridge: per(b), floor: per(f), naive: per(n), vsFloor: ratio(b, f), vsNaive: ratio(b, n), note: notes.join('; ') };
  });
}

export async function runCapacity(opts: CapacityOptions): Promise<CapacityResult> {
  const baselineSteps = [...new Set(opts.baselineSteps ?? [])].sort((a, b) => a - b);
  // The bridge is measured at the baseline counts too, in the same stepping.
  const bridgeSteps = [...new Set([...opts.steps, ...baselineSteps])].sort((a, b) => a - b);
  const bridge = await stepServer('bridge', bridgeSteps, opts);
  const baselines: ServerRun[] = [];
  if (baselineSteps.length > 0) {
    for (const server of ['floor', 'naive'] as const) baselines.push(await stepServer(server, baselineSteps, opts));
  }
  const ratios = baselineSteps.length > 0 ? cpuRatios(bridge, baselines, baselineSteps) : undefined;
  for (const r of ratios ?? []) {
    const x = (v: number | null): string => (v === null ? '—' : `${v.toFixed(2)}×`);
    opts.log(`  at ${r.calls} calls: bridge ÷ floor ${x(r.vsFloor)}, bridge ÷ naive ${x(r.vsNaive)}${r.note ? ` (${r.note})` : ''}`);
  }
  return {
    steps: bridge.steps,
    idle: bridge.idle,
    maxCalls: bridge.maxCalls,
    windowS: opts.windowS,
    limitedBy: bridge.limitedBy,
    generators: opts.generators ?? 1,
    ...(baselineSteps.length > 0 ? { baselines, ratios } : {}),
  };
}
