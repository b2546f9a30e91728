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
}

export interface Results {
  machine: Machine;
  placement: string;
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
  const cap = results.capacity?.result;
  if (cap) {
    const best = cap.steps.filter((s) => s.stop === null).at(-1);
    rows.push({ benchmark: '2 capacity', figure: 'concurrent calls on one core (no drops, lag p99 ≤ 50 ms)', value: int(cap.maxCalls), target: '≥ 1,000', met: cap.maxCalls >= 1000 });
    if (best) {
      rows.push({ benchmark: '2 capacity', figure: `CPU per call at ${best.calls} calls`, value: `${best.cpuPctPerCall.toFixed(3)} % of a core`, target: '—', met: null });
      rows.push({ benchmark: '2 capacity', figure: 'RSS / heap per call', value: `${int(best.rssKbPerCall)} kB / ${int(best.heapKbPerCall)} kB`, target: '—', met: null });
    }
  }
  for (const lat of results.latency?.result ?? []) {
    const under = `at ${lat.calls} calls`;
    rows.push({ benchmark: '3 latency', figure: `model delta → Twilio media, p99 ${under}`, value: `${f2(lat.deltaToMedia.p99)} ms`, target: '< 5 ms', met: lat.deltaToMedia.p99 < 5 });
    rows.push({ benchmark: '3 latency', figure: `speech_started → clear, p99 ${under}`, value: `${f2(lat.speechToClear.p99)} ms`, target: '< 5 ms', met: lat.speechToClear.p99 < 5 });
    rows.push({ benchmark: '3 latency', figure: `caller frame → append, p99 ${under}`, value: `${f2(lat.callerToAppend.p99)} ms`, target: '(≤ 100 ms window by design)', met: null });
  }
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
  return rows;
}

export function sumHandles(h: Record<string, number>): number {
  return Object.values(h).reduce((a, b) => a + b, 0);
}
