/**
 * The demo: one phone call through the real bridge, on this machine, with no keys.
 *
 * The bridge runs in-process (buildApp, loopback PUBLIC_URL, generated secrets); a fake Realtime
 * API answers each caller turn with the agent fixture; a fake Twilio posts the signed voice
 * webhook, follows the TwiML's <Stream url> with its <Parameter>s, says the caller fixture,
 * interrupts the answer once (barge-in), listens to the second answer for a moment, and hangs up.
 * Returns the timeline and the figures; prints them unless quiet.
 */
import { Writable } from 'node:stream';
import { readFixture, silence } from '../fakes/audio.js';
import { startFakeRealtime, type FakeRealtime } from '../fakes/fake-realtime.js';
import { connectFakeTwilio } from '../fakes/fake-twilio.js';
import type { FakeTwilioCall, StreamAudioResult } from '../fakes/fake-twilio-call.js';
import { startLocalBridge, type LocalBridge } from '../sim/local-bridge.js';
import { answerCall, inboundCallParams, newCallSid } from '../sim/twilio-webhook.js';
import { vadScript, type ScriptEvent } from './vad-script.js';
import { Timeline, formatSummary, type DemoSummary } from './timeline.js';

export type { DemoSummary } from './timeline.js';

export interface DemoOptions {
  /** Print nothing (tests). @default false */
  readonly quiet?: boolean;
  /** Where lines go. @default console.log */
  readonly print?: (line: string) => void;
  /** How long the caller listens to the first answer before talking over it, ms. @default 2000 */
  readonly interruptAfterMs?: number;
  /** How long the caller listens to the second answer before hanging up, ms. @default 1500 */
  readonly hangUpAfterMs?: number;
}

/** Longest the demo may take before it gives up, ms (it normally takes ~15 s). */
const DEMO_TIMEOUT_MS = 45_000;
/** A long run of silence the caller streams while it listens (aborted when it is time to talk). */
const LISTENING = silence(30_000);

