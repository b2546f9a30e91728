/**
 * OpenAI Realtime server events, checked at the boundary: one upstream message in, a verdict out.
 *
 * The Realtime peer's data is input, not types (the beta → GA rename changed shapes once
 * already). Every event the bridge acts on is checked field by field into `RealtimeServerEvent`;
 * a message that fails is `{ ok: false, type, reason, field }`, which the caller counts and
 * ignores (see upstream-leg.ts). Never throws.
 *
 * Shape policy, as for Twilio frames (twilio-protocol.ts): a field the bridge acts on is required
 * and typed (delta audio and item_id, transcripts, tool call_id and name, error fields); a field
 * it only logs or may read later is optional but, when present, must have its type. Strings have
 * named length limits. Event types not listed here are `{ type: 'other' }`: the API adds events
 * over time, and an event we do not read is not an error. Tool `arguments` are handed on as
 * received: the tool router parses them and answers the model when they are unusable.
 */
import { decodeStrictBase64, isJsonObject as isObj, NOT_JSON, parseJsonText, type JsonObject as Obj } from './peer-input.js';

/** Longest id accepted (item_id, response_id, call_id), in characters; real ones are ~30. */
export const MAX_ID_CHARS = 256;
/** Largest audio delta, in decoded µ-law bytes: 256 KiB = 32 s of audio (real deltas are ~0.1 s). */
export const MAX_AUDIO_DELTA_BYTES = 256 * 1024;
/** Longest base64 text that can hold MAX_AUDIO_DELTA_BYTES. */
const MAX_AUDIO_DELTA_BASE64_CHARS = Math.ceil(MAX_AUDIO_DELTA_BYTES / 3) * 4;
/** Longest transcript accepted, in characters (a long spoken turn is a few thousand). */
export const MAX_TRANSCRIPT_CHARS = 64 * 1024;
/** Longest tool name, in characters: the API's own limit on function names. */
export const MAX_TOOL_NAME_CHARS = 64;
/** Longest short text field (status, error type/code/param), in characters. */
export const MAX_LABEL_CHARS = 256;
/** Longest error message accepted, in characters. */
export const MAX_MESSAGE_CHARS = 4 * 1024;

/** The event types the bridge reads; also the `type` label values of invalid-event metrics. */
export const KNOWN_SERVER_EVENT_TYPES = [
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
] as const;
export type KnownServerEventType = (typeof KNOWN_SERVER_EVENT_TYPES)[number];
const KNOWN: ReadonlySet<string> = new Set(KNOWN_SERVER_EVENT_TYPES);
const DELTA = 'response.output_audio.delta';

export type RealtimeServerEvent =
  | {
      readonly type: 'response.output_audio.delta';
      readonly item_id: string;
      readonly response_id?: string;
      /** The decoded µ-law bytes (strict base64, never empty). */
      readonly audio: Buffer;
    }
  | { readonly type: 'response.output_audio.done'; readonly item_id?: string }
  | { readonly type: 'input_audio_buffer.speech_started'; readonly item_id?: string; readonly audio_start_ms?: number }
  | { readonly type: 'conversation.item.input_audio_transcription.completed'; readonly item_id?: string; readonly transcript: string }
  | { readonly type: 'response.output_audio_transcript.done'; readonly item_id?: string; readonly transcript: string }
  | {
      readonly type: 'response.function_call_arguments.done';
      readonly call_id: string;
      readonly name: string;
      /** As received (normally a JSON text); checked by the tool router, which answers the model. */
      readonly arguments: unknown;
    }
  | {
      readonly type: 'response.done';
      /** `usage` as received: parsed by stream/realtime-usage.ts, which refuses what it cannot count. */
      readonly response?: { readonly id?: string; readonly status?: string; readonly status_details?: unknown; readonly usage?: unknown };
    }
  | {
      readonly type: 'error';
      readonly error: { readonly type?: string; readonly code?: string | null; readonly message?: string; readonly param?: string | null };
    }
  | { readonly type: 'session.created' | 'session.updated'; readonly session: { readonly expires_at?: number } }
  | { readonly type: 'other'; readonly originalType: string };

