/**
 * The once-a-minute `metrics` log line: the last minute's deltas of the Prometheus counters.
 *
 * The figures come from the same prom-client registry `/metrics` serves, so the log and the
 * scrape can never disagree. The pure part (`summarize`) turns two snapshots into the line's
 * fields; the shell (`startMinuteSummary`) takes a snapshot per interval and logs it.
 * One unref'd interval per app: it is a report, not a poll (nothing waits on it), and it never
 * keeps the process alive.
 */
import { systemClock } from '../clock.js';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';

/** @default 60 000 ms: SPEC "once a minute". */
export const SUMMARY_INTERVAL_MS = 60_000;

/** Counter totals at one instant (monotonic within one registry). */
export interface MetricsSnapshot {
  readonly httpRequests: number;
  /** `${peer}_${direction}` → messages, e.g. twilio_in. */
  readonly wsMessages: Readonly<Record<string, number>>;
  readonly rejections: Readonly<Record<string, number>>;
  readonly droppedFrames: Readonly<Record<string, number>>;
  /** outcome → pre-warms (voice_bridge_prewarm_total). */
  readonly prewarms: Readonly<Record<string, number>>;
  readonly liveCalls: number;
}

export interface SummaryLine {
  readonly intervalMs: number;
  readonly httpRequests: number;
  readonly wsMessages: { twilioIn: number; twilioOut: number; upstreamIn: number; upstreamOut: number };
  /** Only reasons that moved this interval; `{}` on a quiet minute. */
  readonly rejections: Record<string, number>;
  readonly liveCalls: number;
  readonly droppedFrames: { toUpstream: number; toTwilio: number };
  /** What became of pre-warmed upstreams this interval: adopted ÷ all is the adoption rate. */
  readonly prewarms: { adopted: number; expired: number; notUsable: number; discarded: number };
}

export const EMPTY_SNAPSHOT: MetricsSnapshot = {
  httpRequests: 0,
  wsMessages: {},
  rejections: {},
  droppedFrames: {},
  prewarms: {},
  liveCalls: 0,
};

/** The deltas between two snapshots. A counter never goes down; a negative delta is clamped to 0. */
export function summarize(prev: MetricsSnapshot, cur: MetricsSnapshot, intervalMs: number): SummaryLine {
  const d = (a: number | undefined, b: number | undefined) => Math.max(0, (b ?? 0) - (a ?? 0));
  const rejections: Record<string, number> = {};
  for (const [reason, total] of Object.entries(cur.rejections)) {
    const delta = d(prev.rejections[reason], total);
    if (delta > 0) rejections[reason] = delta;
  }
  return {
    intervalMs,
    httpRequests: d(prev.httpRequests, cur.httpRequests),
    wsMessages: {
      twilioIn: d(prev.wsMessages.twilio_in, cur.wsMessages.twilio_in),
      twilioOut: d(prev.wsMessages.twilio_out, cur.wsMessages.twilio_out),
      upstreamIn: d(prev.wsMessages.upstream_in, cur.wsMessages.upstream_in),
      upstreamOut: d(prev.wsMessages.upstream_out, cur.wsMessages.upstream_out),
    },
    rejections,
    liveCalls: cur.liveCalls,
    droppedFrames: {
      toUpstream: d(prev.droppedFrames.to_upstream, cur.droppedFrames.to_upstream),
      toTwilio: d(prev.droppedFrames.to_twilio, cur.droppedFrames.to_twilio),
    },
    prewarms: {
      adopted: d(prev.prewarms.adopted, cur.prewarms.adopted),
      expired: d(prev.prewarms.expired, cur.prewarms.expired),
      notUsable: d(prev.prewarms.not_usable, cur.prewarms.not_usable),
      discarded: d(prev.prewarms.discarded, cur.prewarms.discarded),
    },
  };
}

export interface Sample {
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  readonly value: number;
}

