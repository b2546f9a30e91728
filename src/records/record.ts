/**
 * A call record: what one call leaves behind once it has ended. Who called whom, when, how it
 * ended, what was said and done (the turns, in order), how the audio went each way and what the
 * model billed. Times are wall-clock milliseconds since the epoch (UTC).
 *
 * Everything in a record that came from a peer (transcripts, digits, tool arguments, numbers) is
 * untrusted text: `cleanText` makes it storable in both databases (no NUL, no lone surrogates:
 * PostgreSQL refuses both) and cuts it to a named limit, so one odd string can neither fail a
 * batch nor grow a record without bound.
 */

export const CALL_DIRECTIONS = ['inbound', 'outbound', 'browser'] as const;
export type CallDirection = (typeof CALL_DIRECTIONS)[number];

export function isCallDirection(value: unknown): value is CallDirection {
  return typeof value === 'string' && (CALL_DIRECTIONS as readonly string[]).includes(value);
}

/** Longest transcript kept per turn, in characters (a long spoken turn is a few hundred). @default 8192 */
export const MAX_TURN_TEXT_CHARS = 8 * 1024;
/** Longest tool `arguments` / `outcome` kept, as JSON text, in characters. @default 2048 */
export const MAX_TOOL_TEXT_CHARS = 2 * 1024;
/** Longest phone number / client name / assistant / tool name / end reason kept, in characters. @default 64 */
export const MAX_LABEL_CHARS = 64;

/** One thing that happened in a call, stamped with when the bridge saw it (ms since the epoch). */
export type Turn =
  | { readonly kind: 'caller'; readonly at: number; readonly text: string }
  | { readonly kind: 'assistant'; readonly at: number; readonly text: string }
  /** A key the caller pressed: 0-9, *, #, A-D ('?' for anything else). */
  | { readonly kind: 'dtmf'; readonly at: number; readonly digit: string }
  /** The caller spoke over the assistant: its audio was cleared. */
  | { readonly kind: 'barge_in'; readonly at: number }
  /**
   * A function call from the model: `arguments` as the model sent them and `outcome` as we
   * answered it (both JSON text, cut to MAX_TOOL_TEXT_CHARS).
   */
  | { readonly kind: 'tool_call'; readonly at: number; readonly name: string; readonly arguments: string; readonly outcome: string };

export type TurnKind = Turn['kind'];

/** One direction of the call's audio (µ-law, 8000 bytes per second). */
export interface AudioFlow {
  /** Frames and bytes sent on. */
  readonly frames: number;
  readonly bytes: number;
  /** Lost to a problem: backpressure, a full hold buffer, audio faster than real time. */
  readonly droppedFrames: number;
  readonly droppedBytes: number;
  /** Given up by design: cleared at a barge-in, or still held when the call ended. */
  readonly discardedBytes: number;
}

export interface CallAudio {
  /** The caller's audio, on its way to the model. */
  readonly toModel: AudioFlow;
  /** The model's audio, on its way to the caller. */
  readonly toCaller: AudioFlow;
}

/** The model's token usage, summed over the call's `response.done` events (see usage.ts). */
export interface TokenUsage {
  /** `response.done` events that carried usage. */
  readonly responses: number;
  /** `total` as the API reports it; text/audio/cached from its details (cached is part of text+audio). */
  readonly input: { readonly total: number; readonly text: number; readonly audio: number; readonly cached: number };
  readonly output: { readonly total: number; readonly text: number; readonly audio: number };
}

export interface CallRecord {
  readonly callSid: string;
  readonly direction: CallDirection;
  /** The caller's and the callee's number (or client name); null when not known. */
  readonly from: string | null;
  readonly to: string | null;
  /** The assistant profile that answered; null for the default one. */
  readonly assistant: string | null;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly durationMs: number;
  /** The session's close reason (twilio_stop, upstream_closed, ended_by_assistant…). */
  readonly endReason: string;
  readonly turns: readonly Turn[];
  /** Turns left out because the call passed a per-call limit (RECORDER_LIMITS). */
  readonly turnsDropped: number;
  readonly audio: CallAudio;
  readonly usage: TokenUsage;
}

/** A record without its turns: what a page of the history lists. */
export type CallSummary = Omit<CallRecord, 'turns'> & { readonly turnCount: number };

export const NO_AUDIO: CallAudio = Object.freeze({
  toModel: Object.freeze({ frames: 0, bytes: 0, droppedFrames: 0, droppedBytes: 0, discardedBytes: 0 }),
  toCaller: Object.freeze({ frames: 0, bytes: 0, droppedFrames: 0, droppedBytes: 0, discardedBytes: 0 }),
});

/**
 * The session's per-call figures this module reads (a structural subset of the session's
 * CallStats, named here so records do not depend on the session's file).
 */
export interface SessionAudioStats {
  readonly framesToUpstream: number;
  readonly bytesToUpstream: number;
  readonly framesToTwilio: number;
  readonly bytesToTwilio: number;
  readonly droppedToUpstream: { readonly frames: number; readonly bytes: number };
  readonly droppedToTwilio: { readonly frames: number; readonly bytes: number };
  readonly discardedToUpstream: number;
  readonly discardedToTwilio: number;
}

export function audioFromStats(stats: SessionAudioStats): CallAudio {
  return {
    toModel: {
      frames: count(stats.framesToUpstream),
      bytes: count(stats.bytesToUpstream),
      droppedFrames: count(stats.droppedToUpstream.frames),
      droppedBytes: count(stats.droppedToUpstream.bytes),
      discardedBytes: count(stats.discardedToUpstream),
    },
    toCaller: {
      frames: count(stats.framesToTwilio),
      bytes: count(stats.bytesToTwilio),
      droppedFrames: count(stats.droppedToTwilio.frames),
      droppedBytes: count(stats.droppedToTwilio.bytes),
      discardedBytes: count(stats.discardedToTwilio),
    },
  };
}

/** A non-negative safe integer, or 0. */
export function count(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

/** U+0000 and lone surrogates (PostgreSQL refuses both in text and jsonb). */
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Peer text made storable: no NUL, no lone surrogate (each becomes U+FFFD), at most `max` characters. */
export function cleanText(value: string, max: number): string {
  // Cut first: a cut through a surrogate pair leaves a lone half, which the replace then catches.
  const cut = value.length > max ? value.slice(0, max) : value;
  return cut.replace(UNSTORABLE, '\uFFFD');
}

/** A label-sized optional text (number, assistant), or null when absent or blank. */
export function cleanLabel(value: string | null | undefined): string | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  return cleanText(value.trim(), MAX_LABEL_CHARS);
}

/** Tool arguments or outcome as JSON text: strings as they are, anything else serialised. */
export function toolText(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else {
    try {
      text = JSON.stringify(value) ?? 'null';
    } catch {
      text = '"(not serialisable)"';
    }
  }
  return cleanText(text, MAX_TOOL_TEXT_CHARS);
}

const DTMF = /^[0-9*#A-D]$/;

export function cleanDigit(value: string): string {
  return DTMF.test(value) ? value : '?';
}
