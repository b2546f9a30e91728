/**
 * A small, pure SVG line/scatter chart writer for the benchmark report: no browser, no plotting
 * runtime. One function, data in, a self-contained SVG string out (white background, so it reads
 * on GitHub's dark theme too; fixed pixel size, so `<img src="x.svg">` shows it as drawn).
 *
 * Points that are not finite numbers are left out (never a NaN in the output); an empty chart
 * still has its axes, title and legend, with "no data" in the plot. Every piece of text is
 * escaped. Each series is one `<g class="series" data-series="…">` whose markers carry the
 * measured values (`data-x`, `data-y`), so a test (or a reader of the source) can check them.
 */

export interface ChartPoint {
  readonly x: number;
  readonly y: number;
  /** Drawn as an open marker (e.g. a step that missed the criteria); the chart's note says what it means. */
  readonly open?: boolean;
}

export interface ChartSeries {
  readonly name: string;
  readonly points: readonly ChartPoint[];
  /** CSS colour; default: the next of a colour-blind-safe palette. */
  readonly color?: string;
  readonly dash?: 'solid' | 'dashed' | 'dotted';
  /** Marker shape; default: the next of circle, square, triangle, diamond. */
  readonly shape?: MarkerShape;
}

export type MarkerShape = 'circle' | 'square' | 'triangle' | 'diamond';

export interface ChartAxis {
  readonly title: string;
  /** Shown in brackets after the title: "CPU per call (% of one core)". */
  readonly unit: string;
  /** Start the axis at zero (default) rather than at the smallest value. */
  readonly fromZero?: boolean;
}

export interface ChartSpec {
  readonly title: string;
  /** Second line under the title: the run's date and machine. */
  readonly subtitle: string;
  readonly x: ChartAxis;
  readonly y: ChartAxis;
  readonly series: readonly ChartSeries[];
  /** Horizontal reference lines (a limit, a frame interval), labelled at the right end. */
  readonly refLines?: readonly { readonly y: number; readonly label: string }[];
  /** One line of small print under the chart (what open markers mean, what is missing). */
  readonly note?: string;
}

/** Okabe–Ito: tells apart for the common colour-vision deficiencies. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000'];
const DASH = { solid: '', dashed: '7 4', dotted: '2 3' } as const;
/** Canvas and plot box, px: fits GitHub's ~900 px column unscaled; the legend takes the right side. */
const WIDTH = 880;
/** Height without the note; each line of the note adds NOTE_LINE_PX. */
const BASE_HEIGHT = 420;
const NOTE_LINE_PX = 15;
/** Characters per line of the note at 11 px across the canvas. */
const NOTE_CHARS = 125;
const PLOT = { left: 72, top: 64, right: 600, bottom: 364 } as const;
/** The data's first and last x sit this far inside the frame, px, so markers at the ends are not cut by it. */
const X_INSET = 12;
const LEGEND_X = 620;
/** Target tick count per axis (the nice step may give one or two more or fewer). */
const TICKS = 6;
/** Longest legend entry kept, characters (about the legend column's width at 12 px). */
const LEGEND_CHARS = 34;
/** Width of a character of 11 px text, px, for placing reference-line labels clear of the points (an estimate). */
const CHAR_PX = 6;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Text for an XML text node or attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? '');
}

/** Ticks at 1, 2 or 5 × 10^k covering [min, max]; the domain is widened to the outer ticks. */
export function niceTicks(min: number, max: number, count = TICKS): number[] {
  let lo = min;
  let hi = max;
  if (!(hi > lo)) {
    // One value (or none): a range around it, from zero when it is positive.
    const v = Number.isFinite(lo) ? lo : 0;
    lo = v > 0 ? 0 : v === 0 ? 0 : v * 1.5;
    hi = v > 0 ? v * 1.2 : v === 0 ? 1 : 0;
  }
  const raw = (hi - lo) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const first = Math.floor(lo / step + 1e-9) * step;
  const out: number[] = [];
  for (let v = first; v < hi + step - 1e-9 * step; v += step) out.push(Number(v.toPrecision(12)));
  return out.length >= 2 ? out : [first, first + step];
}

