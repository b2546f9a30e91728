import { describe, expect, it } from 'vitest';
import { component, summarizeProfile, type CpuProfile } from '../../bench/profile.js';
import { headlines, soakGrowthOk, soakHandlesOk, withMachineStamped, type Results, type RunInfo } from '../../bench/targets.js';
import { cpuRatios, type CapacityStep, type ServerRun } from '../../bench/capacity.js';
import { renderMarkdown } from '../../bench/report.js';
import type { SoakResult, SoakSnapshot } from '../../bench/soak.js';

const frame = (id: number, functionName: string, url = '') => ({ id, callFrame: { functionName, url, lineNumber: 9 } });

describe('CPU profile summary', () => {
  it('charges each sample interval to the sample before it, leaves idle out, and groups by component', () => {
    const profile: CpuProfile = {
      nodes: [
        frame(1, '(root)'),
        frame(2, '(idle)'),
        frame(3, 'parseTwilioFrame', 'file:///work/main/dist/dev/src/stream/twilio-protocol.js'),
        frame(4, 'startLoop', 'file:///work/main/node_modules/ws/lib/receiver.js'),
        frame(5, '(garbage collector)'),
      ],
      startTime: 0,
      endTime: 10_000,
      samples: [3, 3, 4, 2, 5, 3],
      timeDeltas: [0, 1000, 1000, 1000, 5000, 1000],
    };
    const s = summarizeProfile(profile);
    // 3: 1000 + 1000 (its last sample has no following interval); 4: 1000; 2 (idle): 5000, left out; 5: 1000.
    expect(s.busyMs).toBe(4);
    expect(s.topFunctions[0]).toEqual({ name: 'parseTwilioFrame src/stream/twilio-protocol.js:10', ms: 2, pct: 50 });
    expect(s.components.map((c) => c.name)).toEqual(['src/stream/twilio-protocol.ts', 'npm: ws', 'garbage collection']);
  });

  it('names components by where the code lives', () => {
    expect(component('file:///x/node_modules/@fastify/websocket/index.js', 'f')).toBe('npm: @fastify/websocket');
    expect(component('node:internal/stream_base_commons', 'onStreamRead')).toBe('node internals (streams, net, buffers)');
    expect(component('', 'writev')).toBe('native / builtins');
    expect(component('file:///w/dist/dev/src/guard/install.js', 'hook')).toBe('src/guard/install.ts');
  });
});

const snap = (over: Partial<SoakSnapshot>): SoakSnapshot => ({
  afterCalls: 0,
  heapMb: 20,
  rssMb: 100,
  handles: { TCPSocketWrap: 3 },
  sessions: 0,
  liveCalls: 0,
  upstreamOpen: 0,
  ...over,
});
const soak = (start: SoakSnapshot, end: SoakSnapshot): SoakResult => ({ calls: 10_000, lanes: 20, failed: 0, failures: [], seconds: 60, start, end, trend: [end] });

describe('targets', () => {
  it('soak: heap growth within max(1 MB, 5 %) is noise; a left-over handle or session is not', () => {
    expect(soakGrowthOk(soak(snap({}), snap({ heapMb: 20.9 })))).toBe(true);
    expect(soakGrowthOk(soak(snap({}), snap({ heapMb: 21.2 })))).toBe(false);
    expect(soakHandlesOk(soak(snap({}), snap({})))).toBe(true);
    expect(soakHandlesOk(soak(snap({}), snap({ handles: { TCPSocketWrap: 3, Timeout: 1 } })))).toBe(false);
    expect(soakHandlesOk(soak(snap({}), snap({ sessions: 1 })))).toBe(false);
  });

  it('headlines check each figure against its target and BENCHMARKS.md lists them', () => {
    const results: Results = {
      machine: { cpuModel: 'Test CPU', cores: 2, memoryGb: 4, node: 'v24.0.0', kernel: '6.1' },
      placement: 'bridge pinned to CPU 0',
      'message-rate': {
        startedAt: '2025-01-01T00:00:00.000Z',
        durationS: 30,
        command: 'npm run bench',
        quick: false,
        load1Before: 0.1,
        load1After: 1.2,
        result: {
          calls: 20,
          callSeconds: 500,
          callerAudioS: 499,
          answerAudioS: 240,
          toRealtimePerS: 10.1,
          appendsPerS: 10,
          toTwilioPerS: 10.6,
          mediaPerS: 10.05,
          marksPerS: 0.55,
          fromTwilioPerS: 50.2,
          fromRealtimeDeltasPerS: 50,
          standInAppends: 4990,
          callerMedia: 2412,
          callerMarks: 132,
          drops: 0,
        },
      },
    };
    const rows = headlines(results);
    expect(rows.map((r) => r.met)).toEqual([true, false]);
    const md = renderMarkdown(results);
    expect(md).toContain('| Test CPU | 2 | 4 GB | v24.0.0 | 6.1 |');
    // Older results (no run ids): each row says when and where it was measured.
    expect(md).toContain('| 1 message rate | to Twilio, per s of audio (media + marks) | 10.60 (10.05 + 0.55) | ≤ 10.5 | **no** | 2025-01-01 00:00 UTC, Test CPU × 2, Node v24.0.0 |');
    expect(md).toContain('## 2. Capacity on one core\n\n_Not run yet._');
  });
});

