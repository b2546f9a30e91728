import { describe, expect, it } from 'vitest';
import { NO_EXITS, onWorkerExit, RESTART_MAX_DELAY_MS, RESTART_WINDOW_MS, type RestartState } from '../../src/cluster/restart-policy.js';

function delays(times: readonly number[]): number[] {
  let state: RestartState = NO_EXITS;
  return times.map((t) => {
    const next = onWorkerExit(state, t);
    state = next.state;
    return next.delayMs;
  });
}

describe('restart policy', () => {
  it('replaces a lone crash at once, and paces a crash loop: doubling from 100 ms to at most 30 s', () => {
    const loop = Array.from({ length: 14 }, (_, i) => 1_000 + i * 10);
    expect(delays(loop)).toEqual([0, 100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 30_000, 30_000]);
  });

  it('forgets exits older than the window, so crashes an hour apart are each replaced at once', () => {
    expect(delays([0, RESTART_WINDOW_MS, 2 * RESTART_WINDOW_MS, 3 * RESTART_WINDOW_MS])).toEqual([0, 0, 0, 0]);
    expect(delays([0, RESTART_WINDOW_MS - 1])).toEqual([0, 100]);
  });

  it('keeps a bounded history however long the loop runs', () => {
    let state: RestartState = NO_EXITS;
    for (let t = 0; t < 10_000; t++) state = onWorkerExit(state, t).state;
    expect(state.exits.length).toBeLessThanOrEqual(20);
    expect(onWorkerExit(state, 10_000).delayMs).toBe(RESTART_MAX_DELAY_MS);
  });
});
