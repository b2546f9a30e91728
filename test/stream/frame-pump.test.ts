import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FrameAggregator } from '../../src/stream/frame-aggregator.js';
import { FramePump } from '../../src/stream/frame-pump.js';

const caller = readFileSync(new URL('../fixtures/caller-8k.ulaw', import.meta.url));

function bytes(n: number, start = 0): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (start + i) % 256));
}

describe('FramePump with fake timers', () => {
  let frames: Buffer[];
  let pump: FramePump;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    frames = [];
    pump = new FramePump({ aggregator: new FrameAggregator({ mode: 'exact' }), onFrame: (f) => frames.push(f) });
  });

  afterEach(() => {
    pump.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('runs no timer while empty, nor after a push that leaves nothing held', () => {
    expect(vi.getTimerCount()).toBe(0);
    pump.push(bytes(800));
    expect(frames).toEqual([bytes(800)]);
    expect(vi.getTimerCount()).toBe(0);
    pump.push(Buffer.alloc(0));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('delivers a partial frame exactly windowMs after its first byte, then disarms', () => {
    pump.push(bytes(160));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(20);
    pump.push(bytes(160, 160));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(79);
    expect(frames).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(frames).toEqual([bytes(320)]);
    expect(vi.getTimerCount()).toBe(0);
    expect(pump.timerArmed).toBe(false);
  });

  it('re-arms for the remainder of a split chunk at that chunk\'s deadline', () => {
    pump.push(bytes(700));
    vi.advanceTimersByTime(50);
    pump.push(bytes(200, 700));
    expect(frames).toEqual([bytes(800)]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(99);
    expect(frames).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(frames).toEqual([bytes(800), bytes(100, 800)]);
  });

  it('flush delivers the remainder at once and clears the timer', () => {
    pump.push(bytes(300));
    pump.flush();
    expect(frames).toEqual([bytes(300)]);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(frames).toHaveLength(1);
  });

  it('discard drops what is held, reports the bytes and clears the timer', () => {
    pump.push(bytes(500));
    expect(pump.discard()).toBe(500);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(frames).toEqual([]);
  });

  it('close leaves no timer and makes later pushes no-ops', () => {
    pump.push(bytes(300));
    expect(pump.close()).toBe(300);
    expect(vi.getTimerCount()).toBe(0);
    pump.push(bytes(2_000));
    pump.flush();
    vi.advanceTimersByTime(1_000);
    expect(frames).toEqual([]);
    expect(pump.isClosed).toBe(true);
  });

  it('forwards a real 20 ms Twilio stream byte for byte in 100 ms frames, one timer at most', () => {
    let maxTimers = 0;
    for (let off = 0; off < caller.length; off += 160) {
      pump.push(caller.subarray(off, off + 160));
      maxTimers = Math.max(maxTimers, vi.getTimerCount());
      vi.advanceTimersByTime(20);
    }
    vi.advanceTimersByTime(100);
    expect(Buffer.concat(frames)).toEqual(caller);
    expect(frames.slice(0, -1).every((f) => f.length === 800)).toBe(true);
    expect(maxTimers).toBe(1);
  });
});

describe('FramePump with an injected clock and timer', () => {
  /** A manual scheduler: records armed timers so a test can fire them at will. */
  function manual() {
    const clock = { t: 0 };
    const timers = new Map<number, { fn: () => void; at: number }>();
    let nextId = 1;
    return {
      clock,
      timers,
      now: () => clock.t,
      setTimer: (fn: () => void, ms: number) => {
        const id = nextId++;
        timers.set(id, { fn, at: clock.t + ms });
        return id;
      },
      clearTimer: (h: unknown) => void timers.delete(h as number),
      fire() {
        const [id, timer] = [...timers.entries()][0] ?? [];
        if (id === undefined || timer === undefined) throw new Error('no timer armed');
        timers.delete(id);
        timer.fn();
      },
    };
  }

  it('re-arms when the timer fires before the clock reaches the deadline', () => {
    const m = manual();
    const frames: Buffer[] = [];
    const pump = new FramePump({ aggregator: new FrameAggregator({ mode: 'exact' }), onFrame: (f) => frames.push(f), ...m });
    pump.push(bytes(10));
    expect([...m.timers.values()].map((t) => t.at)).toEqual([100]);
    m.clock.t = 90; // the timer fired early relative to this clock
    m.fire();
    expect(frames).toEqual([]);
    expect([...m.timers.values()].map((t) => t.at)).toEqual([100]);
    m.clock.t = 100;
    m.fire();
    expect(frames).toEqual([bytes(10)]);
    expect(m.timers.size).toBe(0);
  });

  it('keeps frames in order when onFrame pushes more audio re-entrantly', () => {
    const m = manual();
    const frames: Buffer[] = [];
    let once = true;
    const pump: FramePump = new FramePump({
      aggregator: new FrameAggregator({ mode: 'exact', frameBytes: 4 }),
      onFrame: (f) => {
        frames.push(f);
        if (once) {
          once = false;
          pump.push(bytes(4, 8));
        }
      },
      ...m,
    });
    pump.push(bytes(8));
    expect(Buffer.concat(frames)).toEqual(bytes(12));
    expect(frames.map((f) => f.length)).toEqual([4, 4, 4]);
    pump.close();
  });

  it('drops undelivered frames when onFrame discards (barge-in mid-batch) and counts them', () => {
    const m = manual();
    const frames: Buffer[] = [];
    let dropped = -1;
    const pump: FramePump = new FramePump({
      aggregator: new FrameAggregator({ mode: 'exact', frameBytes: 4 }),
      onFrame: (f) => {
        frames.push(f);
        dropped = pump.discard();
      },
      ...m,
    });
    pump.push(bytes(14));
    expect(frames).toEqual([bytes(4)]);
    expect(dropped).toBe(10);
    expect(m.timers.size).toBe(0);
  });
});

describe('FramePump perTurn (coalesce across one I/O turn)', () => {
  it('sends a burst of small deltas as one capped frame per turn, in order', async () => {
    const { FrameAggregator } = await import('../../src/stream/frame-aggregator.js');
    const { FramePump } = await import('../../src/stream/frame-pump.js');
    const frames: Buffer[] = [];
    const pump = new FramePump({
      aggregator: new FrameAggregator({ mode: 'coalesce', frameBytes: 800, windowMs: 100, maxFrameBytes: 8000 }),
      onFrame: (f) => frames.push(f),
      perTurn: true,
    });
    const input = Buffer.from(Array.from({ length: 302 * 160 }, (_, i) => i % 251));
    for (let i = 0; i < input.length; i += 160) pump.push(input.subarray(i, i + 160));
    expect(frames).toHaveLength(0); // nothing leaves until the turn ends
    await new Promise((r) => setImmediate(r));
    expect(frames.map((f) => f.length)).toEqual([8000, 8000, 8000, 8000, 8000, 8000]);
    // The 320-byte tail is a partial frame: it waits for its deadline (or a flush).
    expect(pump.timerArmed).toBe(true);
    pump.flush();
    expect(frames.map((f) => f.length).at(-1)).toBe(320);
    expect(Buffer.concat(frames).equals(input)).toBe(true);
    expect(pump.timerArmed).toBe(false);
    pump.close();
  });

  it('discard cancels the pending turn', async () => {
    const { FrameAggregator } = await import('../../src/stream/frame-aggregator.js');
    const { FramePump } = await import('../../src/stream/frame-pump.js');
    const frames: Buffer[] = [];
    const pump = new FramePump({
      aggregator: new FrameAggregator({ mode: 'coalesce', frameBytes: 800, windowMs: 100 }),
      onFrame: (f) => frames.push(f),
      perTurn: true,
    });
    pump.push(Buffer.alloc(1600, 1));
    expect(pump.discard()).toBe(1600);
    await new Promise((r) => setImmediate(r));
    expect(frames).toEqual([]);
    expect(pump.timerArmed).toBe(false);
  });
});
