/** A model script for the fake Realtime server: server VAD that answers every caller turn. */
import type { EventHook } from './fake-realtime.js';
import type { FakeRealtimeConnection, SendAudioOptions } from './fake-realtime-connection.js';
import type { InputAudioBufferAppendEvent } from './realtime-events.js';

export interface TurnScriptOptions {
  /** Appended caller audio that makes one turn, in bytes (e.g. the caller fixture's length). */
  turnBytes: number;
  /** The model's spoken answer to turn n (0-based). */
  reply: Buffer | ((turn: number) => Buffer);
  send?: SendAudioOptions;
  userText?: string;
  agentText?: string;
}

/**
 * An `onEvent` script that plays a model with server VAD: the first audio of a turn gives
 * `speech_started`, `turnBytes` of it give `speech_stopped` and then the reply is streamed.
 */
export function answerEachTurn(opts: TurnScriptOptions): EventHook {
  const turns = new WeakMap<FakeRealtimeConnection, { bytes: number; itemId: string | null; turn: number }>();
  return async (event, connection) => {
    if (event.type !== 'input_audio_buffer.append') return;
    const state = turns.get(connection) ?? { bytes: 0, itemId: null, turn: 0 };
    turns.set(connection, state);
    state.itemId ??= connection.speechStarted();
    state.bytes += Buffer.byteLength((event as InputAudioBufferAppendEvent).audio, 'base64');
    if (state.bytes < opts.turnBytes) return;
    const itemId = state.itemId;
    const turn = state.turn++;
    state.bytes = 0;
    state.itemId = null;
    connection.speechStopped(itemId);
    if (opts.userText !== undefined) connection.userTranscript(itemId, opts.userText);
    const reply = typeof opts.reply === 'function' ? opts.reply(turn) : opts.reply;
    const sent = await connection.sendAudio(reply, opts.send);
    if (opts.agentText !== undefined && sent.status === 'completed') connection.agentTranscript(sent.responseId, sent.itemId, opts.agentText);
  };
}
