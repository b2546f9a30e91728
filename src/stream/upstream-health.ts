/**
 * Is the Realtime API reachable? A small circuit breaker over upstream connection attempts.
 *
 * After FAILURE_THRESHOLD failed connects in a row the upstream counts as down: webhooks then
 * answer with spoken "not available" TwiML instead of opening streams that would only end in an
 * apology, which also spares the upstream a burst of doomed handshakes. Every RETRY_AFTER_MS one
 * call is let through to try again (half-open); the first successful connect closes the breaker.
 *
 * The breaker is pure (time passed in); `watchConnect` is the thin shell that feeds it.
 */
import type { WebSocket } from 'ws';

/** Failed connects in a row that mark the upstream down. @default 3 */
export const FAILURE_THRESHOLD = 3;
/** How long new calls are refused before one is let through to try again, in ms. @default 15 000 */
export const RETRY_AFTER_MS = 15_000;

export class UpstreamHealth {
  #failures = 0;
  /** When the breaker last opened (or re-opened after a failed trial), ms; null while up. */
  #downAt: number | null = null;

  constructor(
    private readonly threshold = FAILURE_THRESHOLD,
    private readonly retryAfterMs = RETRY_AFTER_MS,
  ) {}

  onSuccess(): void {
    this.#failures = 0;
    this.#downAt = null;
  }

  onFailure(now: number): void {
    this.#failures += 1;
    if (this.#failures >= this.threshold) this.#downAt = now;
  }

  /** Down, and not yet time for a trial call. */
  isDown(now: number): boolean {
    return this.#downAt !== null && now - this.#downAt < this.retryAfterMs;
  }

  /** Down as far as readiness reporting goes (including while a trial is due). */
  get down(): boolean {
    return this.#downAt !== null;
  }
}

/** ws's message when WE abort a connecting socket (the call ended first): not the upstream's fault. */
const ABORTED_BY_US = 'WebSocket was closed before the connection was established';

/**
 * Reports how one connection attempt ends: open → success; an error before open (refused,
 * unreachable, non-101 answer, handshake timeout) → failure. An attempt we abort ourselves (the
 * caller hung up during the handshake) counts as neither.
 */
export function watchConnect(socket: WebSocket, health: UpstreamHealth, now: () => number): WebSocket {
  let settled = false;
  socket.once('open', () => {
    if (settled) return;
    settled = true;
    health.onSuccess();
  });
  socket.once('error', (err: Error) => {
    if (settled) return;
    settled = true;
    if (err.message !== ABORTED_BY_US) health.onFailure(now());
  });
  return socket;
}