const info = (over: Partial<RunInfo>): RunInfo => ({ startedAt: '2026-11-23T18:02:27.285Z', durationS: 60, command: 'npm run bench', quick: false, load1Before: 0.2, load1After: 1.9, ...over });
const step = (calls: number, cpuPct: number, stop: string | null = null): CapacityStep => ({
  target: calls,
  calls,
  cpuPct,
  cpuPctPerCall: cpuPct / calls,
  rssMb: 150,
  rssKbPerCall: 200,
  heapKbPerCall: 17,
  lagP50Ms: 1,
  lagP99Ms: 12,
  lagMaxMs: 30,
  messagesPerS: calls * 100,
  drops: 0,
  failedCalls: 0,
  maxAppendGapMs: 120,
  generatorLagP99Ms: 2,
  stop,
});
const run = (server: ServerRun['server'], steps: CapacityStep[], limitedBy = 'the last step still met the criteria'): ServerRun => ({
  server,
  steps,
  idle: { rssMb: 60, heapMb: 8, cpuPct: 0.3 },
  maxCalls: steps.filter((s) => s.stop === null).at(-1)?.calls ?? 0,
  limitedBy,
});

describe('baselines', () => {
  it("the bridge's CPU per call over each baseline's at the same count; a count a baseline never reached is not a ratio", () => {
    const bridge = run('bridge', [step(300, 39), step(600, 72)]);
    const floor = run('floor', [step(300, 26), step(600, 52)]);
    const naive = run('naive', [step(300, 51, null), step(600, 98, 'event-loop lag p99 80 ms > 50 ms')], 'event-loop lag p99 80 ms > 50 ms');
    const [at300, at600] = cpuRatios(bridge, [floor, naive], [300, 600]);
    expect(at300?.vsFloor).toBeCloseTo(39 / 26, 6);
    expect(at300?.vsNaive).toBeCloseTo(39 / 51, 6);
    expect(at300?.note).toBe('');
    expect(at600?.vsFloor).toBeCloseTo(72 / 52, 6);
    expect(at600?.note).toBe('naive relay: event-loop lag p99 80 ms > 50 ms');
    const short = run('naive', [step(300, 51, 'event-loop lag p99 60 ms > 50 ms')], 'event-loop lag p99 60 ms > 50 ms');
    const [, missing] = cpuRatios(bridge, [floor, short], [300, 600]);
    expect(missing?.vsNaive).toBeNull();
    expect(missing?.naive).toBeNull();
    expect(missing?.note).toMatch(/naive relay: not measured \(stopped before: event-loop lag p99 60 ms/);
  });
});

describe('carried figures', () => {
  const capacityResult = {
    steps: [step(300, 39), step(600, 72)],
    idle: { rssMb: 100, heapMb: 19, cpuPct: 0.4 },
    maxCalls: 600,
    windowS: 10,
    limitedBy: 'the last step still met the criteria',
    generators: 15,
    baselines: [run('floor', [step(300, 26), step(600, 52)]), run('naive', [step(300, 51), step(600, 93)])],
    ratios: cpuRatios(run('bridge', [step(300, 39), step(600, 72)]), [run('floor', [step(300, 26), step(600, 52)]), run('naive', [step(300, 51), step(600, 93)])], [300, 600]),
  };
  const stored: Results = {
    machine: { cpuModel: 'AMD EPYC', cores: 2, memoryGb: 25, node: 'v24.21.0', kernel: '6.18' },
    placement: 'bridge pinned to CPU 0',
    soak: {
      ...info({ startedAt: '2026-11-23T18:05:42.003Z' }),
      result: { calls: 10_000, lanes: 20, failed: 0, failures: [], seconds: 60, start: { afterCalls: 0, heapMb: 20, rssMb: 100, handles: {}, sessions: 0, liveCalls: 0, upstreamOpen: 0 }, end: { afterCalls: 10_000, heapMb: 20.2, rssMb: 101, handles: {}, sessions: 0, liveCalls: 0, upstreamOpen: 0 }, trend: [] },
    },
  };

  it('rows from an earlier run or another machine are marked with that run\'s date and machine; this run\'s rows say so', () => {
    const results: Results = {
      ...withMachineStamped(stored),
      machine: { cpuModel: 'Intel Xeon', cores: 16, memoryGb: 64, node: 'v24.22.3', kernel: '6.8' },
      placement: 'bridge pinned to CPU 0',
      runId: 'run-2',
      capacity: { ...info({ startedAt: '2026-11-30T19:00:00.000Z', runId: 'run-2', machine: 'Intel Xeon × 16, Node v24.22.3' }), result: capacityResult },
    };
    const md = renderMarkdown(results);
    // The soak was measured on the 2-core machine a week earlier: carried, and says where.
    expect(md).toContain('| 5 soak | heap after GC, start → end of 10,000 calls | 20.00 → 20.20 MB | no growth beyond noise | yes | **carried: 2026-11-23 18:05 UTC, AMD EPYC × 2, Node v24.21.0** |');
    expect(md).toMatch(/## 5\. Soak\n\n\*\*Carried from an earlier run, not measured in the latest one\*\* \(2026-11-23 18:05 UTC, AMD EPYC × 2, Node v24\.21\.0\)/);
    // Capacity is this run's, with the ratios against both baselines.
    expect(md).toContain("| 2 capacity | CPU per call at 300 calls ÷ the floor relay's (same run) | 1.50× | ≤ 1.2× | **no** | this run |");
    expect(md).toContain("| 2 capacity | CPU per call at 600 calls ÷ the naive 20 ms relay's (same run) | 0.77× | — | — | this run |");
    expect(md).toContain('| 600 | **1.38×** | **0.77×** |  |');
    expect(md).toContain('15 processes, one per CPU after the bridge\'s');
    expect(md).not.toMatch(/## 2\. Capacity on one core\n\n\*\*Carried/);
    // Not measured anywhere: said so, not left blank.
    expect(md).toContain('## 3. Added latency\n\n_Not measured in this run._');
    // The top table is the latest run's machine.
    expect(md).toContain('| Intel Xeon | 16 | 64 GB | v24.22.3 | 6.8 |');
  });
});
