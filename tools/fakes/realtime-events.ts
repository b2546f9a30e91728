/**
 * The GA Realtime API's client events as the fake Realtime server checks them (the way the real
 * API validates them), and the server-side objects it answers with.
 */
import { decodeBase64 } from './base64.js';

export type JsonObject = Record<string, unknown>;

/** Any client event as received (JSON object with a string `type`). */
export interface ClientEventBase {
  type: string;
  event_id?: string;
  [key: string]: unknown;
}
export interface SessionUpdateEvent extends ClientEventBase {
  type: 'session.update';
  session: { type: 'realtime' | 'transcription' } & JsonObject;
}
export interface InputAudioBufferAppendEvent extends ClientEventBase {
  type: 'input_audio_buffer.append';
  /** base64 audio, µ-law here (session audio format `audio/pcmu`). */
  audio: string;
}
export interface ConversationItemTruncateEvent extends ClientEventBase {
  type: 'conversation.item.truncate';
  item_id: string;
  content_index: number;
  /** Audio the user heard, in ms from the start of the item's audio. */
  audio_end_ms: number;
}
interface KnownClientEvents {
  'session.update': SessionUpdateEvent;
  'input_audio_buffer.append': InputAudioBufferAppendEvent;
  'conversation.item.truncate': ConversationItemTruncateEvent;
}
/** The recorded type of a client event: precise for validated kinds, loose otherwise. */
export type ClientEventOf<T extends string> = T extends keyof KnownClientEvents ? KnownClientEvents[T] : ClientEventBase;
export type RealtimeClientEvent = ClientEventBase;

/** Client event types of the GA WebSocket API; anything else gets an `error` back, as upstream. */
export const GA_CLIENT_EVENT_TYPES: ReadonlySet<string> = new Set([
  'session.update',
  'input_audio_buffer.append',
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
  'conversation.item.create',
  'conversation.item.retrieve',
  'conversation.item.truncate',
  'conversation.item.delete',
  'response.create',
  'response.cancel',
  'output_audio_buffer.clear',
]);

/** A server event to send; `event_id` is filled in when missing. */
export interface ServerEvent {
  type: string;
  [key: string]: unknown;
}

let idCounter = 0;
/** A fresh id in the API's style (`resp_…`, `item_…`), unique within this process. */
export const nextId = (prefix: string): string => `${prefix}_fake${(++idCounter).toString(36).padStart(6, '0')}`;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const isNonNegInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Returns why `parsed` is not a valid GA client event, or null. */
export function validateClientEvent(parsed: unknown): string | null {
  if (!isObject(parsed) || typeof parsed['type'] !== 'string') return 'not an object with a string type';
  const type = parsed['type'];
  if (!GA_CLIENT_EVENT_TYPES.has(type)) return `unknown client event type ${type}`;
  switch (type) {
    case 'session.update': {
      const session = parsed['session'];
      if (!isObject(session) || (session['type'] !== 'realtime' && session['type'] !== 'transcription')) return 'session.update needs session.type "realtime" (GA)';
      return null;
    }
    case 'input_audio_buffer.append': {
      const audio = parsed['audio'];
      if (typeof audio !== 'string' || decodeBase64(audio) === null) return 'input_audio_buffer.append.audio is not base64';
      return null;
    }
    case 'conversation.item.truncate':
      if (typeof parsed['item_id'] !== 'string' || !isNonNegInt(parsed['content_index']) || !isNonNegInt(parsed['audio_end_ms'])) {
        return 'conversation.item.truncate needs item_id, integer content_index and audio_end_ms';
      }
      return null;
    default:
      return null;
  }
}

/** The session as the API creates it, before any session.update. */
export function defaultSession(model: string): JsonObject {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id: nextId('sess'),
    model,
    output_modalities: ['audio'],
    audio: {
      input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { type: 'server_vad' } },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy' },
    },
  };
}

export function responseObject(id: string, status: 'in_progress' | 'completed' | 'cancelled'): JsonObject {
  return { id, object: 'realtime.response', status, output: [] };
}
