/**
 * The capacity benchmark's load, behind one interface whether it runs in this process (2 cores:
 * callers and the Realtime stand-in share the load core, as before) or is spread over several
 * generator processes (more cores: spread-load.ts). Every figure the benchmark reads is a
 * snapshot taken over IPC or locally, so capacity.ts treats both alike.
 */
import { PhaseTicker } from '../tools/sim/ticker.js';
import { startRealtimeStandIn, type RealtimeStandIn, type StandInOptions } from '../tools/sim/realtime-stand-in.js';
import { Load } from './load.js';

export interface LoadSnapshot {
  readonly live: number;
  readonly failed: number;
  readonly failures: readonly string[];
  /** Calls the server ended before they were hung up. */
  readonly endedEarly: number;
  /** Worst event-loop lag p99 over the generator processes since resetWindow, ms. */
  readonly generatorLagP99Ms: number;
  /** Latest any generator sent a frame since resetWindow, ms. */
  readonly generatorMaxLateMs: number;
  /** Worst gap between appends on any upstream connection since resetWindow, ms. */
  readonly maxAppendGapMs: number;
  /** Worst gap between media within an answer on any call since resetWindow, ms. */
  readonly maxMediaGapMs: number;
}

export interface LoadDriver {
  /** Generator processes (1: this one). */
  readonly processes: number;
  /** Where the server under test dials the Realtime API (the stand-in(s)). */
  readonly realtimeUrl: string;
  /** Points the callers at the server under test; call before add(). */
  attach(baseUrl: string, authToken: string): Promise<void>;
  /** Places `n` more calls at about `perSecond` in all, resolving when each connected or failed. */
  add(n: number, perSecond: number): Promise<void>;
  resetWindow(): Promise<void>;
  snapshot(): Promise<LoadSnapshot>;
  /** Hangs every call up and waits for them to end. */
  hangUpAll(): Promise<void>;
  /** Stops the stand-in(s) and the generator processes. */
  close(): Promise<void>;
}

export interface LoadDriverOptions {
  /** Silence after each caller utterance, ms. */
  readonly gapMs: number;
}

/** Sums (and worsts) of per-process snapshots. */
export function mergeSnapshots(parts: readonly LoadSnapshot[]): LoadSnapshot {
  const failures: string[] = [];
  for (const p of parts) failures.push(...p.failures);
  return {
    live: parts.reduce((a, p) => a + p.live, 0),
    failed: parts.reduce((a, p) => a + p.failed, 0),
    failures: failures.slice(0, 10),
    endedEarly: parts.reduce((a, p) => a + p.endedEarly, 0),
    generatorLagP99Ms: Math.max(0, ...parts.map((p) => p.generatorLagP99Ms)),
    generatorMaxLateMs: Math.max(0, ...parts.map((p) => p.generatorMaxLateMs)),
    maxAppendGapMs: Math.max(0, ...parts.map((p) => p.maxAppendGapMs)),
    maxMediaGapMs: Math.max(0, ...parts.map((p) => p.maxMediaGapMs)),
  };
}

/** Callers and stand-in together in one process (the load generator's own, or a generator process's). */
export class LocalLoad implements LoadDriver {
  readonly processes = 1;
  readonly ticker: PhaseTicker;
  readonly standIn: RealtimeStandIn;
  private readonly gapMs: number;
  private load: Load | null = null;

  private constructor(ticker: PhaseTicker, standIn: RealtimeStandIn, gapMs: number) {
    this.ticker = ticker;
    this.standIn = standIn;
    this.gapMs = gapMs;
  }

  static async start(opts: LoadDriverOptions & { port?: number; reusePort?: boolean; standIn?: Omit<StandInOptions, 'ticker' | 'port' | 'reusePort'> }): Promise<LocalLoad> {
    const ticker = new PhaseTicker();
    const standIn = await startRealtimeStandIn({ ...opts.standIn, ticker, port: opts.port, reusePort: opts.reusePort });
    return new LocalLoad(ticker, standIn, opts.gapMs);
  }

  get realtimeUrl(): string {
    return this.standIn.url;
  }

  attach(baseUrl: string, authToken: string): Promise<void> {
    this.load?.close();
    this.load = new Load({ baseUrl, authToken, ticker: this.ticker, gapMs: this.gapMs });
    return Promise.resolve();
  }

  private get attached(): Load {
    if (this.load === null) throw new Error('load: attach() before placing calls');
    return this.load;
  }

  add(n: number, perSecond: number): Promise<void> {
    return n > 0 ? this.attached.add(n, perSecond) : Promise.resolve();
  }

  resetWindow(): Promise<void> {
    this.load?.resetWindow();
    this.standIn.resetWindow();
    return Promise.resolve();
  }

  snapshot(): Promise<LoadSnapshot> {
    const load = this.load;
    const health = load?.generatorHealth() ?? { lagP99Ms: 0, maxLateMs: 0 };
    return Promise.resolve({
      live: load?.live ?? 0,
      failed: load?.failed ?? 0,
      failures: [...(load?.failures ?? [])],
      endedEarly: load?.endedEarly ?? 0,
      generatorLagP99Ms: health.lagP99Ms,
      generatorMaxLateMs: health.maxLateMs,
      maxAppendGapMs: this.standIn.maxAppendGapMs,
      maxMediaGapMs: load?.maxMediaGapMs() ?? 0,
    });
  }

  /** Sums of the live calls' counters (what the callers sent and received). */
  totals(): ReturnType<Load['totals']> {
    return this.load?.totals() ?? { framesSent: 0, mediaReceived: 0, bytesReceived: 0, marksReceived: 0, clears: 0 };
  }

  async hangUpAll(): Promise<void> {
    await this.load?.hangUpAll();
  }

  async close(): Promise<void> {
    await this.hangUpAll();
    this.load?.close();
    await this.standIn.close();
    this.ticker.stop();
  }
}