/** Why a message is not a usable event. Bounded: these are metric label values. */
export type InvalidEventReason =
  | 'binary' // the Realtime API sends text frames only
  | 'bad_json'
  | 'not_object' // JSON, but not an object
  | 'no_type' // no string `type`
  | 'missing' // a required field is absent or null
  | 'wrong_type' // a field has the wrong JSON type (or a number out of range)
  | 'too_long' // a string or the audio over its named limit
  | 'bad_base64'; // audio that is empty or not strict base64

/** The `type` label of an invalid event: a known type, or 'none' when it had no string type. */
export type InvalidEventType = KnownServerEventType | 'none';

export type ServerEventVerdict =
  | { readonly ok: true; readonly event: RealtimeServerEvent }
  | { readonly ok: false; readonly type: InvalidEventType; readonly reason: InvalidEventReason; readonly field?: string };


/** Signals a field problem from inside a reader; caught only in parseServerEvent. */
class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly reason: InvalidEventReason,
  ) {
    super(field);
  }
}

function reqStr(o: Obj, key: string, max: number): string {
  const v = o[key];
  if (v === undefined || v === null) throw new FieldError(key, 'missing');
  if (typeof v !== 'string') throw new FieldError(key, 'wrong_type');
  if (v.length > max) throw new FieldError(key, 'too_long');
  return v;
}

/** A required id: a non-empty string of at most MAX_ID_CHARS. */
function reqId(o: Obj, key: string): string {
  const v = reqStr(o, key, MAX_ID_CHARS);
  if (v === '') throw new FieldError(key, 'missing');
  return v;
}

function optStr(o: Obj, key: string, max: number): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new FieldError(key, 'wrong_type');
  if (v.length > max) throw new FieldError(key, 'too_long');
  return v;
}

/** A documented nullable string (error.code, error.param). */
function optNullableStr(o: Obj, key: string, max: number): string | null | undefined {
  return o[key] === null ? null : optStr(o, key, max);
}

function optNonNegNumber(o: Obj, key: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new FieldError(key, 'wrong_type');
  return v;
}

function reqObj(o: Obj, key: string): Obj {
  const v = o[key];
  if (v === undefined || v === null) throw new FieldError(key, 'missing');
  if (!isObj(v)) throw new FieldError(key, 'wrong_type');
  return v;
}

function optObj(o: Obj, key: string): Obj | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!isObj(v)) throw new FieldError(key, 'wrong_type');
  return v;
}

/** Runs a nested object's readers, naming a failing field by its path (`error.code`). */
function within<T>(prefix: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof FieldError) throw new FieldError(`${prefix}.${err.field}`, err.reason);
    throw err;
  }
}

/** Verdicts without a field are shared frozen objects: junk costs no allocation per message. */
const invalid = (type: InvalidEventType, reason: InvalidEventReason): ServerEventVerdict => Object.freeze({ ok: false, type, reason });
const BINARY = invalid('none', 'binary');
const BAD_JSON = invalid('none', 'bad_json');
const NOT_OBJECT = invalid('none', 'not_object');
const NO_TYPE = invalid('none', 'no_type');

/**
 * Parses one upstream message (text frame as ws hands it over). Never throws.
 * @param isBinary ws's flag: a binary frame is refused unread.
 */
export function parseServerEvent(data: Buffer | string, isBinary = false): ServerEventVerdict {
  if (isBinary) return BINARY;
  const value = parseJsonText(data);
  if (value === NOT_JSON) return BAD_JSON;
  if (!isObj(value)) return NOT_OBJECT;
  const type = value.type;
  // Audio deltas are most of what arrives (~50 a second per call while the model talks): checked
  // first, flat, without the readers' exceptions; the audio is decoded here, once.
  if (type === 'response.output_audio.delta') return parseDelta(value);
  if (typeof type !== 'string') return NO_TYPE;
  if (!KNOWN.has(type)) return { ok: true, event: { type: 'other', originalType: type.slice(0, MAX_LABEL_CHARS) } };
  try {
    return { ok: true, event: parseKnown(value, type as Exclude<KnownServerEventType, typeof DELTA>) };
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, type: type as KnownServerEventType, reason: err.reason, field: err.field };
    throw err; // a bug in this module, not bad input: let it surface (the session contains it)
  }
}


