/**
 * A model script for the recording fake Realtime server (tools/fakes/fake-realtime.ts): server VAD
 * on the appended audio (speech_started on the first loud 100 ms, which cancels an answer in
 * progress; speech_stopped after 500 ms of quiet), then the answer streamed as 20 ms deltas at
 * real-time pace. Reports what it does, for the demo's timeline.
 */
import type { EventHook } from '../fakes/fake-realtime.js';
import type { FakeRealtimeConnection } from '../fakes/fake-realtime-connection.js';
import type { InputAudioBufferAppendEvent } from '../fakes/realtime-events.js';
import { TurnDetector } from '../sim/turn-detector.js';
import { meanAmplitude } from '../sim/ulaw.js';

export type ScriptEvent =
  | { readonly type: 'speech_started'; readonly audioMs: number; readonly interrupted: boolean }
  | { readonly type: 'speech_stopped'; readonly audioMs: number }
  | { readonly type: 'answer_started'; readonly itemId: string }
  | { readonly type: 'answer_ended'; readonly status: 'completed' | 'cancelled' | 'aborted'; readonly bytes: number; readonly deltas: number };

export function vadScript(answer: Buffer, onScriptEvent: (event: ScriptEvent) => void): EventHook {
  const state = new WeakMap<FakeRealtimeConnection, { detector: TurnDetector; answering: boolean; turn: number }>();
  return async (event, connection) => {
    if (event.type !== 'input_audio_buffer.append') return;
    let s = state.get(connection);
    if (s === undefined) {
      s = { detector: new TurnDetector(), answering: false, turn: 0 };
      state.set(connection, s);
    }
    const audio = Buffer.from((event as InputAudioBufferAppendEvent).audio, 'base64');
    const verdict = s.detector.push(audio.length / 8, meanAmplitude(audio));
    if (verdict === null) return;
    if (verdict.type === 'speech_started') {
      onScriptEvent({ type: 'speech_started', audioMs: verdict.audioMs, interrupted: s.answering });
      // Server VAD with interrupt_response: the answer in progress is cancelled.
      connection.speechStarted({ audioStartMs: Math.round(verdict.audioMs), interrupt: true });
      return;
    }
    s.turn += 1;
    const itemId = `item_caller_turn_${s.turn}`;
    connection.speechStopped(itemId, Math.round(verdict.audioMs));
    connection.userTranscript(itemId, `(caller turn ${s.turn})`);
    onScriptEvent({ type: 'speech_stopped', audioMs: verdict.audioMs });
    const itemId2 = `item_answer_${s.turn}`;
    s.answering = true;
    onScriptEvent({ type: 'answer_started', itemId: itemId2 });
    const sent = await connection.sendAudio(answer, { chunkBytes: 160, intervalMs: 20, itemId: itemId2 });
    s.answering = false;
    onScriptEvent({ type: 'answer_ended', status: sent.status, bytes: sent.bytes, deltas: sent.deltas });
  };
}