export async function runDemo(opts: DemoOptions = {}): Promise<DemoSummary> {
  const print = opts.quiet ? () => undefined : (opts.print ?? ((line: string) => console.log(line)));
  const caller = readFixture('caller-8k.ulaw');
  const agent = readFixture('agent-8k.ulaw');
  const timeline = new Timeline(print);
  const bridgeLog = new BridgeLog(opts.quiet ? null : (line) => process.stderr.write(line + '\n'));
  let realtime: FakeRealtime | null = null;
  let bridge: LocalBridge | null = null;
  let call: FakeTwilioCall | null = null;
  const giveUp = setTimeout(() => {
    timeline.note('end', `gave up after ${DEMO_TIMEOUT_MS / 1000} s`);
    call?.socket.terminate();
  }, DEMO_TIMEOUT_MS);
  try {
    const answers: ScriptEvent[] = [];
    realtime = await startFakeRealtime({
      onEvent: vadScript(agent, (event) => {
        answers.push(event);
        timeline.onScript(event);
      }),
    });
    bridge = await startLocalBridge({ realtimeUrl: realtime.url, env: { LOG_LEVEL: 'info' }, logStream: bridgeLog.stream });
    print('voice-bridge demo: one call through the real bridge, a local stand-in for the Realtime API, no keys.');
    print(`  bridge ${bridge.baseUrl}   Realtime stand-in ${realtime.url}`);
    print('');
    timeline.start();

    // Twilio answers an inbound call: signed webhook → TwiML.
    const callSid = newCallSid();
    const webhookAt = performance.now();
    const stream = await answerCall({ target: new URL(bridge.baseUrl), authToken: bridge.authToken, params: inboundCallParams(callSid) });
    timeline.note('webhook', `POST /twilio/voice, signed, CallSid ${short(callSid)} → 200 TwiML in ${ms(performance.now() - webhookAt)}`);
    timeline.note('twiml', `<Connect><Stream url="${maskToken(stream.streamUrl)}"> with <Parameter>s ${Object.keys(stream.parameters).join(', ')}`);

    // Twilio opens the Media Stream and sends connected + start.
    const upgradeAt = performance.now();
    const connected = connectFakeTwilio({ url: stream.wsUrl, callSid, token: stream.parameters['token'], customParameters: stream.parameters });
    call = await connected;
    timeline.note('upgrade', `GET /twilio/stream/<token> → 101 Switching Protocols in ${ms(performance.now() - upgradeAt)}`);
    timeline.note('start', `connected + start sent (streamSid ${short(call.streamSid)}); the bridge checks token and CallSid`);
    const upstream = await realtime.waitForConnection(0, 5000);
    const update = await upstream.waitForEvent('session.update');
    const format = (update.session['audio'] as { input?: { format?: { type?: string } } } | undefined)?.input?.format?.type ?? '?';
    timeline.note('upstream', `the bridge opened the Realtime socket and sent session.update (${format} audio both ways, server VAD)`);
    void upstream.waitForEvent('input_audio_buffer.append', undefined, 10_000).then(
      (e) => timeline.note('audio_up', `first input_audio_buffer.append: ${Buffer.byteLength(e.audio, 'base64')} bytes = 100 ms of caller audio`),
      () => undefined,
    );
    void call.waitFor('media', undefined, 20_000).then(
      (m) => timeline.note('audio_down', `first media to the caller: ${Buffer.byteLength(m.media.payload, 'base64')} bytes (aggregated from 20 ms deltas)`),
      () => undefined,
    );

    // Turn 1: the caller speaks, then listens to the answer for a while, then talks over it.
    timeline.note('caller', `caller says the caller fixture (${(caller.length / 8000).toFixed(2)} s) in 20 ms frames, real time`);
    const sent: Buffer[] = [];
    const said = (audio: Buffer, result: StreamAudioResult): void => void sent.push(audio.subarray(0, result.bytes));
    said(caller, await call.streamAudio(caller));
    await listenUntil(call, sent, async () => {
      await call?.waitFor('media', undefined, 15_000);
      await sleep(opts.interruptAfterMs ?? 2000);
    });
    const clearWait = call.waitFor('clear', undefined, 5000);
    const truncateWait = upstream.waitForEvent('conversation.item.truncate', undefined, 5000);
    timeline.note('caller', 'caller talks over the answer (barge-in): the caller fixture again');
    const secondTurn = call.streamAudio(caller).then((result) => said(caller, result));
    await clearWait;
    const heardMs = call.playedMs;
    timeline.note('clear', `Twilio got clear: the caller had heard ${ms(heardMs)} of the answer; ${call.clearedBytes} queued bytes dropped`);
    const truncate = await truncateWait;
    timeline.note('truncate', `conversation.item.truncate audio_end_ms=${truncate.audio_end_ms} (what the caller heard, from marks and timestamps)`);
    await secondTurn;

    // Turn 2: listen to the start of the second answer, then hang up.
    const answersBefore = call.count('media');
    await listenUntil(call, sent, async () => {
      await call?.waitForCount('media', answersBefore + 1, 15_000);
      await sleep(opts.hangUpAfterMs ?? 1500);
    });
    timeline.note('hangup', 'caller hangs up: stop, then close 1000');
    const hangUpAt = performance.now();
    await call.hangUp();
    await upstream.closed;
    timeline.note('end', `the bridge closed the Realtime socket ${ms(performance.now() - hangUpAt)} after the stop`);
    const ended = await bridgeLog.callEnded(2000);

    const callerAudio = Buffer.concat(sent);
    const appended = upstream.appendedAudio();
    const summary = timeline.summary({
      call,
      upstream,
      callerBytes: callerAudio.length,
      // Exact, in order; only the last partial 100 ms frame may be missing (a stop flushes nothing).
      byteExact: appended.equals(callerAudio.subarray(0, appended.length)) && callerAudio.length - appended.length < 800,
      heardMsAtBargeIn: heardMs,
      truncateAudioEndMs: truncate.audio_end_ms,
      bridge: ended,
      warnings: bridgeLog.warnings,
      answers,
    });
    print('');
    for (const line of formatSummary(summary)) print(line);
    return summary;
  } finally {
    clearTimeout(giveUp);
    if (call) await call.close();
    if (bridge) await bridge.close();
    if (realtime) await realtime.close();
  }
}

/** Streams silence (the line is open while the caller listens) until `until` resolves; records what was sent. */
async function listenUntil(call: FakeTwilioCall, sent: Buffer[], until: () => Promise<void>): Promise<void> {
  const listening = new AbortController();
  const streaming = call.streamAudio(LISTENING, { signal: listening.signal });
  try {
    await until();
  } finally {
    listening.abort();
    const result = await streaming;
    sent.push(LISTENING.subarray(0, result.bytes));
  }
}

const sleep = (msDelay: number): Promise<void> => new Promise((r) => setTimeout(r, msDelay));
const ms = (value: number): string => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`);
const short = (sid: string): string => `${sid.slice(0, 8)}…`;
const maskToken = (url: string): string => url.replace(/\/twilio\/stream\/[^/]+$/, '/twilio/stream/<token>');

/** The bridge's JSON log lines: problems echoed to stderr, the `call ended` record kept for the summary. */
class BridgeLog {
  readonly warnings: string[] = [];
  readonly stream: Writable;
  private ended: Record<string, unknown> | null = null;
  private waiter: ((record: Record<string, unknown>) => void) | null = null;

  constructor(echo: ((line: string) => void) | null) {
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line) continue;
          let record: Record<string, unknown>;
          try {
            record = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue;
          }
          if (typeof record['level'] === 'number' && record['level'] >= 40) {
            this.warnings.push(String(record['msg']));
            echo?.(`bridge ${record['level'] >= 50 ? 'error' : 'warning'}: ${String(record['msg'])}`);
          }
          if (record['msg'] === 'call ended') {
            this.ended = record;
            this.waiter?.(record);
          }
        }
        done();
      },
    });
  }

  callEnded(timeoutMs: number): Promise<Record<string, unknown> | null> {
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      this.waiter = (record) => {
        clearTimeout(timer);
        resolve(record);
      };
    });
  }
}
