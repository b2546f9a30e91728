/**
 * A simulation run: N calls against a bridge, each set up the way Twilio does it (signed webhook →
 * TwiML → WebSocket to `<Stream url>` with the `<Parameter>`s), streaming real speech at real-time
 * pace, at most C at once; optionally an anonymous upgrade flood while they stream. Returns
 * figures per call and in total. I/O shell only: the pieces live in caller.ts, flood.ts, …
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { readFixture, silence } from '../fakes/audio.js';
import { callerAudio, SimCall, type CallOutcome } from './caller.js';
import { PhaseTicker } from './ticker.js';
import { answerCall, inboundCallParams, newCallSid, WebhookError } from './twilio-webhook.js';
import { runFloodInChild, type FloodResult } from './flood.js';
import type { RealtimeStandIn, StandInCounts } from './realtime-stand-in.js';
import type { LatencyProbe } from './latency.js';

export interface SimulationOptions {
  /** Where the bridge is reached. */
  readonly target: URL;
  /** The bridge's PUBLIC_URL (what webhooks are signed for). @default target origin */
  readonly publicUrl?: string;
  readonly authToken?: string;
  readonly calls: number;
  /** Seconds of caller audio per call, then hang up. */
  readonly durationS: number;
  /** Calls live at once. @default calls */
  readonly concurrency?: number;
  /** Calls started per second while ramping up. @default 50 */
  readonly rampPerSecond?: number;
  /** Silence after each caller utterance, ms: 7000 lets the model finish its answer; less makes the caller interrupt. @default 7000 */
  readonly gapMs?: number;
  /** The local Realtime stand-in, when this run hosts it (its counts go in the report). */
  readonly standIn?: RealtimeStandIn;
  readonly probe?: LatencyProbe;
  readonly ticker?: PhaseTicker;
  /** Flood the stream route while the calls stream (starts when all calls are live). */
  readonly flood?: { readonly ips: number; readonly seconds: number; readonly concurrency?: number };
  /** Bearer token for GET /metrics (drop counters). */
  readonly metricsToken?: string;
  readonly onProgress?: (progress: Progress) => void;
  /** @default 1000 */
  readonly progressEveryMs?: number;
  readonly signal?: AbortSignal;
}

export interface Progress {
  readonly elapsedS: number;
  readonly started: number;
  readonly live: number;
  readonly done: number;
  readonly failed: number;
  readonly framesSent: number;
  readonly mediaReceived: number;
  readonly flooding: boolean;
}

export interface CallReport {
  readonly index: number;
  readonly callSid: string;
  readonly outcome: CallOutcome;
  readonly error: string | null;
  readonly closeCode: number | null;
  readonly durationS: number;
  readonly sentPerS: number;
  readonly receivedPerS: number;
  readonly framesSent: number;
  readonly bytesSent: number;
  readonly mediaReceived: number;
  readonly bytesReceived: number;
  readonly marksReceived: number;
  readonly marksEchoed: number;
  readonly clears: number;
  readonly protocolErrors: number;
  readonly webhookMs: number | null;
  readonly connectMs: number | null;
  readonly firstAudioMs: number | null;
  readonly maxMediaGapMs: number;
}

export interface SimulationReport {
  readonly calls: CallReport[];
  readonly totals: {
    readonly completed: number;
    readonly failed: number;
    readonly wallS: number;
    readonly messagesSent: number;
    readonly messagesReceived: number;
    readonly bytesSent: number;
    readonly bytesReceived: number;
    /** Per call, averaged over completed calls. */
    readonly sentPerCallPerS: number;
    readonly receivedPerCallPerS: number;
    readonly mediaPerCallPerS: number;
    readonly firstAudioMsP50: number | null;
    readonly maxMediaGapMs: number;
  };
  /** What the stand-in saw (when hosted here). */
  readonly standIn?: StandInCounts & { readonly appendsPerCallPerS: number; readonly maxAppendGapMs: number };
  /** The bridge's own drop counters from /metrics, when reachable. */
  readonly bridgeDrops: { readonly toUpstream: number; readonly toTwilio: number } | null;
  readonly flood?: FloodResult & { readonly maxAppendGapMs: number | null; readonly maxMediaGapMs: number };
}

export const DEFAULT_GAP_MS = 7000;

/** The caller's loop: the caller fixture, then `gapMs` of silence. */
export function callerLoop(gapMs = DEFAULT_GAP_MS): Buffer {
  return Buffer.concat([readFixture('caller-8k.ulaw'), silence(gapMs)]);
}

