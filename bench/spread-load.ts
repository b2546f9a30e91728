/**
 * The capacity benchmark's load spread over K generator processes (bench/load-worker.ts), each
 * pinned to its own CPU (1 … n−1) and running its share of the callers plus a Realtime stand-in
 * on one shared port (SO_REUSEPORT: the kernel spreads the server's upstream connections over
 * them). So 1,000+ calls can be generated on time where cores allow; on 2 cores the load stays
 * in one process (LocalLoad). Latency runs never use this: they need callers and stand-in on one
 * clock in one process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../tools/sim/spawn-bridge.js';
import { mergeSnapshots, type LoadDriver, type LoadDriverOptions, type LoadSnapshot } from './load-driver.js';
import { pin } from './harness.js';

const WORKER_ENTRY = fileURLToPath(new URL('./load-worker.js', import.meta.url));
/** A generator answers any request within this (placing a share of calls can take a while), ms. */
const REQUEST_TIMEOUT_MS = 120_000;

/** `n` split into `k` near-equal whole shares (the first ones one larger). */
export function shares(n: number, k: number): number[] {
  const base = Math.floor(n / k);
  return Array.from({ length: k }, (_, i) => base + (i < n % k ? 1 : 0));
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

class Generator {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  readonly exited: Promise<void>;
  readonly child: ChildProcess;

  constructor(child: ChildProcess) {
    this.child = child;
    child.on('message', (msg: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(`load generator ${child.pid ?? '?'}: ${msg.error ?? 'failed'}`));
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(`load generator ${child.pid ?? '?'} exited (${code ?? signal})`));
        }
        this.pending.clear();
        resolve();
      }),
    );
  }

  request<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load generator ${this.child.pid ?? '?'}: no answer to ${op} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, op, ...args });
    });
  }
}

export class SpreadLoad implements LoadDriver {
  readonly realtimeUrl: string;
  private readonly generators: Generator[];

  private constructor(generators: Generator[], realtimeUrl: string) {
    this.generators = generators;
    this.realtimeUrl = realtimeUrl;
  }

  get processes(): number {
    return this.generators.length;
  }

  /** Forks `processes` generators, the i-th pinned to cpus[i % cpus.length] (not pinned when cpus is empty). */
  static async start(opts: LoadDriverOptions & { processes: number; cpus: readonly number[] }): Promise<SpreadLoad> {
    const port = await freePort();
    const generators: Generator[] = [];
    try {
      for (let i = 0; i < opts.processes; i++) {
        const child = fork(WORKER_ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        const g = new Generator(child);
        generators.push(g);
        const cpu = opts.cpus[i % Math.max(1, opts.cpus.length)];
        if (cpu !== undefined && child.pid !== undefined) pin(child.pid, String(cpu));
      }
      await Promise.all(generators.map((g) => g.request('init', { port, gapMs: opts.gapMs })));
    } catch (err) {
      for (const g of generators) g.child.kill('SIGKILL');
      throw err;
    }
    return new SpreadLoad(generators, `ws://127.0.0.1:${port}/v1/realtime`);
  }

  async attach(baseUrl: string, authToken: string): Promise<void> {
    await Promise.all(this.generators.map((g) => g.request('attach', { baseUrl, authToken })));
  }

  async add(n: number, perSecond: number): Promise<void> {
    const k = this.generators.length;
    const each = shares(n, k);
    await Promise.all(this.generators.map((g, i) => ((each[i] ?? 0) > 0 ? g.request('add', { n: each[i], perSecond: perSecond / k }) : undefined)));
  }

  async resetWindow(): Promise<void> {
    await Promise.all(this.generators.map((g) => g.request('reset')));
  }

  async snapshot(): Promise<LoadSnapshot> {
    return mergeSnapshots(await Promise.all(this.generators.map((g) => g.request<LoadSnapshot>('snapshot'))));
  }

  async hangUpAll(): Promise<void> {
    await Promise.all(this.generators.map((g) => g.request('hangup')));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.generators.map((g) => g.request('close')));
    const killer = setTimeout(() => {
      for (const g of this.generators) g.child.kill('SIGKILL');
    }, 5000);
    await Promise.all(this.generators.map((g) => g.exited));
    clearTimeout(killer);
  }
}
