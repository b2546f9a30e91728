/**
 * When to replace a worker that exited unexpectedly: a pure decision on (state, now).
 *
 * The first exit in a while is replaced at once (one crash should cost its calls and nothing
 * more). Exits that follow within RESTART_WINDOW_MS wait longer each time, doubling from
 * RESTART_BASE_DELAY_MS up to RESTART_MAX_DELAY_MS, so a crash loop (a bad deploy, a dependency
 * that kills every worker at start) costs one fork every 30 s instead of spinning the CPU and the
 * log. The primary never gives up on its own once serving: the other workers still carry calls,
 * and a supervisor that restarts the whole service would cut them.
 *
 * The exception, decided by the primary: before any worker has ever listened, a worker's exit
 * means the service cannot start (a port in use, say); the primary then exits 1, as one process
 * would, rather than retrying forever with nothing served.
 */

/** Exits within this long of each other count as one crash loop, ms. @default 60_000 */
export const RESTART_WINDOW_MS = 60_000;
/** Delay before the second replacement in a window, doubled after each further exit, ms. @default 100 */
export const RESTART_BASE_DELAY_MS = 100;
/** The longest wait before a replacement, ms. @default 30_000 */
export const RESTART_MAX_DELAY_MS = 30_000;

export interface RestartState {
  /** Monotonic ms of recent exits, oldest first (at most ~20: more changes no delay). */
  readonly exits: readonly number[];
}

export const NO_EXITS: RestartState = { exits: [] };

/** Exits kept: enough for the delay to reach its cap (100 ms × 2^9 > 30 s). */
const KEPT_EXITS = 20;

export function onWorkerExit(state: RestartState, now: number): { state: RestartState; delayMs: number } {
  const recent = state.exits.filter((at) => now - at < RESTART_WINDOW_MS).slice(-(KEPT_EXITS - 1));
  const exits = [...recent, now];
  const earlier = recent.length;
  const delayMs = earlier === 0 ? 0 : Math.min(RESTART_MAX_DELAY_MS, RESTART_BASE_DELAY_MS * 2 ** (earlier - 1));
  return { state: { exits }, delayMs };
}
