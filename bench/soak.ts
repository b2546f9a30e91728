/**
 * Benchmark 5, soak: many short calls one after another (in a few lanes, so 10,000 fit in about a
 * minute), each a full set-up and tear-down — signed webhook, upgrade, start, upstream opened,
 * 100 ms of audio, stop — then the bridge's heap (after a full GC), RSS and live handles compared
 * between the start and the end. Leaks show up as growth beyond noise.
 */
import { Agent } from 'node:http';
import { readFixture } from '../tools/fakes/audio.js';
import { PhaseTicker } from '../tools/sim/ticker.js';
import { startRealtimeStandIn } from '../tools/sim/realtime-stand-in.js';
import { callerAudio, SimCall } from '../tools/sim/caller.js';
import { answerCall, inboundCallParams, newCallSid } from '../tools/sim/twilio-webhook.js';
import { sleep, startBenchBridge } from './harness.js';
import type { BridgeStats } from './bench-bridge.js';

export interface SoakSnapshot {
  readonly afterCalls: number;
  readonly heapMb: number;
  readonly rssMb: number;
  /** V8 heap reserved (used + free pages), and memory outside it (Buffers, sockets' native state), MB. */
  readonly heapTotalMb?: number;
  readonly externalMb?: number;
  readonly handles: Record<string, number>;
  readonly sessions: number;
  readonly liveCalls: number;
  /** Upstream sockets still open at the stand-in. */
  readonly upstreamOpen: number;
}

export interface SoakResult {
  readonly calls: number;
  readonly lanes: number;
  readonly failed: number;
  readonly failures: string[];
  readonly seconds: number;
  readonly start: SoakSnapshot;
  readonly end: SoakSnapshot;
  /** Heap after GC every `calls / 5` calls, to tell a trend from noise. */
  readonly trend: SoakSnapshot[];
}

export interface SoakOptions {
  readonly calls: number;
  readonly lanes: number;
  readonly log: (line: string) => void;
}

/** Calls before the first snapshot: JIT, pools and lazily created structures settle. */
const WARMUP_CALLS = 200;
/** Stream token lifetime in the soak bridge, s (the smallest the config allows). */
export const TOKEN_TTL_S = 10;

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const ticker = new PhaseTicker();
  const standIn = await startRealtimeStandIn({ ticker });
  // The guard keeps a used-token mark for each token's life (single use, by design): a 10 s TTL
  // lets those expire during the run, so what remains at the end is growth, not retention.
  const bridge = await startBenchBridge({ realtimeUrl: standIn.url, env: { STREAM_TOKEN_TTL_SECONDS: String(TOKEN_TTL_S) } });
  const agent = new Agent({ keepAlive: true, maxSockets: opts.lanes });
  const audio = callerAudio(readFixture('caller-8k.ulaw'));
  const failures: string[] = [];
  let failed = 0;
  let done = 0;

  const oneCall = async (): Promise<void> => {
    const callSid = newCallSid();
    try {
      const stream = await answerCall({ target: new URL(bridge.baseUrl), authToken: bridge.authToken, params: inboundCallParams(callSid), agent });
      const call = new SimCall({ url: stream.wsUrl, callSid, customParameters: stream.parameters, audio, durationMs: 100, ticker });
      await call.connect();
      await call.ended;
      if (call.outcome !== 'completed') throw new Error(call.error ?? `${call.outcome} (${call.closeCode})`);
    } catch (err) {
      failed += 1;
      if (failures.length < 10) failures.push((err as Error).message);
    } finally {
      done += 1;
    }
  };
  const run = async (n: number): Promise<void> => {
    let started = 0;
    const lane = async (): Promise<void> => {
      while (started < n) {
        started += 1;
        await oneCall();
      }
    };
    await Promise.all(Array.from({ length: opts.lanes }, lane));
  };
  const snapshot = async (): Promise<SoakSnapshot> => {
    // Closing handshakes finish within ~1 s (SOCKET_CLOSE_GRACE_MS); wait them out, then collect.
    await sleep(1500);
    const mem = await bridge.gc();
    const s: BridgeStats = await bridge.stats();
    return {
      afterCalls: done,
      heapMb: mem.heapUsed / 1e6,
      rssMb: mem.rss / 1e6,
      heapTotalMb: mem.heapTotal / 1e6,
      externalMb: mem.external / 1e6,
      handles: s.handles,
      sessions: s.sessions,
      liveCalls: s.liveCalls,
      upstreamOpen: standIn.counts.open,
    };
  };

  try {
    await run(Math.min(WARMUP_CALLS, opts.calls));
    const start = await snapshot();
    opts.log(`  after ${start.afterCalls} warm-up calls: heap ${start.heapMb.toFixed(2)} MB, rss ${start.rssMb.toFixed(0)} MB, handles ${JSON.stringify(start.handles)}`);
    const began = performance.now();
    const trend: SoakSnapshot[] = [];
    const chunk = Math.max(1, Math.ceil(opts.calls / 5));
    for (let left = opts.calls; left > 0; left -= chunk) {
      await run(Math.min(chunk, left));
      const snap = await snapshot();
      trend.push(snap);
      opts.log(`  after ${snap.afterCalls} calls: heap ${snap.heapMb.toFixed(2)} MB, rss ${snap.rssMb.toFixed(0)} MB, sessions ${snap.sessions}, failed ${failed}`);
    }
    const seconds = (performance.now() - began) / 1000;
    const end = trend.at(-1) as SoakSnapshot;
    return { calls: opts.calls, lanes: opts.lanes, failed, failures, seconds, start, end, trend };
  } finally {
    agent.destroy();
    await bridge.stop();
    await standIn.close();
    ticker.stop();
  }
}
