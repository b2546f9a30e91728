/**
 * The history's page cursor, as the API hands it out: `<startedAt>.<CallSid>` (ms since the epoch,
 * then the CallSid of the last call on the page), e.g. `1767225600000.CA0123…`. Both parts are
 * plain ASCII letters and digits, so the text is URL-safe as it is and cannot be ambiguous.
 * Clients should treat it as opaque.
 */
import { isCallSid } from '../twilio/call-sid.js';
import type { Cursor } from './store.js';

export function formatCursor(cursor: Cursor): string {
  return `${cursor.startedAt}.${cursor.callSid}`;
}

/** The cursor in `text`, or null when it is not one this API handed out. */
export function parseCursor(text: string): Cursor | null {
  const dot = text.indexOf('.');
  if (dot <= 0) return null;
  const time = text.slice(0, dot);
  const callSid = text.slice(dot + 1);
  if (!/^\d{1,15}$/.test(time) || !isCallSid(callSid)) return null;
  return { startedAt: Number(time), callSid };
}
