/**
 * The benchmark report's charts: the SVG writer (bench/svg-chart.ts) gives well-formed XML with
 * its title, axes, legend and one series group per line holding the measured values, placed in
 * order; text is escaped; empty and one-point series draw without NaN. The report's charts
 * (bench/plots.ts) carry each benchmark's figures and are embedded in BENCHMARKS.md.
 */
import { describe, expect, it } from 'vitest';
import { escapeXml, lineChart, niceTicks, type ChartSeries, type ChartSpec } from '../../bench/svg-chart.js';
import { charts, chartEmbeds } from '../../bench/plots.js';
import { renderMarkdown } from '../../bench/report.js';
import type { Results, RunInfo } from '../../bench/targets.js';
import type { CapacityStep } from '../../bench/capacity.js';
import type { LatencyResult, LatencySeries } from '../../bench/latency.js';
import type { FloodBenchResult } from '../../bench/flood.js';

interface XmlElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
  text: string;
}

/**
 * A strict little XML reader, enough for what the writer emits: elements, attributes in double
 * quotes, text, the five predefined entities and numeric references. Throws on anything else
 * (an unescaped `<` or `&`, an unclosed or mismatched tag, a second root).
 */
function parseXml(xml: string): XmlElement {
  const entity = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;
  const checkText = (text: string, where: string): string => {
    for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
      if (!entity.test(text.slice(i))) throw new Error(`bare & in ${where}: ${text.slice(i, i + 12)}`);
    }
    if (/[<]/.test(text)) throw new Error(`bare < in ${where}`);
    return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  };
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root: ${text.slice(0, 20)}`);
    const top = stack.at(-1);
    if (top) top.text += checkText(text, `<${top.name}>`);
    if (lt < 0) break;
    const gt = xml.indexOf('>', lt);
    if (gt < 0) throw new Error('unterminated tag');
    const tag = xml.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const open = stack.pop();
      if (open?.name !== tag.slice(1).trim()) throw new Error(`</${tag.slice(1)}> closes <${open?.name ?? 'nothing'}>`);
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const m = /^([A-Za-z][\w:-]*)((?:\s+[A-Za-z][\w:-]*="[^"]*")*)\s*\/?$/.exec(tag);
    if (!m) throw new Error(`malformed tag <${tag.slice(0, 40)}>`);
    const attrs: Record<string, string> = {};
    for (const a of (m[2] ?? '').matchAll(/([A-Za-z][\w:-]*)="([^"]*)"/g)) {
      const name = a[1] as string;
      if (name in attrs) throw new Error(`duplicate attribute ${name}`);
      attrs[name] = checkText(a[2] as string, `attribute ${name}`);
    }
    const el: XmlElement = { name: m[1] as string, attrs, children: [], text: '' };
    if (top) top.children.push(el);
    else if (root === null) root = el;
    else throw new Error('a second root element');
    if (!selfClosing) stack.push(el);
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)?.name ?? ''}> not closed`);
  if (root === null) throw new Error('no root element');
  return root;
}

function all(el: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  return [...(pred(el) ? [el] : []), ...el.children.flatMap((c) => all(c, pred))];
}
const byClass = (root: XmlElement, cls: string): XmlElement[] => all(root, (e) => e.attrs['class'] === cls);
const textOf = (el: XmlElement): string => el.text + el.children.map(textOf).join('');

/** Each series group: its name and its markers' measured values and pixel positions. */
function seriesOf(root: XmlElement): { name: string; points: { x: number; y: number; px: number; py: number; open: boolean }[]; lines: number }[] {
  return byClass(root, 'series').map((g) => ({
    name: g.attrs['data-series'] ?? '',
    lines: g.children.filter((c) => c.name === 'polyline').length,
    points: g.children
      .filter((c) => c.attrs['data-x'] !== undefined)
      .map((c) => {
        const [, px, py] = /translate\(([-\d.]+),([-\d.]+)\)/.exec(c.attrs['transform'] ?? '') ?? [];
        return { x: Number(c.attrs['data-x']), y: Number(c.attrs['data-y']), px: Number(px), py: Number(py), open: c.attrs['fill'] === '#ffffff' };
      }),
  }));
}

