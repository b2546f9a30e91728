/**
 * What a SIGTERM/SIGINT means right now: a pure decision on (state, signal, now).
 *
 * The first signal starts the drain. A second one means "stop now" (an operator pressing Ctrl-C
 * twice, or an orchestrator giving up), so the process exits at once with 128 + the signal
 * number, the shell convention (130 for SIGINT, 143 for SIGTERM).
 *
 * One exception: the *same* signal again within SIGNAL_ECHO_MS of the first is an echo, not a
 * second request. Under `npm start`, Ctrl-C or `kill -TERM -<pgid>` (systemd's KillMode=mixed
 * aside) signals the whole process group, so node gets the signal directly AND npm, which
 * forwards what it receives to its child: node sees it twice within a few milliseconds. Treating
 * that echo as "exit now" would cut every live call on an ordinary restart.
 */
import { constants } from 'node:os';

/** Window in ms in which a repeat of the first signal counts as its echo. @default 1000 */
export const SIGNAL_ECHO_MS = 1_000;

export type ShutdownSignal = 'SIGTERM' | 'SIGINT';

export type ShutdownState =
  | { readonly phase: 'running' }
  | { readonly phase: 'stopping'; readonly signal: ShutdownSignal; readonly at: number };

export type SignalVerdict =
  | { readonly action: 'drain' }
  | { readonly action: 'ignore'; readonly why: 'echo' }
  | { readonly action: 'exit_now'; readonly code: number };

export const RUNNING: ShutdownState = { phase: 'running' };

/** `now` in ms from any monotonic clock. */
export function onSignal(
  state: ShutdownState,
  signal: ShutdownSignal,
  now: number,
): { state: ShutdownState; verdict: SignalVerdict } {
  if (state.phase === 'running') {
    return { state: { phase: 'stopping', signal, at: now }, verdict: { action: 'drain' } };
  }
  if (signal === state.signal && now - state.at < SIGNAL_ECHO_MS) {
    return { state, verdict: { action: 'ignore', why: 'echo' } };
  }
  return { state, verdict: { action: 'exit_now', code: exitCodeFor(signal) } };
}

/** 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM. */
export function exitCodeFor(signal: ShutdownSignal): number {
  return 128 + constants.signals[signal];
}
