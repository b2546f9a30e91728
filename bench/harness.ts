/**
 * The benchmark's bridge: a separate process (bench-bridge.ts) pinned to CPU 0 with taskset, the
 * load generator (this process: callers and the Realtime stand-in) pinned to CPU 1. CPU time is
 * the bridge's own accounting (process.cpuUsage() reported by it, cross-checked with
 * /proc/<pid>/stat), never the load generator's wall clock.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { spawnBridge, type SpawnedBridge } from '../tools/sim/spawn-bridge.js';
import type { BridgeStats } from './bench-bridge.js';

/** dist/dev/bench/, where the servers' compiled entries are (also when this module runs from source, under vitest). */
const DIST_BENCH = import.meta.url.includes('/dist/dev/bench/') ? new URL('./', import.meta.url) : new URL('../dist/dev/bench/', import.meta.url);

export const BENCH_BRIDGE_ENTRY = fileURLToPath(new URL('./bench-bridge.js', DIST_BENCH));

/**
 * The servers the capacity benchmark can put under load: the bridge, and two baselines that speak
 * just enough of both protocols to carry the same calls (bench/relay-floor.ts: the least a `ws`
 * relay can do; bench/relay-naive.ts: a frame-by-frame relay in the style of the public sample).
 */
export const SERVERS = ['bridge', 'floor', 'naive'] as const;
export type ServerKind = (typeof SERVERS)[number];

export const SERVER_ENTRY: Readonly<Record<ServerKind, string>> = {
  bridge: BENCH_BRIDGE_ENTRY,
  floor: fileURLToPath(new URL('./relay-floor.js', DIST_BENCH)),
  naive: fileURLToPath(new URL('./relay-naive.js', DIST_BENCH)),
};

/** Limits raised so the guard's per-IP caps never stand in for the bridge's capacity (every call comes from 127.0.0.1). */
export const BENCH_ENV: Readonly<Record<string, string>> = {
  MAX_CALLS: '100000',
  MAX_STREAMS_PER_IP: '100000',
  LOG_LEVEL: 'warn',
};

export interface Placement {
  /** CPU list for the bridge (taskset -c), or null when not pinned. */
  readonly bridgeCpus: string | null;
  /** CPU list this process was pinned to, or null. */
  readonly loadCpus: string | null;
  /** The CPUs load-generator processes may each be pinned to (1 … n−1), empty when not pinned. */
  readonly generatorCpus: readonly number[];
  readonly note: string;
}

let placement: Placement | null = null;

/**
 * Pins this process (the load generator, all threads) once: on 2 CPUs to the last one, on more to
 * CPUs 1 … n−1 (load-generator processes, see spread-load.ts, then take one each); the bridge
 * gets CPU 0.
 */
