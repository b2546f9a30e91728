/**
 * Why a call ended, and what each end means to Twilio (the close code) and to the log (the level).
 * One table, so a new end reason is added in one place.
 */
export type EndReason =
  | 'twilio_stop'
  | 'twilio_closed'
  | 'message_too_big'
  | 'start_timeout'
  | 'invalid_frames'
  | 'bad_start'
  | 'media_too_fast'
  | 'upstream_closed'
  | 'upstream_error'
  | 'session_expired'
  | 'ended_by_assistant'
  | 'transferred'
  | 'drain_timeout'
  | 'internal_error';

interface EndMeaning {
  /** Close code and text sent to Twilio. 1011 makes Twilio go on to the TwiML after <Connect>. */
  readonly close: readonly [code: number, text: string];
  /** Level of the `call ended` line: warn when the end points at a problem worth a look. */
  readonly level: 'info' | 'warn';
}

export const END_REASONS: Readonly<Record<EndReason, EndMeaning>> = Object.freeze({
  twilio_stop: { close: [1000, 'stream stopped'], level: 'info' },
  twilio_closed: { close: [1000, 'stream closed'], level: 'info' },
  message_too_big: { close: [1009, 'message too big'], level: 'info' },
  start_timeout: { close: [1008, 'no start event in time'], level: 'warn' },
  invalid_frames: { close: [1008, 'too many invalid frames'], level: 'warn' },
  bad_start: { close: [1008, 'start does not match the stream token'], level: 'info' },
  media_too_fast: { close: [1008, 'media faster than real time'], level: 'info' },
  upstream_closed: { close: [1011, 'assistant unavailable'], level: 'warn' },
  upstream_error: { close: [1011, 'assistant unavailable'], level: 'warn' },
  session_expired: { close: [1011, 'assistant session ended'], level: 'info' },
  ended_by_assistant: { close: [1000, 'call ended'], level: 'info' },
  transferred: { close: [1000, 'call transferred'], level: 'info' },
  drain_timeout: { close: [1001, 'server shutting down'], level: 'info' },
  // A bug met in this call's handlers (see fault-boundary.ts): this call ends, the process goes on.
  internal_error: { close: [1011, 'internal error'], level: 'warn' },
});
