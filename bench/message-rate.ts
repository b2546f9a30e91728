/**
 * Benchmark 1, message rate per call: messages the bridge sends per second of audio, to the
 * Realtime API and to Twilio, while callers stream 20 ms frames and the stand-in streams its
 * answers as 20 ms deltas (so a bridge forwarding every frame would send 50 a second each way).
 * Counted by the bridge's own counters, cross-checked by what the peers received. Marks and
 * control messages are counted too: "messages", not just audio frames.
 */
import { COUNTER, counterDelta, sleep } from './harness.js';
import { startRig } from './rig.js';

export interface MessageRateResult {
  readonly calls: number;
  readonly callSeconds: number;
  /** Seconds of caller audio relayed upstream / of answer audio relayed to Twilio. */
  readonly callerAudioS: number;
  readonly answerAudioS: number;
  /** Bridge → Realtime: every message (appends + session.update + truncates…) per second of caller audio. */
  readonly toRealtimePerS: number;
  readonly appendsPerS: number;
  /** Bridge → Twilio: every message (media + marks + clears) per second of answer audio. */
  readonly toTwilioPerS: number;
  readonly mediaPerS: number;
  readonly marksPerS: number;
  /** What the bridge received per second of audio: what a frame-by-frame forwarder would send. */
  readonly fromTwilioPerS: number;
  readonly fromRealtimeDeltasPerS: number;
  /** Cross-checks at the receivers. */
  readonly standInAppends: number;
  readonly callerMedia: number;
  readonly callerMarks: number;
  readonly drops: number;
}

export interface MessageRateOptions {
  readonly calls: number;
  /** Length of each call, s. */
  readonly seconds: number;
  readonly log: (line: string) => void;
}

export async function runMessageRate(opts: MessageRateOptions): Promise<MessageRateResult> {
  // 7 s after each utterance: every answer plays to the end (no barge-in discards to muddy the rate).
  const rig = await startRig({ standIn: { deltaBytes: 160 }, load: { gapMs: 7000, durationS: opts.seconds } });
  const { bridge, load, standIn } = rig;
  try {
    const s0 = await bridge.stats();
    await load.add(opts.calls, 20);
    const snapshot = () => [...load.calls];
    const calls = snapshot();
    await Promise.all(calls.map((c) => c.ended));
    await sleep(500);
    const s1 = await bridge.stats();
    const d = (key: string): number => counterDelta(s0, s1, key);
    const callerAudioS = d(COUNTER.bytesUp) / 8000;
    const answerAudioS = d(COUNTER.bytesTwilio) / 8000;
    const media = d(COUNTER.framesTwilio);
    const twilioOut = d(COUNTER.twilioOut);
    let callerMedia = 0;
    let callerMarks = 0;
    let callerClears = 0;
    let callSeconds = 0;
    for (const c of calls) {
      callerMedia += c.stats.mediaReceived;
      callerMarks += c.stats.marksReceived;
      callerClears += c.stats.clears;
      callSeconds += c.audioMs / 1000;
    }
    const deltasIn = standIn.counts.sent['response.output_audio.delta'] ?? 0;
    const result: MessageRateResult = {
      calls: calls.length,
      callSeconds,
      callerAudioS,
      answerAudioS,
      toRealtimePerS: d(COUNTER.upstreamOut) / callerAudioS,
      appendsPerS: d(COUNTER.framesUp) / callerAudioS,
      toTwilioPerS: twilioOut / answerAudioS,
      mediaPerS: media / answerAudioS,
      marksPerS: (twilioOut - media - callerClears) / answerAudioS,
      fromTwilioPerS: d(COUNTER.twilioIn) / callSeconds,
      fromRealtimeDeltasPerS: deltasIn / (standIn.counts.answerBytes / 8000),
      standInAppends: standIn.counts.received['input_audio_buffer.append'] ?? 0,
      callerMedia,
      callerMarks,
      drops: d(COUNTER.droppedUp) + d(COUNTER.droppedTwilio),
    };
    opts.log(
      `  ${result.calls} calls × ${opts.seconds} s: to Realtime ${result.toRealtimePerS.toFixed(2)} msg/s of audio (appends ${result.appendsPerS.toFixed(2)}), ` +
        `to Twilio ${result.toTwilioPerS.toFixed(2)} msg/s of audio (media ${result.mediaPerS.toFixed(2)} + marks ${result.marksPerS.toFixed(2)}); ` +
        `received ${result.fromTwilioPerS.toFixed(1)} from Twilio, ${result.fromRealtimeDeltasPerS.toFixed(1)} deltas from Realtime`,
    );
    return result;
  } finally {
    await rig.close();
  }
}
