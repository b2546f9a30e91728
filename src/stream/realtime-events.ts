/**
 * OpenAI Realtime (GA) events: builders for what we send. What we receive is checked in
 * realtime-validate.ts.
 *
 * Audio is G.711 µ-law both ways (`audio/pcmu`), exactly what Twilio carries, so nothing is
 * transcoded anywhere: bytes in equal bytes out.
 */

/** A function tool as declared in `session.update` (GA shape). */
export interface ToolDeclaration {
  readonly type: 'function';
  readonly name: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
}

/** Transcription model for the caller's words (logged as transcript lines). */
export const INPUT_TRANSCRIPTION_MODEL = 'gpt-4o-mini-transcribe';

/** What one call's session.update says: an assistant profile (src/assistants/) has these fields. */
export interface SessionSettings {
  readonly instructions: string;
  readonly voice: string;
  /** ISO-639-1 hint for the caller's transcription; undefined: the model detects the language. */
  readonly language?: string | undefined;
}

/** session.update for `settings` (a profile) and the tools its call declares. */
export function sessionUpdateFor(settings: SessionSettings, tools: readonly ToolDeclaration[] = []): string {
  const transcription =
    settings.language === undefined ? { model: INPUT_TRANSCRIPTION_MODEL } : { model: INPUT_TRANSCRIPTION_MODEL, language: settings.language };
  return JSON.stringify({
    type: 'session.update',
    session: {
      type: 'realtime',
      instructions: settings.instructions,
      output_modalities: ['audio'],
      audio: {
        input: {
          format: { type: 'audio/pcmu' },
          transcription,
          turn_detection: { type: 'server_vad', create_response: true, interrupt_response: true },
        },
        output: { format: { type: 'audio/pcmu' }, voice: settings.voice },
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
