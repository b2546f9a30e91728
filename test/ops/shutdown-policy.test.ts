import { describe, expect, it } from 'vitest';
import { exitCodeFor, onSignal, RUNNING, SIGNAL_ECHO_MS, type ShutdownState } from '../../src/ops/shutdown-policy.js';

describe('what a shutdown signal means', () => {
  it('the first SIGTERM or SIGINT starts the drain', () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { state, verdict } = onSignal(RUNNING, signal, 5_000);
      expect(verdict).toEqual({ action: 'drain' });
      expect(state).toEqual({ phase: 'stopping', signal, at: 5_000 });
    }
  });

  it('the same signal again within the echo window is ignored (npm forwarding what the group got)', () => {
    let state: ShutdownState = onSignal(RUNNING, 'SIGINT', 1_000).state;
    for (const at of [1_000, 1_003, 1_000 + SIGNAL_ECHO_MS - 1]) {
      const next = onSignal(state, 'SIGINT', at);
      expect(next.verdict).toEqual({ action: 'ignore', why: 'echo' });
      state = next.state;
    }
    // The window counts from the first signal: echoes do not extend it.
    expect(onSignal(state, 'SIGINT', 1_000 + SIGNAL_ECHO_MS).verdict).toEqual({ action: 'exit_now', code: 130 });
  });

  it('a second signal after the window, or a different one at any time, exits at once with 128 + n', () => {
    const term = onSignal(RUNNING, 'SIGTERM', 0).state;
    expect(onSignal(term, 'SIGTERM', SIGNAL_ECHO_MS + 1).verdict).toEqual({ action: 'exit_now', code: 143 });
    expect(onSignal(term, 'SIGINT', 1).verdict).toEqual({ action: 'exit_now', code: 130 });
    expect(exitCodeFor('SIGINT')).toBe(130);
    expect(exitCodeFor('SIGTERM')).toBe(143);
  });
});
