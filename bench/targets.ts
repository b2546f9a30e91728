/**
 * The benchmark results as stored (bench/results.json) and the targets checked against
 * them: one headline row per figure, with the target and whether it is met.
 */
import type { Machine } from './machine.js';
import type { MessageRateResult } from './message-rate.js';
import type { CapacityResult } from './capacity.js';
import type { LatencyResult } from './latency.js';
import type { FloodBenchResult, FloorResult } from './flood.js';
import type { SoakResult } from './soak.js';
import type { ProfileSummary } from './profile.js';
import type { FirstAudioResult } from './first-audio.js';

export const BENCHMARKS = ['message-rate', 'capacity', 'latency', 'flood', 'soak', 'first-audio'] as const;
export type BenchName = (typeof BENCHMARKS)[number];

export interface RunInfo {
  readonly startedAt: string;
  readonly durationS: number;
  readonly command: string;
  readonly quick: boolean;
  /** 1-minute load average before and after: other work on the machine shows up here. */
  readonly load1Before: number;
  readonly load1After: number;
  /** Busiest CPU's use by other work just before starting, %. */
  readonly busyBefore?: number;
  readonly error?: string;
  /** The invocation that measured it (Results.runId of that run); absent in older results. */
  readonly runId?: string;
  /** Where it was measured ("CPU model × cores, Node version"); absent in older results. */
  readonly machine?: string;
}

/** Short machine description kept with each section, so carried figures say where they came from. */
export function machineLabel(m: Machine): string {
  return `${m.cpuModel} × ${m.cores}, Node ${m.node}`;
}

/**
 * How a section's figures relate to the report: measured in its latest run, or carried from an
 * earlier run (with that run's date and machine). Older results without run ids say only when.
 */
export function runLabel(info: RunInfo | undefined, r: Pick<Results, 'runId' | 'machine'>): string {
  if (!info) return 'not run';
  if (r.runId !== undefined && info.runId === r.runId) return 'this run';
  const when = `${info.startedAt.slice(0, 16).replace('T', ' ')} UTC`;
  const where = info.machine ?? machineLabel(r.machine);
  return r.runId !== undefined ? `carried: ${when}, ${where}` : `${when}, ${where}`;
}

/** Sections of older results say where they were measured (the file's machine) before another machine's run is merged in. */
export function withMachineStamped(stored: Results): Results {
  const out: Results = { ...stored };
  const where = machineLabel(stored.machine);
  for (const name of BENCHMARKS) {
    const section = out[name];
    if (section !== undefined && section.machine === undefined) (out as unknown as Record<string, RunInfo>)[name] = { ...section, machine: where };
  }
  return out;
}

/** Whether a section was carried from an earlier run than the report's latest. */
export function isCarried(info: RunInfo | undefined, r: Pick<Results, 'runId'>): boolean {
  return info !== undefined && r.runId !== undefined && info.runId !== r.runId;
}

export interface Results {
  /** The machine and placement of the latest run (each section keeps its own machine). */
  machine: Machine;
  placement: string;
  /** Id of the latest run that measured anything (sections of other runs are carried). */
  runId?: string;
  'message-rate'?: RunInfo & { result?: MessageRateResult };
  capacity?: RunInfo & { result?: CapacityResult };
  latency?: RunInfo & { result?: LatencyResult[] };
  flood?: RunInfo & { result?: FloodBenchResult[]; skipped?: string[]; floor?: FloorResult };
  soak?: RunInfo & { result?: SoakResult };
  'first-audio'?: RunInfo & { result?: FirstAudioResult };
  profiles?: { streaming?: ProfileSummary & { calls: number }; flood?: ProfileSummary; capturedAt: string };
}

export interface Headline {
  readonly benchmark: string;
  readonly figure: string;
  readonly value: string;
  readonly target: string;
  /** null: no target, or not measured. */
  readonly met: boolean | null;
  /** The section it comes from (whose run, when, where). */
  readonly source?: RunInfo;
}

const f1 = (v: number): string => v.toFixed(1);
const f2 = (v: number): string => v.toFixed(2);
const int = (v: number): string => Math.round(v).toLocaleString('en-US');

/** Heap growth over a soak that still counts as noise: 1 MB or 5 %, whichever is larger. */
export function soakGrowthOk(r: SoakResult): boolean {
  const growth = r.end.heapMb - r.start.heapMb;
  return growth <= Math.max(1, 0.05 * r.start.heapMb);
}

export function soakHandlesOk(r: SoakResult): boolean {
  const kinds = new Set([...Object.keys(r.start.handles), ...Object.keys(r.end.handles)]);
  for (const k of kinds) if ((r.end.handles[k] ?? 0) > (r.start.handles[k] ?? 0)) return false;
  return r.end.sessions === 0 && r.end.liveCalls === 0 && r.end.upstreamOpen === 0;
}

