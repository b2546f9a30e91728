/**
 * What the benchmarks ran on: CPU model and count, memory, Node and kernel versions, and how busy
 * the machine was (other processes share the cores unless it is otherwise idle).
 */
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly node: string;
  readonly kernel: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGb: Math.round(totalmem() / 1e9),
    node: process.version,
    kernel: release(),
  };
}

/** 1-minute load average, rounded: above the bridge + load generator's ~2, other work shared the cores. */
export function load1(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

/** Busy share (0–1) of each CPU over `ms`, from /proc/stat (Linux); [] elsewhere. */
export async function cpuBusy(ms = 1000): Promise<number[]> {
  const { readFileSync } = await import('node:fs');
  const read = (): number[][] => {
    try {
      return readFileSync('/proc/stat', 'utf8')
        .split('\n')
        .filter((l) => /^cpu\d+ /.test(l))
        .map((l) => l.trim().split(/\s+/).slice(1).map(Number));
    } catch {
      return [];
    }
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  return b.map((after, i) => {
    const before = a[i] ?? after;
    const total = after.reduce((x, y) => x + y, 0) - before.reduce((x, y) => x + y, 0);
    // idle + iowait are fields 4 and 5.
    const idle = (after[3] ?? 0) + (after[4] ?? 0) - ((before[3] ?? 0) + (before[4] ?? 0));
    return total > 0 ? 1 - idle / total : 0;
  });
}

/**
 * Waits (up to `maxWaitMs`) until no CPU is more than `threshold` busy for `quietS` seconds in a
 * row: other work on a shared machine skews lag and latency figures. Returns the busiest CPU's
 * share when it stopped waiting.
 */
export async function waitForQuiet(maxWaitMs = 60_000, threshold = 0.15, quietS = 3): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let quiet = 0;
  let busiest = 0;
  while (Date.now() < deadline) {
    busiest = Math.max(0, ...(await cpuBusy(1000)));
    quiet = busiest <= threshold ? quiet + 1 : 0;
    if (quiet >= quietS) break;
  }
  return busiest;
}
