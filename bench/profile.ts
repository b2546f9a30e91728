/**
 * Where the bridge's CPU time goes: reads a V8 `.cpuprofile` (node --cpu-prof) and sums self time
 * by function and by component (ws, fastify, our src/, node internals, GC). Pure apart from
 * reading the file.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileEntry {
  readonly name: string;
  /** Share of busy (non-idle) time, %. */
  readonly pct: number;
  readonly ms: number;
}

export interface ProfileSummary {
  /** Profiled wall time, ms. */
  readonly wallMs: number;
  /** Time not idle, ms. */
  readonly busyMs: number;
  readonly topFunctions: ProfileEntry[];
  readonly components: ProfileEntry[];
}

/** Which part of the program a frame belongs to, by its script URL. */
export function component(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'V8/native (program)';
  if (url === '') return 'native / builtins';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `npm: ${pkg[1]}`;
  if (url.startsWith('node:')) return 'node internals (streams, net, buffers)';
  const ours = /\/(src|bench|tools|test)\/(.*)$/.exec(url);
  if (ours) return `${ours[1]}/${(ours[2] ?? '').replace(/\.js$/, '.ts')}`;
  return url;
}

export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0 && deltas.length === samples.length) {
    // timeDeltas[i] is the time since the previous sample: charge it to the sample taken then.
    for (let i = 1; i < samples.length; i++) {
      const id = samples[i - 1] as number;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, deltas[i] as number));
    }
  } else {
    const total = profile.endTime - profile.startTime;
    const hits = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
    for (const n of profile.nodes) selfUs.set(n.id, ((n.hitCount ?? 0) * total) / hits);
  }
  const fns = new Map<string, number>();
  const comps = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const comp = component(url, functionName);
    const file = url ? url.replace(/^.*\/(node_modules\/|src\/|bench\/|tools\/)/, '$1').replace(/^file:\/\//, '') : '';
    const name = `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
    fns.set(name, (fns.get(name) ?? 0) + us);
    comps.set(comp, (comps.get(comp) ?? 0) + us);
  }
  const entries = (m: Map<string, number>): ProfileEntry[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, ms: us / 1000, pct: busy > 0 ? (100 * us) / busy : 0 }));
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busy / 1000,
    topFunctions: entries(fns).slice(0, top),
    components: entries(comps).slice(0, top),
  };
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}