export async function runSimulation(opts: SimulationOptions): Promise<SimulationReport> {
  const ticker = opts.ticker ?? opts.standIn?.ticker ?? new PhaseTicker();
  const audio = callerAudio(callerLoop(opts.gapMs));
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? opts.calls, opts.calls));
  const rampGapMs = 1000 / (opts.rampPerSecond ?? 50);
  const agent = opts.target.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 16 }) : new HttpAgent({ keepAlive: true, maxSockets: 16 });
  const started = performance.now();
  const reports: CallReport[] = [];
  const live = new Set<SimCall>();
  let next = 0;
  let startedCount = 0;
  let failed = 0;
  let framesOfEnded = 0;
  let mediaOfEnded = 0;
  let flooding = false;
  let lastStart = 0;

  const progress = (): Progress => {
    let framesSent = framesOfEnded;
    let mediaReceived = mediaOfEnded;
    for (const c of live) {
      framesSent += c.stats.framesSent;
      mediaReceived += c.stats.mediaReceived;
    }
    return {
      elapsedS: (performance.now() - started) / 1000,
      started: startedCount,
      live: live.size,
      done: reports.length - failed,
      failed,
      framesSent,
      mediaReceived,
      flooding,
    };
  };
  const progressTimer = opts.onProgress ? setInterval(() => opts.onProgress?.(progress()), opts.progressEveryMs ?? 1000) : null;

  const runOne = async (index: number): Promise<void> => {
    // Ramp: starts spaced by rampGapMs across all workers.
    const wait = lastStart + rampGapMs - performance.now();
    lastStart = Math.max(performance.now(), lastStart + rampGapMs);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (opts.signal?.aborted) return;
    startedCount += 1;
    const callSid = newCallSid();
    const webhookBegan = performance.now();
    let call: SimCall | null = null;
    let webhookMs: number | null = null;
    try {
      const stream = await answerCall({
        target: opts.target,
        publicUrl: opts.publicUrl,
        authToken: opts.authToken,
        params: inboundCallParams(callSid),
        agent,
      });
      webhookMs = performance.now() - webhookBegan;
      call = new SimCall({
        url: stream.wsUrl,
        callSid,
        customParameters: stream.parameters,
        audio,
        durationMs: opts.durationS * 1000,
        ticker,
        probe: opts.probe,
        callId: index,
      });
      live.add(call);
      await call.connect();
      const onAbort = (): void => call?.hangUp();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      await call.ended;
      opts.signal?.removeEventListener('abort', onAbort);
    } catch (err) {
      const message = err instanceof WebhookError ? err.message : (err as Error).message;
      reports.push(failedReport(index, callSid, message, webhookMs));
      failed += 1;
      return;
    } finally {
      if (call) {
        live.delete(call);
        framesOfEnded += call.stats.framesSent;
        mediaOfEnded += call.stats.mediaReceived;
      }
    }
    const report = callReport(index, call, webhookMs);
    if (report.outcome !== 'completed') failed += 1;
    reports.push(report);
  };

  const worker = async (): Promise<void> => {
    while (next < opts.calls && opts.signal?.aborted !== true) await runOne(next++);
  };

  let floodPromise: Promise<SimulationReport['flood']> | undefined;
  const floodOpts = opts.flood;
  if (floodOpts) {
    floodPromise = (async () => {
      // Start flooding once the calls are streaming (all live, or after the ramp), so the gaps measured are mid-call.
      const rampMs = Math.min(opts.calls, concurrency) * rampGapMs + 1500;
      const until = performance.now() + rampMs + 10_000;
      await new Promise((r) => setTimeout(r, Math.min(rampMs, 500)));
      while (performance.now() < until && startedCount < Math.min(opts.calls, concurrency) && opts.signal?.aborted !== true) {
        await new Promise((r) => setTimeout(r, 100));
      }
      if (opts.calls > 0) await new Promise((r) => setTimeout(r, 1000));
      opts.standIn?.resetWindow();
      for (const c of live) c.resetWindow();
      flooding = true;
      // In a niced child process, so the flood does not delay this process's callers.
      const result = await runFloodInChild({ target: opts.target, ips: floodOpts.ips, seconds: floodOpts.seconds, concurrency: floodOpts.concurrency, signal: opts.signal });
      flooding = false;
      let maxMediaGapMs = 0;
      for (const c of live) maxMediaGapMs = Math.max(maxMediaGapMs, c.stats.maxMediaGapMs);
      return { ...result, maxAppendGapMs: opts.standIn ? opts.standIn.maxAppendGapMs : null, maxMediaGapMs };
    })();
  }

  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
    const flood = floodPromise ? await floodPromise : undefined;
    const wallS = (performance.now() - started) / 1000;
    const bridgeDrops = await scrapeDrops(opts.target, opts.metricsToken);
    return buildReport(reports, wallS, opts.standIn, bridgeDrops, flood);
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    for (const c of live) c.terminate();
    if (!opts.ticker && !opts.standIn) ticker.stop();
    agent.destroy();
  }
}