export function placeProcesses(): Placement {
  if (placement) return placement;
  const n = cpus().length;
  const hasTaskset = (() => {
    try {
      execFileSync('taskset', ['-V'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (!hasTaskset || n < 2) {
    placement = { bridgeCpus: null, loadCpus: null, generatorCpus: [], note: hasTaskset ? 'one CPU: bridge and load share it' : 'taskset not found (util-linux): processes not pinned' };
    return placement;
  }
  const loadCpus = n === 2 ? '1' : `1-${n - 1}`;
  execFileSync('taskset', ['-a', '-p', '-c', loadCpus, String(process.pid)], { stdio: 'ignore' });
  const generatorCpus = Array.from({ length: n - 1 }, (_, i) => i + 1);
  placement = { bridgeCpus: '0', loadCpus, generatorCpus, note: `bridge pinned to CPU 0, load generator and Realtime stand-in to CPU ${loadCpus} (taskset)` };
  return placement;
}

/** Pins process `pid` (all its threads) to `cpuList`; false when taskset is missing or refuses. */
export function pin(pid: number, cpuList: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface BenchBridge {
  readonly proc: SpawnedBridge;
  readonly baseUrl: string;
  readonly authToken: string;
  stats(opts?: { resetLag?: boolean }): Promise<BridgeStats>;
  /** Full GC in the bridge (it runs with --expose-gc); returns memory after. */
  gc(): Promise<NodeJS.MemoryUsage>;
  /** A V8 CPU profile of the next `seconds` (the bridge's inspector, same profiler as --cpu-prof). */
  profile(seconds: number): Promise<unknown>;
  /** Bridge CPU time (user + system) from /proc/<pid>/stat, µs. */
  procCpuUs(): number;
  stop(): Promise<void>;
}

export interface StartBenchBridgeOptions {
  readonly realtimeUrl: string;
  /** Which server to run. @default 'bridge' */
  readonly server?: ServerKind;
  readonly env?: Readonly<Record<string, string>>;
  /** Extra node flags (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /**
   * Pin the bridge to CPU 0. @default true. Profiling runs unpinned: V8's sampler is a thread of
   * the bridge, and on the same single core it only runs when the main thread yields, so its
   * samples would be biased towards idle.
   */
  readonly pin?: boolean;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system, all threads) of process `pid` from /proc/<pid>/stat, µs. */
export function procCpuUs(pid: number): number {
  // Fields after the ")" of comm: state is field 3, utime 14, stime 15 (1-based).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e6;
}

export async function startBenchBridge(opts: StartBenchBridgeOptions): Promise<BenchBridge> {
  // Pinning also pins this process (the load generator): not when the caller asked for no pinning (tests).
  const where = opts.pin === false ? null : placeProcesses();
  const entry = SERVER_ENTRY[opts.server ?? 'bridge'];
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run "npx tsc -p tsconfig.tools.json"`);
  const proc = await spawnBridge({
    entry,
    realtimeUrl: opts.realtimeUrl,
    env: { ...BENCH_ENV, ...abEnv(), ...opts.env },
    nodeArgs: ['--expose-gc', ...abNodeArgs(), ...(opts.nodeArgs ?? [])],
    cpus: where?.bridgeCpus ?? undefined,
  });
  const get = async <T>(path: string, method = 'GET'): Promise<T> => {
    const res = await fetch(`${proc.baseUrl}${path}`, { method, signal: AbortSignal.timeout(90_000) });
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    proc,
    baseUrl: proc.baseUrl,
    authToken: proc.authToken,
    stats: (o = {}) => get<BridgeStats>(`/__bench/stats${o.resetLag ? '?reset=1' : ''}`),
    gc: () => get<NodeJS.MemoryUsage>('/__bench/gc', 'POST'),
    profile: (seconds) => get<unknown>(`/__bench/profile?seconds=${seconds}`, 'POST'),
    procCpuUs: () => procCpuUs(proc.pid),
    async stop() {
      const { code, signal } = await proc.stop(5000);
      if (code !== 0) {
        const { stderr } = proc.output();
        if (stderr.trim()) process.stderr.write(`bench bridge exited ${code ?? signal}:\n${stderr.slice(-2000)}\n`);
      }
    },
  };
}

/** CPU used by the bridge between two stats snapshots, as a fraction of one core. */
export function cpuShare(before: BridgeStats, after: BridgeStats, wallMs: number): number {
  const us = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system);
  return us / 1000 / wallMs;
}

/** Difference of one counter between two snapshots (0 when absent). */
export function counterDelta(before: BridgeStats, after: BridgeStats, key: string): number {
  return (after.counters[key] ?? 0) - (before.counters[key] ?? 0);
}

export const COUNTER = {
  upstreamOut: 'voice_bridge_ws_messages_total{peer="upstream",direction="out"}',
  upstreamIn: 'voice_bridge_ws_messages_total{peer="upstream",direction="in"}',
  twilioOut: 'voice_bridge_ws_messages_total{peer="twilio",direction="out"}',
  twilioIn: 'voice_bridge_ws_messages_total{peer="twilio",direction="in"}',
  bytesUp: 'voice_bridge_audio_bytes_total{direction="to_upstream"}',
  bytesTwilio: 'voice_bridge_audio_bytes_total{direction="to_twilio"}',
  framesUp: 'voice_bridge_audio_frames_total{direction="to_upstream"}',
  framesTwilio: 'voice_bridge_audio_frames_total{direction="to_twilio"}',
  droppedUp: 'voice_bridge_dropped_frames_total{direction="to_upstream"}',
  droppedTwilio: 'voice_bridge_dropped_frames_total{direction="to_twilio"}',
} as const;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A/B runs of every server the bench starts (the bridge and the baselines alike): node flags from
 * BENCH_NODE_ARGS (space-separated, e.g. "--max-semi-space-size=64"), and ws's WS_NO_BUFFER_UTIL
 * (1: JavaScript masking instead of bufferutil) passed through from the bench's environment.
 */
function abNodeArgs(): string[] {
  return (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
}

function abEnv(): Record<string, string> {
  const flag = process.env.WS_NO_BUFFER_UTIL;
  return flag === undefined ? {} : { WS_NO_BUFFER_UTIL: flag };
}
