/**
 * OpenAI Realtime (GA) events: builders for what we send, a tolerant parser for what we receive.
 *
 * Audio is G.711 µ-law both ways (`audio/pcmu`), exactly what Twilio carries, so nothing is
 * transcoded anywhere: bytes in equal bytes out.
 */
import type { Config } from '../config.js';

/** A function tool as declared in `session.update` (GA shape). */
export interface ToolDeclaration {
  readonly type: 'function';
  readonly name: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
}

/** Transcription model for the caller's words (logged as transcript lines). */
export const INPUT_TRANSCRIPTION_MODEL = 'gpt-4o-mini-transcribe';

export function sessionUpdate(
  config: Pick<Config, 'openaiVoice' | 'openaiInstructions'>,
  tools: readonly ToolDeclaration[] = [],
): string {
  return JSON.stringify({
    type: 'session.update',
    session: {
      type: 'realtime',
      instructions: config.openaiInstructions,
      output_modalities: ['audio'],
      audio: {
        input: {
          format: { type: 'audio/pcmu' },
          transcription: { model: INPUT_TRANSCRIPTION_MODEL },
          turn_detection: { type: 'server_vad', create_response: true, interrupt_response: true },
        },
        output: { format: { type: 'audio/pcmu' }, voice: config.openaiVoice },
      },
      ...(tools.length > 0 ? { tools, tool_choice: 'auto' } : {}),
    },
  });
}

export function appendAudio(audio: Buffer): string {
  return `{"type":"input_audio_buffer.append","audio":"${audio.toString('base64')}"}`;
}

/** Asks the model to speak first, saying (roughly) `greeting`. */
export function greetingResponse(greeting: string): string {
  return JSON.stringify({
    type: 'response.create',
    response: { instructions: `Greet the caller by saying: "${greeting}"` },
  });
}

export function truncateItem(itemId: string, audioEndMs: number): string {
  return JSON.stringify({
    type: 'conversation.item.truncate',
    item_id: itemId,
    content_index: 0,
    audio_end_ms: audioEndMs,
  });
}

/** A user text item, e.g. "The caller pressed 5". */
export function userTextItem(text: string): string {
  return JSON.stringify({
    type: 'conversation.item.create',
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
  });
}

export function functionCallOutput(callId: string, output: unknown): string {
  return JSON.stringify({
    type: 'conversation.item.create',
    item: { type: 'function_call_output', call_id: callId, output: JSON.stringify(output) },
  });
}

export const RESPONSE_CREATE = '{"type":"response.create"}';

/** The server events we act on; everything else is ignored (the API adds events over time). */
export type RealtimeServerEvent =
  | { type: 'response.output_audio.delta'; item_id: string; response_id?: string; delta: string }
  | { type: 'response.output_audio.done'; item_id?: string }
  | { type: 'input_audio_buffer.speech_started'; item_id?: string; audio_start_ms?: number }
  | { type: 'conversation.item.input_audio_transcription.completed'; item_id?: string; transcript: string }
  | { type: 'response.output_audio_transcript.done'; item_id?: string; transcript: string }
  | { type: 'response.function_call_arguments.done'; call_id: string; name: string; arguments: string }
  | {
      type: 'response.done';
      response?: { id?: string; status?: string; status_details?: unknown; output?: unknown[] };
    }
  | { type: 'error'; error?: { type?: string; code?: string | null; message?: string; param?: string | null } }
  | { type: 'session.created' | 'session.updated'; session?: unknown }
  | { type: 'other'; originalType: string };

const KNOWN = new Set([
  'response.output_audio.delta',
  'response.output_audio.done',
  'input_audio_buffer.speech_started',
  'conversation.item.input_audio_transcription.completed',
  'response.output_audio_transcript.done',
  'response.function_call_arguments.done',
  'response.done',
  'error',
  'session.created',
  'session.updated',
]);

/** Parses one upstream message; null for non-JSON or objects without a string `type`. */
export function parseServerEvent(data: string): RealtimeServerEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const type = (value as { type?: unknown }).type;
  // Audio deltas are most of what arrives (~50 a second while the model talks): checked first.
  if (type === 'response.output_audio.delta') {
    const v = value as { item_id?: unknown; delta?: unknown };
    return typeof v.item_id === 'string' && typeof v.delta === 'string' ? (value as RealtimeServerEvent) : null;
  }
  if (typeof type !== 'string') return null;
  if (!KNOWN.has(type)) return { type: 'other', originalType: type };
  return value as RealtimeServerEvent;
}
