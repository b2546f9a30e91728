/**
 * Twilio Media Streams wire protocol: parse inbound messages, build outbound ones.
 *
 * Inbound (Twilio → us), JSON text frames, per Twilio's "Media Streams - WebSocket Messages":
 *   connected {event, protocol, version}
 *   start     {event, sequenceNumber, start: {accountSid, streamSid, callSid, tracks,
 *              customParameters, mediaFormat: {encoding, sampleRate, channels}}, streamSid}
 *   media     {event, sequenceNumber, media: {track, chunk, timestamp, payload}, streamSid}
 *   mark      {event, sequenceNumber, streamSid, mark: {name}}      (echo of a mark we sent)
 *   dtmf      {event, streamSid, sequenceNumber, dtmf: {track, digit}}
 *   stop      {event, sequenceNumber, streamSid, stop: {accountSid, callSid}}
 * Twilio sends the counters (`sequenceNumber`, `chunk`, `timestamp`) as decimal strings; they are
 * returned as numbers. The media payload is returned decoded.
 *
 * Shape policy: a field the bridge acts on is required and typed (streamSid, callSid,
 * customParameters values, media payload and timestamp, mark name, dtmf digit); a documented
 * field it does not act on may be absent but, when present, must have its documented type.
 * Anything else is a verdict (`ok: false` with a reason), never an exception: the session counts
 * invalid frames and closes with 1008 after INVALID_FRAME_LIMIT in a row (invalid-frame-run.ts).
 * The field readers are in twilio-fields.ts.
 *
 * Outbound (us → Twilio, bidirectional `<Connect><Stream>` only): media, mark, clear, built in
 * twilio-outbound.ts.
 */
import { decodeStrictBase64, isJsonObject as isObj, NOT_JSON, parseJsonText, type JsonObject as Obj } from './peer-input.js';
import { countValue, NOT_A_COUNT, objField, optCount, optMediaFormat, optStr, optTracks, ShapeError, str, stringRecord } from './twilio-fields.js';
import { scanTwilioMedia } from './twilio-media-scan.js';

// The session's imports from before the split (outbound builders, the invalid-frame run).

export type InvalidFrameReason =
  | 'binary' // Twilio only sends text frames
  | 'bad_json'
  | 'bad_shape' // not an object, no `event`, or a field missing or of the wrong type
  | 'unknown_event'
  | 'media_before_start'
  | 'second_start'
  | 'bad_payload' // media payload empty or not strict base64
  | 'bad_dtmf'; // a dtmf digit that is not one key of a phone keypad

export interface MediaFormat {
  readonly encoding: string;
  readonly sampleRate: number;
  readonly channels: number;
}

export interface TwilioConnected {
  readonly event: 'connected';
  readonly protocol?: string;
  readonly version?: string;
}

export interface TwilioStart {
  readonly event: 'start';
  readonly sequenceNumber?: number;
  readonly streamSid: string;
  readonly start: {
    readonly streamSid: string;
    readonly callSid: string;
    readonly accountSid?: string;
    readonly tracks?: readonly string[];
    /** `<Parameter>` values from the TwiML; `{}` when absent. */
    readonly customParameters: Readonly<Record<string, string>>;
    readonly mediaFormat?: MediaFormat;
  };
}

export interface TwilioMedia {
  readonly event: 'media';
  readonly sequenceNumber?: number;
  readonly streamSid: string;
  readonly media: {
    readonly track?: string;
    readonly chunk?: number;
    /** Presentation timestamp, ms since the start of the stream (Twilio's stream clock). */
    readonly timestamp: number;
    /** Decoded µ-law bytes (never empty). */
    readonly payload: Buffer;
  };
}

export interface TwilioMark {
  readonly event: 'mark';
  readonly sequenceNumber?: number;
  readonly streamSid: string;
  readonly mark: { readonly name: string };
}

export interface TwilioDtmf {
  readonly event: 'dtmf';
  readonly sequenceNumber?: number;
  readonly streamSid: string;
  readonly dtmf: { readonly track?: string; readonly digit: string };
}

export interface TwilioStop {
  readonly event: 'stop';
  readonly sequenceNumber?: number;
  readonly streamSid: string;
  readonly stop?: { readonly accountSid?: string; readonly callSid?: string };
}

export type TwilioInbound = TwilioConnected | TwilioStart | TwilioMedia | TwilioMark | TwilioDtmf | TwilioStop;

export type ParseResult =
  | { readonly ok: true; readonly message: TwilioInbound }
  | { readonly ok: false; readonly reason: InvalidFrameReason };

/** Verdicts carry no per-frame data, so each is one shared frozen object (no allocation per bad frame). */
const verdict = (reason: InvalidFrameReason): ParseResult => Object.freeze({ ok: false, reason });
const BINARY = verdict('binary');
const BAD_JSON = verdict('bad_json');
const BAD_SHAPE = verdict('bad_shape');
const UNKNOWN_EVENT = verdict('unknown_event');
const MEDIA_BEFORE_START = verdict('media_before_start');
const SECOND_START = verdict('second_start');
const BAD_PAYLOAD = verdict('bad_payload');
const BAD_DTMF = verdict('bad_dtmf');

