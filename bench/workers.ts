/**
 * `node dist/dev/bench/workers.js [--calls N] [--window S]`: WORKERS=2 against WORKERS=1 under
 * the same load (N simulated calls, set up like Twilio's: signed webhook, then the stream).
 *
 * Reports, for each: how the calls spread over the workers (voice_bridge_worker_calls, the
 * primary's count of each worker's streams; the target is every worker within ±10 % of the mean),
 * the CPU per call of all the server's processes together (primary and workers, from
 * /proc/<pid>/stat over the window; the primary's share apart), and how often their event loops
 * went to sleep and were woken (voluntary context switches of each main thread): split over
 * more processes, each wake-up finds fewer messages to handle, which costs CPU of its own.
 *
 * Placement: with 4 or more CPUs the server (both runs) gets CPUs 0-1 and this process (callers
 * and the Realtime stand-in) the rest; with fewer, nothing is pinned and the figures share cores
 * with the load (say so when quoting them). Small on purpose: a check, not a capacity search.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { spawnBridge, SERVER_ENTRY } from '../tools/sim/spawn-bridge.js';
import { table } from '../tools/sim/format.js';
import { BENCH_ENV, procCpuUs, sleep } from './harness.js';
import { LocalLoad } from './load-driver.js';

const { values: args } = parseArgs({
  options: { calls: { type: 'string', default: '200' }, window: { type: 'string', default: '20' }, help: { type: 'boolean', default: false } },
});
if (args.help) {
  process.stdout.write('node dist/dev/bench/workers.js [--calls N (200)] [--window SECONDS (20)]: WORKERS=2 against WORKERS=1\n');
  process.exit(0);
}
const CALLS = Number(args.calls);
const WINDOW_S = Number(args.window);
/** Calls placed per second while ramping. */
const RAMP_PER_S = 25;
/** Caller silence after each utterance, ms (as the capacity benchmark: answers play out). */
const GAP_MS = 7000;

/** The processes whose parent is `pid` (the primary's workers). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // gone while we looked
    }
  }
  return out;
}

/** Times the process's main thread (its event loop) went to sleep and was woken, from /proc. */
function wakeups(pid: number): number {
  const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

/** `name{worker="n"} v` lines of the Prometheus text, by worker. */
function perWorker(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of text.matchAll(new RegExp(`^${name}\\{worker="(\\d+)"\\} (\\S+)$`, 'gm'))) out.set(Number(m[1]), Number(m[2]));
  return out;
}

interface Run {
  readonly workers: number;
  readonly live: number;
  readonly failed: number;
  readonly spread: readonly number[];
  /** Largest distance of a worker's calls from the mean, % of the mean. */
  readonly worstDeviationPct: number;
  readonly cpuPct: number;
  /** Of cpuPct, the primary's share (WORKERS > 1; the whole process with one). */
  readonly primaryCpuPct: number;
  readonly cpuPctPerCall: number;
  /** Event-loop wake-ups per second, all processes (a worker with fewer calls does less per wake-up). */
  readonly wakeupsPerS: number;
}

async function runOnce(load: LocalLoad, workers: number, bridgeCpus: string | undefined): Promise<Run> {
  const bridge = await spawnBridge({ realtimeUrl: load.realtimeUrl, env: { ...BENCH_ENV, WORKERS: String(workers) }, cpus: bridgeCpus });
  try {
    const scrape = async () => (await fetch(`${bridge.baseUrl}/metrics`)).text();
    if (workers > 1) {
      const deadline = Date.now() + 30_000;
      while (!/^voice_bridge_workers_scraped 2$/m.test(await scrape())) {
        if (Date.now() > deadline) throw new Error('the workers did not all answer within 30 s');
        await sleep(200);
      }
    }
    await load.attach(bridge.baseUrl, bridge.authToken);
    await load.add(CALLS, RAMP_PER_S);
    await sleep(3_000); // set-up traffic settles
    const pids = [bridge.pid, ...childrenOf(bridge.pid)];
    const before = pids.map(procCpuUs);
    const wokeBefore = pids.map(wakeups);
    const began = performance.now();
    await sleep(WINDOW_S * 1000);
    const used = pids.map((pid, i) => procCpuUs(pid) - before[i]!);
    const woke = pids.reduce((sum, pid, i) => sum + wakeups(pid) - wokeBefore[i]!, 0);
    const cpuUs = used.reduce((a, b) => a + b, 0);
    const wallMs = performance.now() - began;
    const snap = await load.snapshot();
    const text = await scrape();
    const byWorker = perWorker(text, 'voice_bridge_worker_calls');
    const spread = workers > 1 ? [...byWorker.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v) : [snap.live];
    const mean = spread.reduce((a, b) => a + b, 0) / spread.length;
    const worstDeviationPct = mean > 0 ? Math.max(...spread.map((v) => (Math.abs(v - mean) / mean) * 100)) : 0;
    const cpuPct = (cpuUs / 1000 / wallMs) * 100;
    const primaryCpuPct = (used[0]! / 1000 / wallMs) * 100;
    await load.hangUpAll();
    return { workers, live: snap.live, failed: snap.failed, spread, worstDeviationPct, cpuPct, primaryCpuPct, cpuPctPerCall: snap.live > 0 ? cpuPct / snap.live : 0, wakeupsPerS: woke / (wallMs / 1000) };
  } finally {
    await bridge.stop(10_000);
  }
}

const n = cpus().length;
let bridgeCpus: string | undefined;
let note = `${n} CPUs: nothing pinned, the server shares cores with the load`;
if (n >= 4) {
  bridgeCpus = '0-1';
  execFileSync('taskset', ['-a', '-p', '-c', `2-${n - 1}`, String(process.pid)], { stdio: 'ignore' });
  note = `server on CPUs 0-1, load on 2-${n - 1}`;
}
process.stdout.write(`workers bench: ${CALLS} calls, ${WINDOW_S} s window; ${note}; server ${SERVER_ENTRY}\n`);
const load = await LocalLoad.start({ gapMs: GAP_MS });
const runs: Run[] = [];
try {
  for (const workers of [1, 2]) runs.push(await runOnce(load, workers, bridgeCpus));
} finally {
  await load.close();
}
const one = runs[0]!;
process.stdout.write(
  table(
    ['WORKERS', 'live calls', 'failed', 'calls per worker', 'worst vs mean', 'CPU % (all processes)', 'of which primary', 'CPU % per call', 'vs 1 worker', 'wake-ups/s'],
    runs.map((r) => [
      String(r.workers),
      String(r.live),
      String(r.failed),
      r.spread.join(' / '),
      `±${r.worstDeviationPct.toFixed(1)} %`,
      r.cpuPct.toFixed(1),
      r.workers > 1 ? r.primaryCpuPct.toFixed(1) : '-',
      r.cpuPctPerCall.toFixed(3),
      one.cpuPctPerCall > 0 ? `${(r.cpuPctPerCall / one.cpuPctPerCall).toFixed(2)}×` : '-',
      r.wakeupsPerS.toFixed(0),
    ]),
  ).join('\n') + '\n',
);
const two = runs[1]!;
process.stdout.write(`spread within ±10 %: ${two.worstDeviationPct <= 10 ? 'yes' : 'NO'}\n`);
