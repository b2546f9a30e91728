/**
 * The report's charts, drawn from the stored results (pure: results in, SVG text out; bench/run.ts
 * writes the files). One chart per benchmark that has figures to plot:
 *
 * - cpu-per-call.svg: CPU per call against concurrent calls, the bridge and the two baselines
 *   (capacity: the bridge's steps and the floor and naive relays' steps);
 * - latency.svg: delta → media and speech_started → clear p50/p95/p99 and the bridge's
 *   event-loop lag p99 against concurrent calls (latency: one point per call count measured);
 * - flood.svg: the live calls' worst frame gap against refusals per second (flood: calls alone
 *   just before the flood at 0/s, then during it, per store).
 *
 * Each chart's subtitle says when and where its section was measured, as the tables do.
 */
import { escapeXml, lineChart, type ChartPoint, type ChartSeries, type MarkerShape } from './svg-chart.js';
import { machineLabel, type Results, type RunInfo } from './targets.js';
import type { CapacityStep } from './capacity.js';
import type { LatencySeries } from './latency.js';

export type ChartSection = 'capacity' | 'latency' | 'flood';

export interface Chart {
  readonly section: ChartSection;
  /** File name, written into the report's plots folder. */
  readonly file: string;
  /** Alternative text for the image (what it shows, in words). */
  readonly alt: string;
  readonly svg: string;
}

/** Where the charts lie relative to the report that embeds them. */
export interface ChartLinks {
  readonly dir: string;
  readonly charts: readonly Chart[];
}

/** Same colours for the same thing in every chart. */
const COLOR = { bridge: '#0072B2', floor: '#009E73', naive: '#D55E00', delta: '#0072B2', clear: '#E69F00', lag: '#555555', appends: '#0072B2', media: '#E69F00' } as const;
/** The issue's targets drawn as reference lines (bench/targets.ts checks them). */
const LATENCY_TARGET_MS = 5;
const FLOOD_GAP_TARGET_MS = 150;
/** The bridge sends 100 ms frames each way: the gap a live call shows with nothing in the way. */
const FRAME_INTERVAL_MS = 100;

function subtitle(what: string, info: RunInfo, r: Results): string {
  const when = `${info.startedAt.slice(0, 16).replace('T', ' ')} UTC`;
  return `${what} · measured ${when} on ${info.machine ?? machineLabel(r.machine)}${info.quick ? ' (quick mode)' : ''}`;
}

const stepPoints = (steps: readonly CapacityStep[]): ChartPoint[] => steps.map((s) => ({ x: s.calls, y: s.cpuPctPerCall, open: s.stop !== null }));

function cpuChart(r: Results): Chart | null {
  const info = r.capacity;
  const cap = info?.result;
  if (!info || !cap || cap.steps.length === 0) return null;
  const series: ChartSeries[] = [{ name: 'bridge', points: stepPoints(cap.steps), color: COLOR.bridge, shape: 'circle' }];
  for (const b of cap.baselines ?? []) {
    series.push(
      b.server === 'floor'
        ? { name: 'floor relay (bare ws)', points: stepPoints(b.steps), color: COLOR.floor, dash: 'dashed', shape: 'square' }
        : { name: 'naive relay (20 ms, JSON)', points: stepPoints(b.steps), color: COLOR.naive, dash: 'dotted', shape: 'triangle' },
    );
  }
  const open = series.some((s) => s.points.some((p) => p.open === true));
  const note = [
    open ? 'Open markers: that step missed the capacity criteria (drops, event-loop lag p99 > 50 ms, failed calls or a saturated load generator); section 2 says why.' : '',
    (cap.baselines ?? []).length === 0 ? 'The floor and naive relays were not measured in this run (npm run bench -- --only capacity --baselines 300,600).' : '',
  ].filter(Boolean);
  return {
    section: 'capacity',
    file: 'cpu-per-call.svg',
    alt: `CPU per call (% of one core) against concurrent calls: ${series.map((s) => s.name).join(', ')}`,
    svg: lineChart({
      title: 'CPU per call against concurrent calls',
      subtitle: subtitle('capacity', info, r),
      x: { title: 'load', unit: 'concurrent calls' },
      y: { title: 'CPU per call', unit: '% of one core' },
      series,
      ...(note.length > 0 ? { note: note.join(' ') } : {}),
    }),
  };
}

