/**
 * Closing a WebSocket within a bound.
 *
 * `ws.close()` waits for the peer's close frame, up to ws's own 30 s timeout; a peer that never
 * answers would hold a call slot that long. We give it SOCKET_CLOSE_GRACE_MS, then terminate.
 */
import type { WebSocket } from 'ws';

/** How long a peer may take to answer our close frame, in ms. */
export const SOCKET_CLOSE_GRACE_MS = 1_000;

export function closeWithin(socket: WebSocket, code: number, reason: string, graceMs: number): void {
  if (socket.readyState === 3 /* CLOSED */) return;
  if (socket.readyState === 0 /* CONNECTING */) {
    // close() on a connecting socket aborts with an error event; terminate is the quiet form.
    socket.terminate();
    return;
  }
  if (socket.readyState === 1 /* OPEN */) socket.close(code, reason);
  const timer = setTimeout(() => socket.terminate(), graceMs);
  socket.once('close', () => clearTimeout(timer));
}