function parseDelta(v: Obj): ServerEventVerdict {
  const itemId = v.item_id;
  const delta = v.delta;
  const responseId = v.response_id;
  if (typeof itemId !== 'string' || itemId === '') return fieldVerdict(DELTA, 'item_id', itemId);
  if (itemId.length > MAX_ID_CHARS) return { ok: false, type: DELTA, reason: 'too_long', field: 'item_id' };
  if (responseId !== undefined && typeof responseId !== 'string') return { ok: false, type: DELTA, reason: 'wrong_type', field: 'response_id' };
  if (responseId !== undefined && responseId.length > MAX_ID_CHARS) return { ok: false, type: DELTA, reason: 'too_long', field: 'response_id' };
  if (typeof delta !== 'string') return fieldVerdict(DELTA, 'delta', delta);
  // 4 base64 characters carry up to 3 bytes: refuse a delta that cannot fit before decoding it.
  if (delta.length > MAX_AUDIO_DELTA_BASE64_CHARS) return { ok: false, type: DELTA, reason: 'too_long', field: 'delta' };
  const audio = decodeStrictBase64(delta);
  if (audio === null) return { ok: false, type: DELTA, reason: 'bad_base64', field: 'delta' };
  if (audio.length > MAX_AUDIO_DELTA_BYTES) return { ok: false, type: DELTA, reason: 'too_long', field: 'delta' };
  return {
    ok: true,
    event: responseId === undefined ? { type: DELTA, item_id: itemId, audio } : { type: DELTA, item_id: itemId, response_id: responseId, audio },
  };
}

/** missing (absent, null, '') or wrong_type, for a required string field. */
function fieldVerdict(type: KnownServerEventType, field: string, value: unknown): ServerEventVerdict {
  const reason = value === undefined || value === null || value === '' ? 'missing' : 'wrong_type';
  return { ok: false, type, reason, field };
}

/** Every known type but the delta (parseDelta's), field by field. */
function parseKnown(v: Obj, type: Exclude<KnownServerEventType, typeof DELTA>): RealtimeServerEvent {
  switch (type) {
    case 'response.output_audio.done':
      return { type, item_id: optStr(v, 'item_id', MAX_ID_CHARS) };
    case 'input_audio_buffer.speech_started':
      return { type, item_id: optStr(v, 'item_id', MAX_ID_CHARS), audio_start_ms: optNonNegNumber(v, 'audio_start_ms') };
    case 'conversation.item.input_audio_transcription.completed':
    case 'response.output_audio_transcript.done':
      return { type, item_id: optStr(v, 'item_id', MAX_ID_CHARS), transcript: reqStr(v, 'transcript', MAX_TRANSCRIPT_CHARS) };
    case 'response.function_call_arguments.done': {
      const callId = reqId(v, 'call_id');
      const name = reqStr(v, 'name', MAX_TOOL_NAME_CHARS);
      return { type, call_id: callId, name, arguments: v.arguments };
    }
    case 'response.done': {
      const r = optObj(v, 'response');
      if (r === undefined) return { type };
      const response = within('response', () => ({
        id: optStr(r, 'id', MAX_ID_CHARS),
        status: optStr(r, 'status', MAX_LABEL_CHARS),
        status_details: r.status_details,
        usage: r.usage,
      }));
      return { type, response };
    }
    case 'error': {
      const e = reqObj(v, 'error');
      const error = within('error', () => ({
        type: optStr(e, 'type', MAX_LABEL_CHARS),
        code: optNullableStr(e, 'code', MAX_LABEL_CHARS),
        message: optStr(e, 'message', MAX_MESSAGE_CHARS),
        param: optNullableStr(e, 'param', MAX_LABEL_CHARS),
      }));
      return { type, error };
    }
    case 'session.created':
    case 'session.updated': {
      const s = reqObj(v, 'session');
      const expiresAt = s.expires_at;
      // expires_at: seconds since the epoch; a number when present (session-expiry.ts reads it).
      if (expiresAt !== undefined && expiresAt !== null && (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt))) {
        throw new FieldError('session.expires_at', 'wrong_type');
      }
      return { type, session: typeof expiresAt === 'number' ? { expires_at: expiresAt } : {} };
    }
  }
}
