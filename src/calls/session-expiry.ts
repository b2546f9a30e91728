/**
 * A polite end before the Realtime session's maximum duration.
 *
 * The API ends a session at its `expires_at` (seconds since epoch, in session.created/updated)
 * with an `error` of code `session_expired`; the session then ends the stream and Twilio speaks
 * the apology after <Connect>. A minute before that, we ask the assistant to tell the caller and
 * say goodbye (and hang up with end_call when it has it), so the call rarely reaches the hard end.
 */
import type { RawData, WebSocket } from 'ws';
import type { Logger } from 'pino';
import { RESPONSE_CREATE } from '../stream/realtime-events.js';
import { parseServerEvent } from '../stream/realtime-validate.js';
import { rawBuffer } from '../stream/peer-input.js';
import type { Contain } from '../stream/fault-boundary.js';

/** How long before the session expires the assistant is asked to wrap up, in ms. */
export const WRAP_UP_LEAD_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Delay until the wrap-up, in ms (0 when already due); null when `expiresAt` is unusable. */
export function wrapUpDelayMs(expiresAtSeconds: unknown, nowMs: number, leadMs = WRAP_UP_LEAD_MS): number | null {
  if (typeof expiresAtSeconds !== 'number' || !Number.isFinite(expiresAtSeconds) || expiresAtSeconds <= 0) return null;
  const expiresAtMs = expiresAtSeconds * 1000;
  if (expiresAtMs <= nowMs) return null; // already over: the hard end is on its way
  const delay = Math.max(0, expiresAtMs - leadMs - nowMs);
  // setTimeout fires at once beyond 2^31-1 ms (~24.8 days); no real session lasts that long.
  return delay > MAX_TIMER_MS ? null : delay;
}

/** The system message that asks for the wrap-up. */
export function wrapUpItem(canHangUp: boolean): string {
  const text =
    'The phone call reaches its time limit in about one minute. Briefly tell the caller that the call has to end soon, ' +
    'wrap up, and say goodbye' +
    (canHangUp ? ', then call end_call.' : '.');
  return JSON.stringify({
    type: 'conversation.item.create',
    item: { type: 'message', role: 'system', content: [{ type: 'input_text', text }] },
  });
}

export interface ExpiryWatchOptions {
  readonly log: Logger;
  /** Wall clock, ms (expires_at is wall-clock time). */
  readonly now: () => number;
  /** Whether end_call is declared. */
  readonly canHangUp: boolean;
  /** The socket owner's fault boundary for the listener and the timer. @default none */
  readonly contain?: Contain;
}

/**
 * Watches `socket` for the session's expiry time and asks for the wrap-up once, WRAP_UP_LEAD_MS
 * before it. One timer per socket at most, cleared when the socket closes. The listener goes as
 * soon as the timer is armed: `expires_at` is fixed when the session is created, and the call's
 * audio (50 deltas a second) should not pass through a second listener for the rest of the call.
 */
const SESSION_CREATED = Buffer.from('"session.created"');
const SESSION_UPDATED = Buffer.from('"session.updated"');

export function watchSessionExpiry(socket: WebSocket, opts: ExpiryWatchOptions): void {
  let timer: NodeJS.Timeout | null = null;
  let done = false;
  const contain: Contain = opts.contain ?? ((fn) => fn);
  const onMessage = contain((data: RawData, isBinary: boolean) => {
    if (done) return;
    const raw = rawBuffer(data);
    // Every upstream message passes here, audio deltas included: a byte search is far cheaper
    // than parsing each one only to find it is not a session event.
    if (!raw.includes(SESSION_CREATED) && !raw.includes(SESSION_UPDATED)) return;
    // Invalid events are counted by the session that reads this socket, not a second time here.
    const verdict = parseServerEvent(raw, isBinary);
    if (!verdict.ok) return;
    const { event } = verdict;
    if (event.type !== 'session.created' && event.type !== 'session.updated') return;
    const delay = wrapUpDelayMs(event.session.expires_at, opts.now());
    if (delay === null) return;
    if (timer) clearTimeout(timer);
    socket.off('message', onMessage);
    timer = setTimeout(contain(() => {
      timer = null;
      done = true;
      if (socket.readyState !== 1 /* OPEN */) return;
      opts.log.info({ leadMs: WRAP_UP_LEAD_MS }, 'the Realtime session is about to reach its maximum duration; asking the assistant to wrap up');
      socket.send(wrapUpItem(opts.canHangUp));
      socket.send(RESPONSE_CREATE);
    }), delay);
  });
  socket.on('message', onMessage);
  socket.once('close', () => {
    done = true;
    if (timer) clearTimeout(timer);
    timer = null;
    socket.off('message', onMessage);
  });
}
