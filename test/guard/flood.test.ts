import { describe, expect, it } from 'vitest';
import { countRequest, floodQuietAt } from '../../src/guard/flood.js';

const limits = { floodMax: 20, floodWindowMs: 5_000 };

function feed(times: readonly number[]): { flood: boolean[]; log: readonly number[] } {
  let log: readonly number[] | undefined;
  const flood = times.map((t) => {
    const r = countRequest(log, t, limits);
    log = r.nextState;
    return r.verdict.flood;
  });
  return { flood, log: log ?? [] };
}

describe('flood rule', () => {
  it('allows exactly floodMax requests in the window; the next one inside it is a flood', () => {
    const times = Array.from({ length: 21 }, (_, i) => 1_000 + i * 249); // 21 requests within 4.98 s
    const { flood } = feed(times);
    expect(flood.slice(0, 20).every((f) => !f)).toBe(true);
    expect(flood[20]).toBe(true);
  });

  it('window edge: the 21st request exactly floodWindowMs after the first is not a flood', () => {
    const times = [...Array.from({ length: 20 }, () => 1_000), 6_000];
    expect(feed(times).flood[20]).toBe(false);
  });

  it('window edge: one millisecond earlier it is', () => {
    const times = [...Array.from({ length: 20 }, () => 1_000), 5_999];
    expect(feed(times).flood[20]).toBe(true);
  });

  it('a steady rate just under the limit never floods and keeps the log bounded', () => {
    // 20 per 5 s = one every 250 ms, for ten minutes.
    const times = Array.from({ length: 2_400 }, (_, i) => i * 250);
    const { flood, log } = feed(times);
    expect(flood.some(Boolean)).toBe(false);
    expect(log.length).toBeLessThanOrEqual(20);
  });

  it('starts an empty log after a flood', () => {
    const times = Array.from({ length: 21 }, () => 0);
    const { log } = feed(times);
    expect(log).toEqual([]);
  });

  it('is quiet one window after the last request', () => {
    expect(floodQuietAt([100, 300, 200], limits)).toBe(5_300);
  });
});