/** A tick label: as many decimals as the step needs, thousands separated. */
function tickLabel(v: number, step: number): string {
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

const px = (v: number): string => (Math.round(v * 10) / 10).toString();

/** Marker outlines around (0,0), px. */
const SHAPES: Readonly<Record<MarkerShape, string>> = {
  circle: 'M-4 0a4 4 0 1 0 8 0a4 4 0 1 0 -8 0Z',
  square: 'M-3.5 -3.5h7v7h-7Z',
  triangle: 'M0 -4.5L4.2 3L-4.2 3Z',
  diamond: 'M0 -5L5 0L0 5L-5 0Z',
};
const SHAPE_ORDER: readonly MarkerShape[] = ['circle', 'square', 'triangle', 'diamond'];

function marker(shape: MarkerShape, color: string, open: boolean, x: number, y: number, data: ChartPoint): string {
  const fill = open ? '#ffffff' : color;
  return `<path d="${SHAPES[shape]}" transform="translate(${px(x)},${px(y)})" fill="${fill}" stroke="${color}" stroke-width="1.5" data-x="${data.x}" data-y="${data.y}"/>`;
}

/** Words of `text` in lines of at most NOTE_CHARS characters. */
function wrap(text: string): string[] {
  const lines: string[] = [];
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + word.length <= NOTE_CHARS) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

function shorten(text: string): string {
  return text.length <= LEGEND_CHARS ? text : `${text.slice(0, LEGEND_CHARS - 1)}…`;
}

/** Where a reference line's label goes: the first of right/left end, above/below the line, that no point covers. */
function refLabelAt(label: string, y: number, points: readonly { x: number; y: number }[]): { x: number; y: number; anchor: 'start' | 'end' } {
  const w = label.length * CHAR_PX;
  const candidates = [
    { x: PLOT.right - 4, y: y - 5, anchor: 'end' as const, x0: PLOT.right - 4 - w },
    { x: PLOT.left + 4, y: y - 5, anchor: 'start' as const, x0: PLOT.left + 4 },
    { x: PLOT.right - 4, y: y + 14, anchor: 'end' as const, x0: PLOT.right - 4 - w },
    { x: PLOT.left + 4, y: y + 14, anchor: 'start' as const, x0: PLOT.left + 4 },
  ];
  // A marker is ~10 px across; the label's box runs from 10 px above its baseline to 3 below.
  const clear = (c: (typeof candidates)[number]): boolean => points.every((p) => p.x < c.x0 - 6 || p.x > c.x0 + w + 6 || p.y < c.y - 16 || p.y > c.y + 8);
  const { x0: _x0, ...at } = candidates.find(clear) ?? (candidates[0] as (typeof candidates)[number]);
  return at;
}

export function lineChart(spec: ChartSpec): string {
  const series = spec.series.map((s, i) => ({
    name: s.name,
    color: s.color ?? PALETTE[i % PALETTE.length] ?? '#000000',
    dash: DASH[s.dash ?? 'solid'],
    shape: s.shape ?? SHAPE_ORDER[i % SHAPE_ORDER.length] ?? 'circle',
    points: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x),
  }));
  const all = series.flatMap((s) => s.points);
  const refs = (spec.refLines ?? []).filter((r) => Number.isFinite(r.y));
  const range = (values: number[], fromZero: boolean, headroom: number): [number, number] => {
    if (values.length === 0) return [0, 1];
    const hi = Math.max(...values);
    const lo = fromZero ? Math.min(0, ...values) : Math.min(...values);
    return [lo, hi + (hi - lo) * headroom];
  };
  // A little headroom above, so the highest point does not sit on the frame; none to the right.
  const xTicks = niceTicks(...range(all.map((p) => p.x), spec.x.fromZero ?? true, 0));
  const yTicks = niceTicks(...range([...all.map((p) => p.y), ...refs.map((r) => r.y)], spec.y.fromZero ?? true, 0.05));
  const [x0, x1] = [xTicks[0] as number, xTicks.at(-1) as number];
  const [y0, y1] = [yTicks[0] as number, yTicks.at(-1) as number];
  const sx = (v: number): number => PLOT.left + X_INSET + ((v - x0) / (x1 - x0)) * (PLOT.right - PLOT.left - 2 * X_INSET);
  const sy = (v: number): number => PLOT.bottom - ((v - y0) / (y1 - y0)) * (PLOT.bottom - PLOT.top);
  const xStep = (xTicks[1] as number) - x0;
  const yStep = (yTicks[1] as number) - y0;

  const noteLines = wrap(spec.note ?? '');
  const height = BASE_HEIGHT + noteLines.length * NOTE_LINE_PX;
  const out: string[] = [];
  const label = `${spec.title}. ${spec.subtitle}`;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeXml(label)}" ${FONT}>`,
    `<title>${escapeXml(label)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text class="title" x="${PLOT.left}" y="26" font-size="17" font-weight="600" fill="#111111">${escapeXml(spec.title)}</text>`,
    `<text class="subtitle" x="${PLOT.left}" y="46" font-size="12" fill="#555555">${escapeXml(spec.subtitle)}</text>`,
  );
  // Grid, ticks and tick labels.
  out.push('<g class="axes" font-size="11" fill="#333333">');
  for (const t of xTicks) {
    const x = px(sx(t));
    out.push(`<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.bottom}" stroke="#e6e6e6"/>`);
    out.push(`<line x1="${x}" y1="${PLOT.bottom}" x2="${x}" y2="${PLOT.bottom + 5}" stroke="#333333"/>`);
    out.push(`<text class="tick" x="${x}" y="${PLOT.bottom + 19}" text-anchor="middle">${escapeXml(tickLabel(t, xStep))}</text>`);
  }
  for (const t of yTicks) {
    const y = px(sy(t));
    out.push(`<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="#e6e6e6"/>`);
    out.push(`<line x1="${PLOT.left - 5}" y1="${y}" x2="${PLOT.left}" y2="${y}" stroke="#333333"/>`);
    out.push(`<text class="tick" x="${PLOT.left - 8}" y="${px(sy(t) + 4)}" text-anchor="end">${escapeXml(tickLabel(t, yStep))}</text>`);
  }
  out.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#333333"/>`);
  const axisTitle = (a: ChartAxis): string => escapeXml(`${a.title} (${a.unit})`);
  const midX = (PLOT.left + PLOT.right) / 2;
  const midY = (PLOT.top + PLOT.bottom) / 2;
  out.push(`<text class="x-title" x="${midX}" y="${PLOT.bottom + 42}" text-anchor="middle" font-size="13" fill="#111111">${axisTitle(spec.x)}</text>`);
  out.push(`<text class="y-title" x="${-midY}" y="18" transform="rotate(-90)" text-anchor="middle" font-size="13" fill="#111111">${axisTitle(spec.y)}</text>`);
  out.push('</g>');

  const placed = all.map((p) => ({ x: sx(p.x), y: sy(p.y) }));
  for (const r of refs) {
    const y = sy(r.y);
    const at = refLabelAt(r.label, y, placed);
    out.push(`<g class="ref"><line x1="${PLOT.left}" y1="${px(y)}" x2="${PLOT.right}" y2="${px(y)}" stroke="#888888" stroke-dasharray="4 4"/>`);
    out.push(`<text x="${px(at.x)}" y="${px(at.y)}" text-anchor="${at.anchor}" font-size="11" fill="#666666">${escapeXml(r.label)}</text></g>`);
  }
  if (all.length === 0) out.push(`<text class="empty" x="${midX}" y="${midY}" text-anchor="middle" font-size="14" fill="#888888">no data</text>`);

  for (const s of series) {
    out.push(`<g class="series" data-series="${escapeXml(s.name)}">`);
    if (s.points.length > 1) {
      const pts = s.points.map((p) => `${px(sx(p.x))},${px(sy(p.y))}`).join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    }
    for (const p of s.points) out.push(marker(s.shape, s.color, p.open === true, sx(p.x), sy(p.y), p));
    out.push('</g>');
  }

  // Legend: one row per series, line sample + marker + name (the full name in a tooltip).
  out.push(`<g class="legend" font-size="12" fill="#111111">`);
  series.forEach((s, i) => {
    const y = PLOT.top + 8 + i * 22;
    out.push(`<g class="legend-item"><title>${escapeXml(s.name)}</title>`);
    out.push(`<line x1="${LEGEND_X}" y1="${y}" x2="${LEGEND_X + 28}" y2="${y}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(marker(s.shape, s.color, false, LEGEND_X + 14, y, { x: 0, y: 0 }).replace(/ data-x="[^"]*" data-y="[^"]*"/, ''));
    out.push(`<text x="${LEGEND_X + 36}" y="${y + 4}">${escapeXml(shorten(s.name))}</text></g>`);
  });
  out.push('</g>');
  noteLines.forEach((line, i) => out.push(`<text class="note" x="16" y="${BASE_HEIGHT + i * NOTE_LINE_PX}" font-size="11" fill="#555555">${escapeXml(line)}</text>`));
  out.push('</svg>');
  return out.join('\n') + '\n';
}
