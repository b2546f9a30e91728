/**
 * Benchmark 4, flood: anonymous upgrade attempts (forged tokens, no signature) from many loopback
 * source addresses while live calls stream. Refusals per second, the bridge's CPU µs per refusal
 * (its CPU during the flood minus what the live calls were using just before, per refusal), and
 * the live calls' worst inter-frame gap during the flood. Memory store, then Redis.
 */
import { Redis } from 'ioredis';
import { runFloodInChild } from '../tools/sim/flood.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { COUNTER, counterDelta, cpuShare, placeProcesses, procCpuUs, sleep } from './harness.js';
import { startRig } from './rig.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

export interface FloodBenchResult {
  readonly store: 'memory' | 'redis';
  readonly liveCalls: number;
  readonly attempts: number;
  readonly byStatus: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly seconds: number;
  readonly refusedPerS: number;
  /** Bridge CPU during the flood, % of one core (calls included). */
  readonly cpuPct: number;
  /** Bridge CPU of the live calls alone, measured just before, % of one core. */
  readonly baselineCpuPct: number;
  readonly cpuUsPerRefusal: number;
  /** 1e6 / µs per refusal: what one core would refuse if it did nothing else. */
  readonly projectedPerCoreS: number;
  readonly lagP99Ms: number;
  readonly maxAppendGapMs: number;
  readonly maxMediaGapMs: number;
  /** The same worst gaps over the calls-alone window just before the flood, ms (absent in older results). */
  readonly beforeAppendGapMs?: number;
  readonly beforeMediaGapMs?: number;
  readonly drops: number;
  readonly failedCalls: number;
  /** False when every refusal was a 401 from the app's temporary token check (no guard installed yet). */
  readonly guardInstalled: boolean;
  readonly generatorLagP99Ms: number;
}

export interface FloodBenchOptions {
  readonly store: 'memory' | 'redis';
  readonly calls: number;
  readonly seconds: number;
  readonly ips: number;
  readonly concurrency: number;
  readonly log: (line: string) => void;
}

/** True when Redis answers PING within a second. */
export async function redisAvailable(url = REDIS_URL): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * Deletes the guard's keys for the flood's source addresses (127.1.x.y) under the default prefix
 * the bench bridge uses, so no ban outlives the run; other prefixes (tests) are left alone.
 */
async function cleanRedis(url = REDIS_URL): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', 'vb:guard:*127.1.*', 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