export function headlines(results: Results): Headline[] {
  const rows: Headline[] = [];
  const from = (source: RunInfo | undefined, start: number): void => {
    for (let i = start; i < rows.length; i++) rows[i] = { ...(rows[i] as Headline), source };
  };
  let mark = 0;
  const rate = results['message-rate']?.result;
  if (rate) {
    rows.push({ benchmark: '1 message rate', figure: 'to Realtime, per s of audio (appends + control)', value: f2(rate.toRealtimePerS), target: '≤ 10.5', met: rate.toRealtimePerS <= 10.5 });
    rows.push({
      benchmark: '1 message rate',
      figure: 'to Twilio, per s of audio (media + marks)',
      value: `${f2(rate.toTwilioPerS)} (${f2(rate.mediaPerS)} + ${f2(rate.marksPerS)})`,
      target: '≤ 10.5',
      met: rate.toTwilioPerS <= 10.5,
    });
  }
  from(results['message-rate'], mark);
  mark = rows.length;
  const cap = results.capacity?.result;
  if (cap) {
    const best = cap.steps.filter((s) => s.stop === null).at(-1);
    rows.push({ benchmark: '2 capacity', figure: 'concurrent calls on one core (no drops, lag p99 ≤ 50 ms)', value: int(cap.maxCalls), target: '≥ 1,000', met: cap.maxCalls >= 1000 });
    if (best) {
      rows.push({ benchmark: '2 capacity', figure: `CPU per call at ${best.calls} calls`, value: `${best.cpuPctPerCall.toFixed(3)} % of a core`, target: '—', met: null });
      rows.push({ benchmark: '2 capacity', figure: 'RSS / heap per call', value: `${int(best.rssKbPerCall)} kB / ${int(best.heapKbPerCall)} kB`, target: '—', met: null });
    }
    for (const r of cap.ratios ?? []) {
      const suspect = r.note ? ' ¹' : '';
      rows.push({
        benchmark: '2 capacity',
        figure: `CPU per call at ${int(r.calls)} calls ÷ the floor relay's (same run)`,
        value: r.vsFloor === null ? 'not measured' : `${f2(r.vsFloor)}×${suspect}`,
        target: '≤ 1.2×',
        met: r.vsFloor === null ? null : r.vsFloor <= 1.2,
      });
      rows.push({
        benchmark: '2 capacity',
        figure: `CPU per call at ${int(r.calls)} calls ÷ the naive 20 ms relay's (same run)`,
        value: r.vsNaive === null ? `not measured${r.naive === null && r.bridge !== null ? ' (naive relay saturated before)' : ''}` : `${f2(r.vsNaive)}×${suspect}`,
        target: '—',
        met: null,
      });
    }
  }
  from(results.capacity, mark);
  mark = rows.length;
  for (const lat of results.latency?.result ?? []) {
    const under = `at ${lat.calls} calls`;
    rows.push({ benchmark: '3 latency', figure: `model delta → Twilio media, p99 ${under}`, value: `${f2(lat.deltaToMedia.p99)} ms`, target: '< 5 ms', met: lat.deltaToMedia.p99 < 5 });
    rows.push({ benchmark: '3 latency', figure: `speech_started → clear, p99 ${under}`, value: `${f2(lat.speechToClear.p99)} ms`, target: '< 5 ms', met: lat.speechToClear.p99 < 5 });
    rows.push({ benchmark: '3 latency', figure: `caller frame → append, p99 ${under}`, value: `${f2(lat.callerToAppend.p99)} ms`, target: '(≤ 100 ms window by design)', met: null });
  }
  from(results.latency, mark);
  mark = rows.length;
  for (const fl of results.flood?.result ?? []) {
    rows.push({
      benchmark: `4 flood (${fl.store})`,
      figure: 'refusals per second on one core (measured; projected from CPU µs per refusal)',
      value: `${int(fl.refusedPerS)}/s measured; ${int(fl.projectedPerCoreS)}/s projected (${f1(fl.cpuUsPerRefusal)} µs each)`,
      target: '≥ 10,000/s',
      met: fl.refusedPerS >= 10_000 || fl.projectedPerCoreS >= 10_000,
    });
    const gap = Math.max(fl.maxAppendGapMs, fl.maxMediaGapMs);
    rows.push({ benchmark: `4 flood (${fl.store})`, figure: `worst live-call gap during the flood (${fl.liveCalls} calls)`, value: `${int(gap)} ms`, target: '≤ 150 ms', met: gap <= 150 });
  }
  from(results.flood, mark);
  mark = rows.length;
  const soak = results.soak?.result;
  if (soak) {
    rows.push({
      benchmark: '5 soak',
      figure: `heap after GC, start → end of ${int(soak.calls)} calls`,
      value: `${f2(soak.start.heapMb)} → ${f2(soak.end.heapMb)} MB`,
      target: 'no growth beyond noise',
      met: soakGrowthOk(soak),
    });
    rows.push({
      benchmark: '5 soak',
      figure: 'handles / sessions / upstream sockets left',
      value: `${sumHandles(soak.start.handles)} → ${sumHandles(soak.end.handles)} / ${soak.end.sessions} / ${soak.end.upstreamOpen}`,
      target: 'none left',
      met: soakHandlesOk(soak),
    });
  }
  from(results.soak, mark);
  mark = rows.length;
  const fa = results['first-audio']?.result;
  if (fa) {
    rows.push({
      benchmark: 'first audio',
      figure: 'start → first media (p50), without / with pre-warm',
      value: `${f1(fa.withoutPrewarmMs.p50)} / ${f1(fa.withPrewarmMs.p50)} ms`,
      target: '—',
      met: null,
    });
  }
  from(results['first-audio'], mark);
  return rows;
}

export function sumHandles(h: Record<string, number>): number {
  return Object.values(h).reduce((a, b) => a + b, 0);
}