const spec = (series: ChartSeries[], over: Partial<ChartSpec> = {}): ChartSpec => ({
  title: 'CPU per call',
  subtitle: 'measured 2026-11-30 on Test CPU × 2',
  x: { title: 'load', unit: 'concurrent calls' },
  y: { title: 'CPU per call', unit: '% of one core' },
  series,
  ...over,
});

describe('SVG chart writer', () => {
  it('the XML reader used here refuses what is not well-formed', () => {
    expect(() => parseXml('<svg><g></svg>')).toThrow(/closes/);
    expect(() => parseXml('<svg><text>a < b</text></svg>')).toThrow();
    expect(() => parseXml('<svg><text>R&D</text></svg>')).toThrow(/bare &/);
    expect(() => parseXml('<svg a="1" a="2"/>')).toThrow(/duplicate/);
    expect(() => parseXml('<svg/><svg/>')).toThrow(/second root/);
    expect(parseXml('<svg><text x="1">a &amp; b</text></svg>').children[0]?.text).toBe('a & b');
  });

  it('draws title, subtitle, titled axes with units, ticks, a legend entry and a group per series', () => {
    const svg = lineChart(
      spec(
        [
          { name: 'bridge', points: [{ x: 300, y: 0.19 }, { x: 600, y: 0.13 }, { x: 1000, y: 0.1, open: true }] },
          { name: 'floor relay', points: [{ x: 300, y: 0.12 }, { x: 600, y: 0.11 }] },
        ],
        { refLines: [{ y: 0.15, label: 'a limit' }], note: 'Open markers: missed the criteria.' },
      ),
    );
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attrs['xmlns']).toBe('http://www.w3.org/2000/svg');
    expect(textOf(byClass(root, 'title')[0] as XmlElement)).toBe('CPU per call');
    expect(textOf(byClass(root, 'subtitle')[0] as XmlElement)).toBe('measured 2026-11-30 on Test CPU × 2');
    expect(textOf(byClass(root, 'x-title')[0] as XmlElement)).toBe('load (concurrent calls)');
    expect(textOf(byClass(root, 'y-title')[0] as XmlElement)).toBe('CPU per call (% of one core)');
    const ticks = byClass(root, 'tick').map(textOf);
    expect(ticks).toContain('1,000');
    expect(ticks).toContain('0.10');
    // Each legend entry: its name as a tooltip (<title>) and as the label.
    expect(byClass(root, 'legend-item').map((e) => textOf(e).replace(/\s+/g, ''))).toEqual(['bridgebridge', 'floorrelayfloorrelay']);
    expect(textOf(byClass(root, 'note')[0] as XmlElement)).toBe('Open markers: missed the criteria.');
    expect(textOf(byClass(root, 'ref')[0] as XmlElement).trim()).toBe('a limit');
    const series = seriesOf(root);
    expect(series.map((s) => s.name)).toEqual(['bridge', 'floor relay']);
    expect(series[0]?.points.map((p) => [p.x, p.y, p.open])).toEqual([
      [300, 0.19, false],
      [600, 0.13, false],
      [1000, 0.1, true],
    ]);
    expect(series.map((s) => s.lines)).toEqual([1, 1]);
  });

  it('places points in the order of the data: right for more x, up for more y, within the plot', () => {
    const points = [5, 1, 3, 2, 4].map((x) => ({ x: x * 100, y: x * x }));
    const root = parseXml(lineChart(spec([{ name: 'square', points }, { name: 'falling', points: points.map((p) => ({ x: p.x, y: 30 - p.y })) }])));
    const [rising, falling] = seriesOf(root);
    // Drawn sorted by x, whatever the order given.
    expect(rising?.points.map((p) => p.x)).toEqual([100, 200, 300, 400, 500]);
    for (const s of [rising, falling]) {
      const p = s?.points ?? [];
      for (let i = 1; i < p.length; i++) expect(p[i]?.px).toBeGreaterThan(p[i - 1]?.px ?? Infinity);
    }
    const r = rising?.points ?? [];
    const f = falling?.points ?? [];
    for (let i = 1; i < r.length; i++) {
      expect(r[i]?.py).toBeLessThan(r[i - 1]?.py ?? -Infinity);
      expect(f[i]?.py).toBeGreaterThan(f[i - 1]?.py ?? Infinity);
    }
    // Linear: x 100 apart, equal steps across; y proportional to the value.
    const dx = r.map((p, i) => (i === 0 ? 0 : p.px - (r[i - 1]?.px ?? 0))).slice(1);
    for (const d of dx) expect(Math.abs(d - (dx[0] ?? 0))).toBeLessThanOrEqual(0.2);
    const perUnit = ((r[0]?.py ?? 0) - (r[4]?.py ?? 0)) / 24;
    expect(Math.abs((r[0]?.py ?? 0) - (r[2]?.py ?? 0) - 8 * perUnit)).toBeLessThanOrEqual(0.2);
    const frame = all(root, (e) => e.name === 'rect' && e.attrs['fill'] === 'none')[0]?.attrs ?? {};
    const [left, top] = [Number(frame['x']), Number(frame['y'])];
    const [right, bottom] = [left + Number(frame['width']), top + Number(frame['height'])];
    for (const p of [...r, ...f]) {
      expect(p.px).toBeGreaterThanOrEqual(left);
      expect(p.px).toBeLessThanOrEqual(right);
      expect(p.py).toBeGreaterThanOrEqual(top);
      expect(p.py).toBeLessThanOrEqual(bottom);
    }
  });

  it('escapes every piece of text: a <script> label comes out as text', () => {
    const evil = '<script>alert("x")</script> & \'q\'';
    const svg = lineChart(
      spec([{ name: evil, points: [{ x: 1, y: 1 }] }], { title: evil, subtitle: evil, x: { title: evil, unit: '<u>' }, y: { title: 'y', unit: '&' }, refLines: [{ y: 1, label: evil }], note: evil }),
    );
    expect(svg).not.toMatch(/<script/i);
    expect(svg).not.toMatch(/<u>/);
    expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;q&apos;');
    const root = parseXml(svg);
    expect(textOf(byClass(root, 'title')[0] as XmlElement)).toBe(evil);
    expect(seriesOf(root)[0]?.name).toBe(evil);
    expect(all(root, (e) => e.name === 'script')).toEqual([]);
    expect(escapeXml(`a&b<c>d"e'f`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f');
  });

  it('draws empty, one-point and non-finite series without NaN, and says "no data" when there is none', () => {
    const cases: ChartSeries[][] = [
      [],
      [{ name: 'empty', points: [] }],
      [{ name: 'one', points: [{ x: 500, y: 37.5 }] }],
      [{ name: 'zero', points: [{ x: 0, y: 0 }] }],
      [{ name: 'negative', points: [{ x: -3, y: -2 }] }],
      [{ name: 'flat', points: [{ x: 1, y: 4 }, { x: 2, y: 4 }] }],
      [{ name: 'holes', points: [{ x: 1, y: Number.NaN }, { x: Number.POSITIVE_INFINITY, y: 1 }, { x: 2, y: 3 }] }],
    ];
    for (const series of cases) {
      const svg = lineChart(spec(series));
      expect(svg).not.toMatch(/NaN|Infinity|undefined/);
      const root = parseXml(svg);
      expect(byClass(root, 'tick').length).toBeGreaterThanOrEqual(4);
      const drawn = seriesOf(root).flatMap((s) => s.points);
      expect(byClass(root, 'empty').length).toBe(drawn.length === 0 ? 1 : 0);
      expect(byClass(root, 'legend-item').length).toBe(series.length);
      // One point: a marker, no line.
      if (drawn.length === 1) expect(seriesOf(root)[0]?.lines).toBe(0);
    }
    expect(seriesOf(parseXml(lineChart(spec(cases[6] as ChartSeries[]))))[0]?.points.map((p) => [p.x, p.y])).toEqual([[2, 3]]);
  });

  it('ticks are 1, 2 or 5 × 10^k and cover the range', () => {
    expect(niceTicks(0, 1000)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(niceTicks(0, 0.31)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(niceTicks(0, 0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(500, 500)[0]).toBe(0);
    expect(niceTicks(500, 500).at(-1)).toBeGreaterThanOrEqual(500);
    const t = niceTicks(-7, 13);
    expect(t[0]).toBeLessThanOrEqual(-7);
    expect(t.at(-1)).toBeGreaterThanOrEqual(13);
  });
});

const info = (startedAt: string): RunInfo => ({ startedAt, durationS: 60, command: 'npm run bench', quick: false, load1Before: 0.1, load1After: 1, runId: 'r1', machine: 'Test CPU × 16, Node v24.0.0' });
const step = (calls: number, cpuPctPerCall: number, stop: string | null = null): CapacityStep => ({
  target: calls,
  calls,
  cpuPct: cpuPctPerCall * calls,
  cpuPctPerCall,
  rssMb: 200,
  rssKbPerCall: 200,
  heapKbPerCall: 20,
  lagP50Ms: 0.1,
  lagP99Ms: stop === null ? 10 : 80,
  lagMaxMs: 20,
  messagesPerS: 1000,
  drops: 0,
  failedCalls: 0,
  maxAppendGapMs: 110,
  generatorLagP99Ms: 1,
  stop,
});
const lat = (p50: number, p95: number | undefined, p99: number): LatencySeries => ({ count: 1000, p50, ...(p95 === undefined ? {} : { p95 }), p99, max: p99 * 2 });
const latency = (calls: number, k: number, withP95 = true): LatencyResult => ({
  calls,
  windowS: 10,
  callerToAppend: lat(2 * k, withP95 ? 10 * k : undefined, 20 * k),
  deltaToMedia: lat(1 * k, withP95 ? 5 * k : undefined, 9 * k),
  speechToClear: lat(1.5 * k, withP95 ? 6 * k : undefined, 8 * k),
  bridgeCpuPct: 50,
  bridgeLagP99Ms: 7 * k,
  generatorLagP99Ms: 2,
  drops: 0,
  failedCalls: 0,
});
const flood = (store: 'memory' | 'redis', refusedPerS: number, gaps: [number, number, number?, number?]): FloodBenchResult => ({
  store,
  liveCalls: 100,
  attempts: refusedPerS * 10,
  byStatus: { '403': refusedPerS * 10 },
  errors: {},
  seconds: 10,
  refusedPerS,
  cpuPct: 90,
  baselineCpuPct: 17,
  cpuUsPerRefusal: 70,
  projectedPerCoreS: 14_000,
  lagP99Ms: 7,
  maxAppendGapMs: gaps[0],
  maxMediaGapMs: gaps[1],
  ...(gaps[2] === undefined ? {} : { beforeAppendGapMs: gaps[2], beforeMediaGapMs: gaps[3] }),
  drops: 0,
  failedCalls: 0,
  guardInstalled: true,
  generatorLagP99Ms: 3,
});

function results(): Results {
  return {
    machine: { cpuModel: 'Test CPU', cores: 16, memoryGb: 64, node: 'v24.0.0', kernel: '6.1' },
    placement: 'bridge pinned to CPU 0',
    runId: 'r1',
    capacity: {
      ...info('2026-11-30T18:20:27.707Z'),
      result: {
        steps: [step(300, 0.2), step(600, 0.14), step(1000, 0.1, 'event-loop lag p99 1757 ms > 50 ms')],
        idle: { rssMb: 100, heapMb: 20, cpuPct: 0.5 },
        maxCalls: 600,
        windowS: 10,
        limitedBy: 'lag',
        generators: 15,
        baselines: [
          { server: 'floor', steps: [step(300, 0.13), step(600, 0.11)], idle: { rssMb: 60, heapMb: 5, cpuPct: 0 }, maxCalls: 600, limitedBy: 'x' },
          { server: 'naive', steps: [step(300, 0.24), step(600, 0.15, 'lag')], idle: { rssMb: 60, heapMb: 5, cpuPct: 0 }, maxCalls: 300, limitedBy: 'y' },
        ],
        ratios: [],
      },
    },
    latency: { ...info('2026-11-30T18:22:00.000Z'), result: [latency(500, 3), latency(100, 1)] },
    flood: { ...info('2026-11-30T18:25:00.000Z'), result: [flood('memory', 10_500, [139, 158, 104, 110]), flood('redis', 9_000, [150, 170, 105, 112])], skipped: [] },
  };
}

describe('the report charts', () => {
  it('CPU per call: one series per server with its measured steps, missed steps open, the run in the subtitle', () => {
    const cpu = charts(results()).find((c) => c.file === 'cpu-per-call.svg');
    const root = parseXml(cpu?.svg ?? '');
    expect(seriesOf(root).map((s) => [s.name, s.points.map((p) => [p.x, p.y, p.open])])).toEqual([
      ['bridge', [[300, 0.2, false], [600, 0.14, false], [1000, 0.1, true]]],
      ['floor relay (bare ws)', [[300, 0.13, false], [600, 0.11, false]]],
      ['naive relay (20 ms, JSON)', [[300, 0.24, false], [600, 0.15, true]]],
    ]);
    expect(textOf(byClass(root, 'subtitle')[0] as XmlElement)).toBe('capacity · measured 2026-11-30 18:20 UTC on Test CPU × 16, Node v24.0.0');
    expect(textOf(byClass(root, 'note')[0] as XmlElement)).toMatch(/^Open markers/);
  });

  it('latency: p50/p95/p99 of delta → media and speech_started → clear and the lag p99, one point per call count', () => {
    const root = parseXml(charts(results()).find((c) => c.file === 'latency.svg')?.svg ?? '');
    const series = seriesOf(root);
    expect(series.map((s) => s.name)).toEqual([
      'model delta → Twilio media p50',
      'model delta → Twilio media p95',
      'model delta → Twilio media p99',
      'speech_started → clear p50',
      'speech_started → clear p95',
      'speech_started → clear p99',
      'bridge event-loop lag p99',
    ]);
    expect(series.find((s) => s.name === 'model delta → Twilio media p95')?.points.map((p) => [p.x, p.y])).toEqual([[100, 5], [500, 15]]);
    expect(series.find((s) => s.name === 'bridge event-loop lag p99')?.points.map((p) => [p.x, p.y])).toEqual([[100, 7], [500, 21]]);
    // Results from before p95 was recorded: no p95 lines, and the note says so.
    const old = results();
    old.latency = { ...info('2026-11-23T18:04:43.137Z'), result: [latency(500, 3, false)] };
    const oldRoot = parseXml(charts(old).find((c) => c.file === 'latency.svg')?.svg ?? '');
    expect(seriesOf(oldRoot).map((s) => s.name).filter((n) => n.includes('p95'))).toEqual([]);
    expect(textOf(byClass(oldRoot, 'note')[0] as XmlElement)).toMatch(/p95 was not recorded/);
  });

  it('flood: per store, the worst append and media gaps with the calls alone at 0/s and during the flood at its rate', () => {
    const root = parseXml(charts(results()).find((c) => c.file === 'flood.svg')?.svg ?? '');
    expect(seriesOf(root).map((s) => [s.name, s.points.map((p) => [p.x, p.y])])).toEqual([
      ['appends to Realtime, memory store', [[0, 104], [10_500, 139]]],
      ['media to Twilio, memory store', [[0, 110], [10_500, 158]]],
      ['appends to Realtime, redis store', [[0, 105], [9_000, 150]]],
      ['media to Twilio, redis store', [[0, 112], [9_000, 170]]],
    ]);
  });

  it('charts only what was measured, and the report embeds them in their sections', () => {
    const r = results();
    delete r.flood;
    const list = charts(r);
    expect(list.map((c) => c.file)).toEqual(['cpu-per-call.svg', 'latency.svg']);
    expect(charts({ machine: r.machine, placement: '' })).toEqual([]);
    const md = renderMarkdown(r, { dir: 'bench/plots', charts: list });
    const capacityAt = md.indexOf('## 2. Capacity');
    const latencyAt = md.indexOf('## 3. Added latency');
    const cpuImg = md.indexOf('<img src="bench/plots/cpu-per-call.svg"');
    const latImg = md.indexOf('<img src="bench/plots/latency.svg"');
    expect(cpuImg).toBeGreaterThan(capacityAt);
    expect(cpuImg).toBeLessThan(latencyAt);
    expect(latImg).toBeGreaterThan(latencyAt);
    expect(latImg).toBeLessThan(md.indexOf('## 4. Flood'));
    expect(md).not.toContain('flood.svg');
    // Without charts (a caller that writes none), no image links.
    expect(renderMarkdown(r)).not.toContain('<img');
    expect(chartEmbeds({ dir: 'a"b', charts: list }, 'latency')[0]).toContain('src="a&quot;b/latency.svg"');
  });
});
