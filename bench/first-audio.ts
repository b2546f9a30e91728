/**
 * First-audio latency with and without pre-warming the upstream at the webhook.
 *
 * Per call: the signed webhook is POSTed over HTTP, Twilio's gap before the media stream is
 * modelled (`twimlToStartMs`), then a fake Twilio stream connects and sends `start`. The fake
 * Realtime server adds `handshakeDelayMs` to every upgrade (TLS + WebSocket to OpenAI) and
 * answers the greeting's `response.create` at once with 200 ms of audio, so what is measured is
 * the bridge's own path: from `start` sent to the first `media` frame received by the fake
 * Twilio (both on one monotonic clock, in one process).
 *
 * Without pre-warm, TWILIO_AUTH_TOKEN is unset (pre-warming is off for unsigned webhooks), so the
 * upstream opens when `start` arrives; everything else is identical.
 */
import { pathToFileURL } from 'node:url';
import twilio from 'twilio';
import { randomBytes } from 'node:crypto';
import { connectFakeTwilio } from '../tools/fakes/fake-twilio.js';
import { readFixture } from '../tools/fakes/audio.js';
import { startFakeRealtime, type FakeRealtime } from '../tools/fakes/fake-realtime.js';
import { startLocalBridge, type LocalBridge } from '../tools/sim/local-bridge.js';
import { streamUrl } from '../src/twilio/stream-path.js';

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
}

export interface FirstAudioResult {
  readonly withoutPrewarmMs: Percentiles;
  readonly withPrewarmMs: Percentiles;
  /** Measured calls per mode (after warm-up). */
  readonly calls: number;
}

export interface FirstAudioOptions {
  /** Measured calls per mode. @default 30 */
  readonly calls?: number;
  /** Unmeasured calls first, per mode (JIT, connection pools). @default 3 */
  readonly warmup?: number;
  /** Added by the fake Realtime server to every upgrade, ms. @default 300 */
  readonly handshakeDelayMs?: number;
  /** Modelled time from the TwiML answer to Twilio's stream connecting, ms. @default 200 */
  readonly twimlToStartMs?: number;
}

/** The Twilio auth token the webhooks are signed with (the bridge checks it only with pre-warm). */
const AUTH_TOKEN = 'first-audio-bench-twilio-auth-token';
/** The bridge's log lines are not read: discarded. */
const NO_LOG = { write: (): void => undefined };
/** 200 ms of the agent fixture: the start of the greeting. */
const greetingAudio = readFixture('agent-8k.ulaw').subarray(0, 1600);

export async function runFirstAudioBench(opts: FirstAudioOptions = {}): Promise<FirstAudioResult> {
  const calls = opts.calls ?? 30;
  const without = await runMode(false, opts);
  const withPrewarm = await runMode(true, opts);
  return { withoutPrewarmMs: percentiles(without), withPrewarmMs: percentiles(withPrewarm), calls };
}

async function runMode(prewarm: boolean, opts: FirstAudioOptions): Promise<number[]> {
  const realtime = await startFakeRealtime({
    handshakeDelayMs: opts.handshakeDelayMs ?? 300,
    // The model answers the greeting at once: only connection set-up differs between modes.
    onEvent: async (event, connection) => {
      if (event.type === 'response.create') await connection.sendAudio(greetingAudio, { chunkBytes: 800, intervalMs: 0 });
    },
  });
  const samples: number[] = [];
  try {
    const bridge = await startLocalBridge({
      realtimeUrl: realtime.url,
      // An empty TWILIO_AUTH_TOKEN is unset: unsigned webhooks, so no pre-warm.
      env: { GREETING: 'Hello, thanks for calling.', LOG_LEVEL: 'warn', TWILIO_AUTH_TOKEN: prewarm ? AUTH_TOKEN : '' },
      logStream: NO_LOG,
    });
    try {
      const warmup = opts.warmup ?? 3;
      const total = warmup + (opts.calls ?? 30);
      for (let i = 0; i < total; i++) {
        const ms = await oneCall(bridge, realtime, opts.twimlToStartMs ?? 200);
        if (i >= warmup) samples.push(ms);
      }
    } finally {
      await bridge.close();
    }
  } finally {
    await realtime.close();
  }
  return samples;
}

async function oneCall(bridge: LocalBridge, realtime: FakeRealtime, twimlToStartMs: number): Promise<number> {
  const callSid = 'CA' + randomBytes(16).toString('hex');
  const params = { CallSid: callSid, From: '+15550002222' };
  const response = await fetch(`${bridge.baseUrl}/twilio/voice`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${bridge.config.publicUrl}/twilio/voice`, params),
    },
    body: new URLSearchParams(params).toString(),
  });
  const twiml = await response.text();
  const token = /<Parameter name="token" value="([^"]+)"\/>/.exec(twiml)?.[1];
  if (!token) throw new Error(`webhook answered without a stream token: ${response.status} ${twiml}`);
  await new Promise((resolve) => setTimeout(resolve, twimlToStartMs));
  const call = await connectFakeTwilio({ url: streamUrl(bridge.config, token), token, callSid });
  try {
    await call.waitFor('media', undefined, 10_000);
    const index = call.messages.findIndex((m) => m.event === 'media');
    return (call.messageTimes[index] as number) - (call.streamStartedAt as number);
  } finally {
    await call.hangUp();
    // Let the bridge close this call's upstream before the next one (sequential, no overlap).
    const upstream = realtime.connections.at(-1);
    if (upstream) await upstream.closed;
  }
}

function percentiles(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
  const round = (n: number) => Math.round(n * 10) / 10;
  return { p50: round(rank(0.5)), p95: round(rank(0.95)) };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runFirstAudioBench().then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.stderr.write(
        `first audio after start (handshake 300 ms, TwiML→start 200 ms, ${result.calls} calls each): ` +
          `without pre-warm p50 ${result.withoutPrewarmMs.p50} ms / p95 ${result.withoutPrewarmMs.p95} ms; ` +
          `with pre-warm p50 ${result.withPrewarmMs.p50} ms / p95 ${result.withPrewarmMs.p95} ms\n`,
      );
    },
    (err: unknown) => {
      process.stderr.write(`first-audio bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
