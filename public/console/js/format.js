// How the console writes times, durations and counts.

/** 83_400 ms → "1:23"; an hour or more → "1:02:03". */
export function duration(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A turn's offset from the call's start: "+0:07". */
export function offset(ms) {
  return `+${duration(ms)}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** ms since the epoch → local date and time. */
export function when(epochMs) {
  return dateTime.format(new Date(epochMs));
}

export function clock(epochMs) {
  return timeOnly.format(new Date(epochMs));
}

const integer = new Intl.NumberFormat();

export function count(n) {
  return integer.format(n);
}

/** Bytes of µ-law audio → "12.3 s" (8000 bytes a second). */
export function audioSeconds(bytes) {
  return `${(bytes / 8000).toFixed(1)} s`;
}

/** A number or client name, or a dash when none. */
export function party(value) {
  return value === null || value === undefined || value === '' ? '—' : value;
}

/** JSON text pretty-printed when it parses, else as it came. */
export function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** The session's end reasons (src/stream/end-reason.ts) in words; an unknown one as it is. */
const END_REASONS = {
  twilio_stop: 'the caller hung up',
  twilio_closed: 'the caller\'s stream closed',
  message_too_big: 'a message too big',
  start_timeout: 'no start in time',
  invalid_frames: 'too many invalid frames',
  bad_start: 'a start that did not match its token',
  media_too_fast: 'audio faster than real time',
  upstream_closed: 'the model\'s connection closed',
  upstream_error: 'the model\'s connection failed',
  session_expired: 'the model\'s session expired',
  ended_by_assistant: 'the assistant hung up',
  transferred: 'transferred',
  drain_timeout: 'the server shut down',
  internal_error: 'an internal error',
};

export function endReason(reason) {
  const words = Object.hasOwn(END_REASONS, reason) ? END_REASONS[reason] : null;
  return words ? `${words} (${reason})` : String(reason);
}