function latencyChart(r: Results): Chart | null {
  const info = r.latency;
  const runs = info?.result ?? [];
  if (!info || runs.length === 0) return null;
  const pct = (name: string, color: string, pick: (l: (typeof runs)[number]) => LatencySeries): ChartSeries[] =>
    (
      [
        ['p50', 'dotted', 'circle', (s: LatencySeries) => s.p50],
        ['p95', 'dashed', 'square', (s: LatencySeries) => s.p95 ?? Number.NaN],
        ['p99', 'solid', 'triangle', (s: LatencySeries) => s.p99],
      ] as const
    )
      .map(([p, dash, shape, value]) => ({ name: `${name} ${p}`, color, dash, shape, points: runs.map((l) => ({ x: l.calls, y: value(pick(l)) })) }))
      // p95 is absent from results measured before it was recorded: no empty legend entry for it.
      .filter((s) => s.points.some((pt) => Number.isFinite(pt.y)));
  const series: ChartSeries[] = [
    ...pct('model delta → Twilio media', COLOR.delta, (l) => l.deltaToMedia),
    ...pct('speech_started → clear', COLOR.clear, (l) => l.speechToClear),
    { name: 'bridge event-loop lag p99', color: COLOR.lag, shape: 'diamond', points: runs.map((l) => ({ x: l.calls, y: l.bridgeLagP99Ms })) },
  ];
  const noP95 = runs.every((l) => l.deltaToMedia.p95 === undefined);
  return {
    section: 'latency',
    file: 'latency.svg',
    alt: 'Added latency percentiles (ms) of model delta → Twilio media and speech_started → clear, and the bridge event-loop lag p99, against concurrent calls',
    svg: lineChart({
      title: 'Added latency against concurrent calls',
      subtitle: subtitle('latency', info, r),
      x: { title: 'load', unit: 'concurrent calls' },
      y: { title: 'latency', unit: 'ms' },
      series,
      refLines: [{ y: LATENCY_TARGET_MS, label: `target: p99 < ${LATENCY_TARGET_MS} ms` }],
      note:
        'Across the bridge on one clock, two loopback hops included. ' +
        (noP95 ? 'p95 was not recorded by this run (it predates the charts). ' : '') +
        (runs.length === 1 ? 'Measured at one call count only: npm run bench -- --only latency --latency-calls 100,300,500 draws lines.' : ''),
    }),
  };
}

function floodChart(r: Results): Chart | null {
  const info = r.flood;
  const floods = info?.result ?? [];
  if (!info || floods.length === 0) return null;
  const series: ChartSeries[] = [];
  for (const f of floods) {
    const dash = f.store === 'memory' ? 'solid' : 'dashed';
    const line = (what: string, color: string, shape: MarkerShape, before: number | undefined, during: number): ChartSeries => ({
      name: `${what}, ${f.store} store`,
      color,
      dash,
      shape,
      points: [...(before === undefined ? [] : [{ x: 0, y: before }]), { x: f.refusedPerS, y: during }],
    });
    series.push(line('appends to Realtime', COLOR.appends, 'circle', f.beforeAppendGapMs, f.maxAppendGapMs));
    series.push(line('media to Twilio', COLOR.media, 'square', f.beforeMediaGapMs, f.maxMediaGapMs));
  }
  const noBefore = floods.every((f) => f.beforeAppendGapMs === undefined);
  return {
    section: 'flood',
    file: 'flood.svg',
    alt: 'Worst gap between frames of a live call (ms) against refused upgrade attempts per second, calls alone and during the flood',
    svg: lineChart({
      title: 'Live-call frame gap against refusals per second',
      subtitle: subtitle(`flood, ${floods[0]?.liveCalls ?? 0} live calls`, info, r),
      x: { title: 'refused upgrade attempts', unit: 'per second' },
      y: { title: 'worst frame gap in a live call', unit: 'ms' },
      series,
      refLines: [
        { y: FRAME_INTERVAL_MS, label: `frame interval ${FRAME_INTERVAL_MS} ms` },
        { y: FLOOD_GAP_TARGET_MS, label: `target: ≤ ${FLOOD_GAP_TARGET_MS} ms` },
      ],
      note: noBefore
        ? 'During the flood only: this run did not record the calls-alone gaps (they are recorded since the charts were added; a point at 0/s).'
        : 'At 0/s: the same calls alone, just before the flood; at the right: during the flood.',
    }),
  };
}

/** The charts the results have figures for (none for a benchmark not run). */
export function charts(r: Results): Chart[] {
  return [cpuChart(r), latencyChart(r), floodChart(r)].filter((c): c is Chart => c !== null);
}

/** Markdown lines embedding the section's charts (GitHub renders `<img>` of an SVG). */
export function chartEmbeds(links: ChartLinks | undefined, section: ChartSection): string[] {
  if (links === undefined) return [];
  return links.charts
    .filter((c) => c.section === section)
    .flatMap((c) => [`<img src="${escapeXml(`${links.dir}/${c.file}`)}" alt="${escapeXml(c.alt)}" width="880">`, '']);
}