export async function runFloodBench(opts: FloodBenchOptions): Promise<FloodBenchResult> {
  const rig = await startRig({ bridge: { env: opts.store === 'redis' ? { REDIS_URL } : {} }, load: { gapMs: 7000 } });
  const { bridge, load, standIn } = rig;
  try {
    await load.add(opts.calls, 50);
    await sleep(3000);
    // The live calls' own CPU, to subtract, and their worst gaps without a flood, to compare.
    load.resetWindow();
    standIn.resetWindow();
    const b0 = await bridge.stats();
    const tb = performance.now();
    await sleep(5000);
    const b1 = await bridge.stats({ resetLag: true });
    const baseline = cpuShare(b0, b1, performance.now() - tb);
    const beforeAppendGapMs = standIn.maxAppendGapMs;
    const beforeMediaGapMs = load.maxMediaGapMs();
    load.resetWindow();
    standIn.resetWindow();
    const t0 = performance.now();
    // The flood runs niced in its own process on the load generator's core: it gets what the
    // calls leave, so the calls' pace (and so the gaps measured) is the bridge's doing, not ours.
    const flood = await runFloodInChild({
      target: new URL(bridge.baseUrl),
      ips: opts.ips,
      seconds: opts.seconds,
      concurrency: opts.concurrency,
      cpus: placeProcesses().loadCpus ?? undefined,
    });
    const wallMs = performance.now() - t0;
    const s1 = await bridge.stats();
    const refused = Object.entries(flood.byStatus)
      .filter(([s]) => Number(s) >= 400)
      .reduce((a, [, n]) => a + n, 0);
    const cpu = cpuShare(b1, s1, wallMs);
    const extraUs = (cpu - baseline) * wallMs * 1000;
    const usPerRefusal = refused > 0 ? extraUs / refused : 0;
    const result: FloodBenchResult = {
      store: opts.store,
      liveCalls: load.live,
      attempts: flood.attempts,
      byStatus: flood.byStatus,
      errors: flood.errors,
      seconds: wallMs / 1000,
      refusedPerS: refused / (wallMs / 1000),
      cpuPct: cpu * 100,
      baselineCpuPct: baseline * 100,
      cpuUsPerRefusal: usPerRefusal,
      projectedPerCoreS: usPerRefusal > 0 ? 1e6 / usPerRefusal : 0,
      lagP99Ms: s1.lag.p99,
      maxAppendGapMs: standIn.maxAppendGapMs,
      maxMediaGapMs: load.maxMediaGapMs(),
      beforeAppendGapMs,
      beforeMediaGapMs,
      drops: counterDelta(b0, s1, COUNTER.droppedUp) + counterDelta(b0, s1, COUNTER.droppedTwilio),
      failedCalls: load.failed + load.endedEarly,
      guardInstalled: Object.keys(flood.byStatus).some((s) => s !== '401'),
      generatorLagP99Ms: load.generatorHealth().lagP99Ms,
    };
    const statuses = Object.entries(flood.byStatus)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    opts.log(
      `  ${opts.store}: ${flood.attempts} attempts in ${result.seconds.toFixed(1)} s (${statuses}), ${Math.round(result.refusedPerS)} refused/s, ` +
        `cpu ${result.cpuPct.toFixed(0)} % (calls alone ${result.baselineCpuPct.toFixed(0)} %), ${usPerRefusal.toFixed(1)} µs/refusal; ` +
        `${result.liveCalls} live calls: worst gap ${result.maxAppendGapMs.toFixed(0)} ms between appends, ${result.maxMediaGapMs.toFixed(0)} ms between media; drops ${result.drops}`,
    );
    return result;
  } finally {
    await rig.close();
    if (opts.store === 'redis') await cleanRedis().catch(() => 0);
  }
}

export interface FloorResult {
  readonly attempts: number;
  readonly answeredPerS: number;
  readonly cpuUsPerRefusal: number;
  readonly cpuPct: number;
}

/**
 * The same flood against a bare node:http server answering a prebuilt 403 (bench/floor-server.ts),
 * pinned like the bridge: what refusing costs Node and the kernel on this machine before any of
 * the bridge's own work, and what the load generator can deliver.
 */
export async function runFloodFloor(opts: { readonly seconds: number; readonly ips: number; readonly concurrency: number }): Promise<FloorResult> {
  const where = placeProcesses();
  const entry = fileURLToPath(new URL('./floor-server.js', import.meta.url));
  const args = [process.execPath, entry];
  const command = where.bridgeCpus !== null ? ['taskset', '-c', where.bridgeCpus, ...args] : args;
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('exit', (code) => reject(new Error(`floor server exited ${code}`)));
    });
    await sleep(500);
    const before = procCpuUs(child.pid ?? 0);
    const flood = await runFloodInChild({ target: new URL(`http://127.0.0.1:${port}`), ...opts, cpus: where.loadCpus ?? undefined, niceness: 0 });
    const used = procCpuUs(child.pid ?? 0) - before;
    const answered = Object.values(flood.byStatus).reduce((a, b) => a + b, 0);
    return {
      attempts: flood.attempts,
      answeredPerS: flood.answeredPerSecond,
      cpuUsPerRefusal: answered > 0 ? used / answered : 0,
      cpuPct: used / 10 / flood.durationMs,
    };
  } finally {
    child.kill('SIGTERM');
  }
}