function byLabels(values: readonly Sample[], key: (labels: Sample['labels']) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const k = key(v.labels);
    out[k] = (out[k] ?? 0) + v.value;
  }
  return out;
}

/** The series the line reads, each metric's values (a registry's, or several workers' summed). */
export interface SummarySeries {
  readonly httpRequests: readonly Sample[];
  readonly wsMessages: readonly Sample[];
  readonly rejections: readonly Sample[];
  readonly droppedFrames: readonly Sample[];
  readonly prewarms: readonly Sample[];
  readonly liveCalls: readonly Sample[];
}

export function snapshotOf(series: SummarySeries): MetricsSnapshot {
  return {
    httpRequests: series.httpRequests.reduce((sum, v) => sum + v.value, 0),
    wsMessages: byLabels(series.wsMessages, (l) => `${String(l.peer)}_${String(l.direction)}`),
    rejections: byLabels(series.rejections, (l) => String(l.reason)),
    droppedFrames: byLabels(series.droppedFrames, (l) => String(l.direction)),
    prewarms: byLabels(series.prewarms, (l) => String(l.outcome)),
    liveCalls: series.liveCalls[0]?.value ?? 0,
  };
}

/** Reads the counters the line reports (prom-client's `get()` is async; a few µs here). */
export async function takeSnapshot(metrics: Metrics): Promise<MetricsSnapshot> {
  const [http, ws, rejections, dropped, prewarms, live] = await Promise.all([
    metrics.httpRequests.get(),
    metrics.wsMessages.get(),
    metrics.rejections.get(),
    metrics.droppedFrames.get(),
    metrics.prewarms.get(),
    metrics.liveCalls.get(),
  ]);
  return snapshotOf({
    httpRequests: http.values,
    wsMessages: ws.values,
    rejections: rejections.values,
    droppedFrames: dropped.values,
    prewarms: prewarms.values,
    liveCalls: live.values,
  });
}

export interface MinuteSummaryOptions {
  /** What the line reports: this registry's counters, or a `snapshot` taken elsewhere (WORKERS > 1: all workers'). */
  readonly metrics?: Metrics;
  readonly snapshot?: () => Promise<MetricsSnapshot>;
  /** More fields for the line (WORKERS > 1: how many workers it covers). */
  readonly fields?: () => Readonly<Record<string, unknown>>;
  readonly log: Pick<Logger, 'info' | 'warn'>;
  /** @default SUMMARY_INTERVAL_MS; tests pass a few ms. */
  readonly intervalMs?: number;
  /** Monotonic clock, ms (the line's intervalMs). @default systemClock.mono */
  readonly now?: () => number;
}

export interface MinuteSummary {
  /** Logs one line now with the deltas since the previous one (also what the interval calls). */
  report(): Promise<SummaryLine>;
  /** Idempotent. */
  stop(): void;
}

export function startMinuteSummary(opts: MinuteSummaryOptions): MinuteSummary {
  const intervalMs = opts.intervalMs ?? SUMMARY_INTERVAL_MS;
  let prev: MetricsSnapshot = EMPTY_SNAPSHOT;
  const clock = opts.now ?? systemClock.mono;
  let prevAt = clock();
  const { metrics } = opts;
  const take = opts.snapshot ?? (metrics ? () => takeSnapshot(metrics) : undefined);
  if (take === undefined) throw new TypeError('startMinuteSummary needs metrics or a snapshot');
  const report = async (): Promise<SummaryLine> => {
    const cur = await take();
    const now = clock();
    const line = summarize(prev, cur, Math.round(now - prevAt));
    prev = cur;
    prevAt = now;
    opts.log.info(opts.fields ? { ...line, ...opts.fields() } : line, 'metrics');
    return line;
  };
  const timer = setInterval(() => {
    report().catch((err: unknown) => opts.log.warn({ err }, 'metrics summary failed'));
  }, intervalMs);
  timer.unref();
  return { report, stop: () => clearInterval(timer) };
}