/**
 * One key of a phone keypad (Twilio sends 0-9, * and #; A-D exist on some). Anything else is not
 * a keypress: the digit goes to the model as text, so free text here would be a way to speak to
 * it in words the caller never said.
 */
const DTMF_DIGIT = /^[0-9*#A-D]$/;

/**
 * Parses one WebSocket message from Twilio. Never throws.
 * @param started whether a valid `start` was already accepted on this socket
 */
export function parseTwilioFrame(data: Buffer | string, isBinary: boolean, started: boolean): ParseResult {
  if (isBinary) return BINARY;
  if (started && typeof data !== 'string') {
    // Media as Twilio lays it out, read in place; anything else falls through to the rules below.
    const media = scanTwilioMedia(data);
    if (media !== undefined) return { ok: true, message: media };
  }
  const root = parseJsonText(data);
  if (root === NOT_JSON) return BAD_JSON;
  if (!isObj(root)) return BAD_SHAPE;
  const event = root.event;
  if (event === 'media') return parseMedia(root, started);
  if (typeof event !== 'string') return BAD_SHAPE;
  try {
    return parseEvent(root, event, started);
  } catch (err) {
    if (err instanceof ShapeError) return BAD_SHAPE;
    throw err; // a bug in this module, not bad input: let it surface
  }
}

/**
 * `media`, 50 a second per call: the same rules and verdicts as the other events (required:
 * streamSid, timestamp, payload; typed when present: sequenceNumber, track, chunk), checked flat
 * without the field readers' exceptions. Shape problems win over a bad payload.
 */
function parseMedia(m: Obj, started: boolean): ParseResult {
  const sequenceNumber = countValue(m.sequenceNumber);
  if (sequenceNumber === NOT_A_COUNT) return BAD_SHAPE;
  if (!started) return MEDIA_BEFORE_START;
  const streamSid = m.streamSid;
  const media = m.media;
  if (typeof streamSid !== 'string' || streamSid === '' || !isObj(media)) return BAD_SHAPE;
  const timestamp = countValue(media.timestamp);
  const chunk = countValue(media.chunk);
  const track = media.track;
  const text = media.payload;
  if (
    timestamp === undefined ||
    timestamp === NOT_A_COUNT ||
    chunk === NOT_A_COUNT ||
    (track !== undefined && typeof track !== 'string') ||
    typeof text !== 'string'
  ) {
    return BAD_SHAPE;
  }
  const payload = decodeStrictBase64(text);
  if (payload === null) return BAD_PAYLOAD;
  return { ok: true, message: { event: 'media', sequenceNumber, streamSid, media: { track, chunk, timestamp, payload } } };
}

function parseEvent(m: Obj, event: string, started: boolean): ParseResult {
  const sequenceNumber = event === 'connected' ? undefined : optCount(m, 'sequenceNumber');
  switch (event) {
    case 'connected':
      return { ok: true, message: { event, protocol: optStr(m, 'protocol'), version: optStr(m, 'version') } };
    case 'start': {
      if (started) return SECOND_START;
      const s = objField(m, 'start');
      const streamSid = str(s, 'streamSid');
      const start = {
        streamSid,
        callSid: str(s, 'callSid'),
        accountSid: optStr(s, 'accountSid'),
        tracks: optTracks(s),
        customParameters: stringRecord(s, 'customParameters'),
        mediaFormat: optMediaFormat(s),
      };
      // The top-level copy is optional, but two different sids for one stream is not a stream.
      const outer = optStr(m, 'streamSid');
      if (outer !== undefined && outer !== streamSid) return BAD_SHAPE;
      return { ok: true, message: { event, sequenceNumber, streamSid, start } };
    }
    case 'mark': {
      const streamSid = str(m, 'streamSid');
      return { ok: true, message: { event, sequenceNumber, streamSid, mark: { name: str(objField(m, 'mark'), 'name') } } };
    }
    case 'dtmf': {
      const streamSid = str(m, 'streamSid');
      const d = objField(m, 'dtmf');
      const digit = str(d, 'digit');
      if (!DTMF_DIGIT.test(digit)) return BAD_DTMF;
      return { ok: true, message: { event, sequenceNumber, streamSid, dtmf: { track: optStr(d, 'track'), digit } } };
    }
    case 'stop': {
      const streamSid = str(m, 'streamSid');
      const raw = m.stop;
      if (raw !== undefined && !isObj(raw)) return BAD_SHAPE;
      const stop = raw === undefined ? undefined : { accountSid: optStr(raw, 'accountSid'), callSid: optStr(raw, 'callSid') };
      return { ok: true, message: { event, sequenceNumber, streamSid, stop } };
    }
    default:
      return UNKNOWN_EVENT;
  }
}