function failedReport(index: number, callSid: string, error: string, webhookMs: number | null): CallReport {
  return {
    index,
    callSid,
    outcome: 'failed',
    error,
    closeCode: null,
    durationS: 0,
    sentPerS: 0,
    receivedPerS: 0,
    framesSent: 0,
    bytesSent: 0,
    mediaReceived: 0,
    bytesReceived: 0,
    marksReceived: 0,
    marksEchoed: 0,
    clears: 0,
    protocolErrors: 0,
    webhookMs,
    connectMs: null,
    firstAudioMs: null,
    maxMediaGapMs: 0,
  };
}

function callReport(index: number, call: SimCall, webhookMs: number | null): CallReport {
  const s = call.stats;
  const durationS = call.startedAt !== null && call.endedAt !== null ? (call.endedAt - call.startedAt) / 1000 : 0;
  const per = (n: number): number => (durationS > 0 ? n / durationS : 0);
  return {
    index,
    callSid: call.callSid,
    outcome: call.outcome ?? 'failed',
    error: call.error ?? (call.outcome === 'closed_by_bridge' ? `the bridge closed the stream (${call.closeCode} ${call.closeReason})` : null),
    closeCode: call.closeCode,
    durationS,
    sentPerS: per(s.messagesSent),
    receivedPerS: per(s.messagesReceived),
    framesSent: s.framesSent,
    bytesSent: s.bytesSent,
    mediaReceived: s.mediaReceived,
    bytesReceived: s.bytesReceived,
    marksReceived: s.marksReceived,
    marksEchoed: s.marksEchoed,
    clears: s.clears,
    protocolErrors: s.protocolErrors,
    webhookMs,
    connectMs: s.connectMs,
    firstAudioMs: s.firstAudioMs,
    maxMediaGapMs: s.maxMediaGapMs,
  };
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

function buildReport(
  calls: CallReport[],
  wallS: number,
  standIn: RealtimeStandIn | undefined,
  bridgeDrops: SimulationReport['bridgeDrops'],
  flood: SimulationReport['flood'],
): SimulationReport {
  calls.sort((a, b) => a.index - b.index);
  const ok = calls.filter((c) => c.outcome === 'completed');
  const sum = (f: (c: CallReport) => number, list = calls): number => list.reduce((a, c) => a + f(c), 0);
  const mean = (f: (c: CallReport) => number): number => (ok.length === 0 ? 0 : sum(f, ok) / ok.length);
  const callSeconds = sum((c) => c.durationS, ok);
  const report: SimulationReport = {
    calls,
    totals: {
      completed: ok.length,
      failed: calls.length - ok.length,
      wallS,
      messagesSent: sum((c) => c.sentPerS * c.durationS),
      messagesReceived: sum((c) => c.receivedPerS * c.durationS),
      bytesSent: sum((c) => c.bytesSent),
      bytesReceived: sum((c) => c.bytesReceived),
      sentPerCallPerS: mean((c) => c.sentPerS),
      receivedPerCallPerS: mean((c) => c.receivedPerS),
      mediaPerCallPerS: mean((c) => (c.durationS > 0 ? c.mediaReceived / c.durationS : 0)),
      firstAudioMsP50: median(ok.flatMap((c) => (c.firstAudioMs === null ? [] : [c.firstAudioMs]))),
      maxMediaGapMs: Math.max(0, ...calls.map((c) => c.maxMediaGapMs)),
    },
    bridgeDrops,
    ...(flood ? { flood } : {}),
  };
  if (standIn) {
    const appends = standIn.counts.received['input_audio_buffer.append'] ?? 0;
    return {
      ...report,
      standIn: {
        ...standIn.counts,
        received: { ...standIn.counts.received },
        sent: { ...standIn.counts.sent },
        appendsPerCallPerS: callSeconds > 0 ? appends / callSeconds : 0,
        maxAppendGapMs: standIn.maxAppendGapMs,
      },
    };
  }
  return report;
}

/** Reads voice_bridge_dropped_frames_total from /metrics; null when /metrics is absent or refused. */
export async function scrapeDrops(target: URL, token?: string): Promise<SimulationReport['bridgeDrops']> {
  try {
    const res = await fetch(new URL('/metrics', target), {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(2000),
    });
    if (!res.ok) return null;
    const text = await res.text();
    const read = (direction: string): number | null => {
      const m = new RegExp(`^voice_bridge_dropped_frames_total\\{[^}]*direction="${direction}"[^}]*\\} (\\S+)`, 'm').exec(text);
      return m ? Number(m[1]) : null;
    };
    const toUpstream = read('to_upstream');
    const toTwilio = read('to_twilio');
    if (toUpstream === null && toTwilio === null && !text.includes('voice_bridge_dropped_frames_total')) return null;
    return { toUpstream: toUpstream ?? 0, toTwilio: toTwilio ?? 0 };
  } catch {
    return null;
  }
}
