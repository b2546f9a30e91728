/**
 * The load generator: many simulated Twilio calls against one bridge, set up like Twilio does
 * (signed webhook → TwiML → stream), kept open until hung up, with the Realtime stand-in answering
 * on the other side. Also watches its own event loop, so a saturated generator is reported as
 * such and never mistaken for a slow bridge.
 */
import { Agent } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { callerAudio, SimCall, type CallerAudio } from '../tools/sim/caller.js';
import { answerCall, inboundCallParams, newCallSid } from '../tools/sim/twilio-webhook.js';
import { callerLoop } from '../tools/sim/simulation.js';
import type { PhaseTicker } from '../tools/sim/ticker.js';
import type { LatencyProbe } from '../tools/sim/latency.js';

export interface LoadOptions {
  readonly baseUrl: string;
  readonly authToken: string;
  readonly ticker: PhaseTicker;
  /** Silence after each caller utterance, ms (7000: answers play out; 2000: the caller interrupts). */
  readonly gapMs: number;
  readonly probe?: LatencyProbe;
  /** Call length, s; calls are normally hung up by the benchmark before. @default 3600 */
  readonly durationS?: number;
}

/** Set-ups in flight at once while ramping (webhook + upgrade + upstream connect). */
const SETUP_CONCURRENCY = 32;
/** Failure messages kept for the report. */
const KEEP_FAILURES = 10;

export class Load {
  readonly calls = new Set<SimCall>();
  failed = 0;
  readonly failures: string[] = [];
  /** Calls that ended before being hung up (closed by the bridge). */
  endedEarly = 0;
  private readonly opts: LoadOptions;
  private readonly audio: CallerAudio;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: SETUP_CONCURRENCY });
  private readonly lag: ReturnType<typeof monitorEventLoopDelay> = monitorEventLoopDelay({ resolution: 10 });
  private nextId = 0;

  constructor(opts: LoadOptions) {
    this.opts = opts;
    this.audio = callerAudio(callerLoop(opts.gapMs));
    this.lag.enable();
  }

  get live(): number {
    return this.calls.size;
  }

  /** Places `n` more calls at about `perSecond`, resolving when each has connected (or failed). */
  async add(n: number, perSecond: number): Promise<void> {
    const gapMs = 1000 / perSecond;
    const began = performance.now();
    let started = 0;
    const worker = async (): Promise<void> => {
      while (started < n) {
        const i = started++;
        const due = began + i * gapMs - performance.now();
        if (due > 0) await new Promise((r) => setTimeout(r, due));
        await this.placeOne();
      }
    };
    await Promise.all(Array.from({ length: Math.min(SETUP_CONCURRENCY, n) }, worker));
  }

  private async placeOne(): Promise<void> {
    const callId = this.nextId++;
    const callSid = newCallSid();
    try {
      const stream = await answerCall({ target: new URL(this.opts.baseUrl), authToken: this.opts.authToken, params: inboundCallParams(callSid), agent: this.agent, timeoutMs: 15_000 });
      const call = new SimCall({
        url: stream.wsUrl,
        callSid,
        customParameters: stream.parameters,
        audio: this.audio,
        durationMs: (this.opts.durationS ?? 3600) * 1000,
        ticker: this.opts.ticker,
        probe: this.opts.probe,
        callId,
        handshakeTimeoutMs: 15_000,
        onEnd: (c) => {
          this.calls.delete(c);
          if (c.outcome === 'closed_by_bridge') this.endedEarly += 1;
        },
      });
      this.calls.add(call);
      await call.connect();
      if (call.outcome === 'refused' || call.outcome === 'failed') this.fail(call.error ?? call.outcome);
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  private fail(message: string): void {
    this.failed += 1;
    if (this.failures.length < KEEP_FAILURES) this.failures.push(message);
  }

  /** Starts a new window for the worst-gap figures and the generator's own lag. */
  resetWindow(): void {
    for (const c of this.calls) c.resetWindow();
    this.opts.ticker.maxLateMs = 0;
    this.lag.reset();
  }

  /** Worst media gap (within an answer) over the live calls since resetWindow, ms. */
  maxMediaGapMs(): number {
    let max = 0;
    for (const c of this.calls) max = Math.max(max, c.stats.maxMediaGapMs);
    return max;
  }

  /** The generator's own health since resetWindow: event-loop lag and how late its frames went out, ms. */
  generatorHealth(): { lagP99Ms: number; maxLateMs: number } {
    // The histogram holds whole 10 ms sampling intervals: lag is the excess over them.
    return { lagP99Ms: Math.max(0, this.lag.percentile(99) / 1e6 - 10), maxLateMs: this.opts.ticker.maxLateMs };
  }

  /** Sums of the live calls' counters. */
  totals(): { framesSent: number; mediaReceived: number; bytesReceived: number; marksReceived: number; clears: number } {
    const t = { framesSent: 0, mediaReceived: 0, bytesReceived: 0, marksReceived: 0, clears: 0 };
    for (const c of this.calls) {
      t.framesSent += c.stats.framesSent;
      t.mediaReceived += c.stats.mediaReceived;
      t.bytesReceived += c.stats.bytesReceived;
      t.marksReceived += c.stats.marksReceived;
      t.clears += c.stats.clears;
    }
    return t;
  }

  /** Hangs every call up (stop + close) and waits for them to end (cut after `timeoutMs`). */
  async hangUpAll(timeoutMs = 15_000): Promise<void> {
    const calls = [...this.calls];
    for (const c of calls) c.hangUp();
    const timer = setTimeout(() => {
      for (const c of calls) c.terminate();
    }, timeoutMs);
    await Promise.all(calls.map((c) => c.ended));
    clearTimeout(timer);
  }

  close(): void {
    this.lag.disable();
    this.agent.destroy();
  }
}
