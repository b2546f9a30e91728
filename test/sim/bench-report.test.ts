import { describe, expect, it } from 'vitest';
import { component, summarizeProfile, type CpuProfile } from '../../bench/profile.js';
import { headlines, soakGrowthOk, soakHandlesOk, type Results } from '../../bench/targets.js';
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
    expect(md).toContain('| 1 message rate | to Twilio, per s of audio (media + marks) | 10.60 (10.05 + 0.55) | ≤ 10.5 | **no** |');
    expect(md).toContain('## 2. Capacity on one core\n\n_Not run yet._');
  });
});
