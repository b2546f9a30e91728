import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_MAX_FRAME_BYTES, FrameAggregator, type AggregationMode } from '../../src/stream/frame-aggregator.js';

const caller = readFileSync(new URL('../fixtures/caller-8k.ulaw', import.meta.url));

/** Bytes 0..n-1 (mod 256), distinct enough to catch reordering. */
function bytes(n: number, start = 0): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (start + i) % 256));
}

describe('FrameAggregator, exact mode', () => {
  it('emits nothing until a frame is full, then exactly 800 bytes', () => {
    const agg = new FrameAggregator({ mode: 'exact' });
    const input = bytes(1000);
    const frames: Buffer[] = [];
    for (let i = 0; i < 5; i++) frames.push(...agg.push(input.subarray(i * 160, (i + 1) * 160), i * 20));
    expect(frames).toHaveLength(1);
    expect(frames[0]).toEqual(input.subarray(0, 800));
    expect(agg.pendingBytes).toBe(0);
    expect(agg.deadline()).toBeNull();
  });

  it('holds a partial frame until windowMs after its first byte, then emits it', () => {
    const agg = new FrameAggregator({ mode: 'exact' });
    expect(agg.push(bytes(160), 1_000)).toEqual([]);
    expect(agg.push(bytes(160, 160), 1_020)).toEqual([]);
    expect(agg.deadline()).toBe(1_100);
    expect(agg.due(1_099)).toEqual([]);
    const [partial, ...rest] = agg.due(1_100);
    expect(rest).toEqual([]);
    expect(partial).toEqual(bytes(320));
    expect(agg.deadline()).toBeNull();
  });

  it('starts a new window with the next byte after a deadline emission', () => {
    const agg = new FrameAggregator({ mode: 'exact' });
    agg.push(bytes(10), 0);
    expect(agg.due(100)).toHaveLength(1);
    agg.push(bytes(10), 250);
    expect(agg.deadline()).toBe(350);
  });

  it('splits a large chunk into exact frames and keeps the remainder with the chunk\'s arrival time', () => {
    const agg = new FrameAggregator({ mode: 'exact' });
    const input = bytes(2_000);
    const frames = agg.push(input, 50);
    expect(frames.map((f) => f.length)).toEqual([800, 800]);
    expect(agg.pendingBytes).toBe(400);
    expect(agg.deadline()).toBe(150);
    expect(Buffer.concat([...frames, agg.flush() as Buffer])).toEqual(input);
  });

  it('emits an overdue partial on the next push instead of holding it longer', () => {
    const agg = new FrameAggregator({ mode: 'exact' });
    agg.push(bytes(300), 0);
    // The timer was late: the next chunk arrives at 150 ms, past the 100 ms deadline.
    const frames = agg.push(bytes(100, 300), 150);
    expect(frames).toEqual([bytes(400)]);
    expect(agg.pendingBytes).toBe(0);
  });

  it('uses an overdue partial to fill a frame when the new chunk completes it', () => {
    const agg = new FrameAggregator({ mode: 'exact' });
    agg.push(bytes(300), 0);
    const frames = agg.push(bytes(600, 300), 150);
    // 900 bytes: one full frame now; the 100 left arrived at 150, so they wait until 250.
    expect(frames).toEqual([bytes(800)]);
    expect(agg.deadline()).toBe(250);
  });

  it('ignores empty chunks (no window starts)', () => {
    const agg = new FrameAggregator({ mode: 'exact' });
    expect(agg.push(Buffer.alloc(0), 0)).toEqual([]);
    expect(agg.deadline()).toBeNull();
    expect(agg.flush()).toBeNull();
  });

  it('discard drops what is held and reports the byte count', () => {
    const agg = new FrameAggregator({ mode: 'exact' });
    agg.push(bytes(500), 0);
    expect(agg.discard()).toBe(500);
    expect(agg.pendingBytes).toBe(0);
    expect(agg.deadline()).toBeNull();
    expect(agg.discard()).toBe(0);
  });

  it('returns the pushed chunk itself, not a copy, when it is exactly one frame', () => {
    const agg = new FrameAggregator({ mode: 'exact' });
    const chunk = bytes(800);
    const [frame] = agg.push(chunk, 0);
    expect(frame?.buffer).toBe(chunk.buffer);
    expect(frame?.byteOffset).toBe(chunk.byteOffset);
  });

  it('reframes a real 20 ms Twilio stream into 100 ms frames, byte for byte', () => {
    const agg = new FrameAggregator({ mode: 'exact' });
    const frames: Buffer[] = [];
    for (let off = 0, t = 0; off < caller.length; off += 160, t += 20) {
      frames.push(...agg.push(caller.subarray(off, off + 160), t));
    }
    const last = agg.flush();
    if (last) frames.push(last);
    expect(Buffer.concat(frames)).toEqual(caller);
    expect(frames.slice(0, -1).every((f) => f.length === 800)).toBe(true);
    expect(frames).toHaveLength(Math.ceil(caller.length / 800));
  });

  it('rejects options that cannot work', () => {
    expect(() => new FrameAggregator({ mode: 'exact', frameBytes: 0 })).toThrow(RangeError);
    expect(() => new FrameAggregator({ mode: 'coalesce', frameBytes: 800, maxFrameBytes: 799 })).toThrow(RangeError);
    expect(() => new FrameAggregator({ mode: 'exact', windowMs: -1 })).toThrow(RangeError);
  });
});

describe('FrameAggregator, coalesce mode', () => {
  it('emits everything held as one frame once a frame\'s worth is held', () => {
    const agg = new FrameAggregator({ mode: 'coalesce' });
    expect(agg.push(bytes(500), 0)).toEqual([]);
    const frames = agg.push(bytes(2_000, 500), 5);
    expect(frames).toEqual([bytes(2_500)]);
    expect(agg.pendingBytes).toBe(0);
  });

  it('caps a coalesced frame at maxFrameBytes and holds a sub-frame remainder', () => {
    const agg = new FrameAggregator({ mode: 'coalesce' });
    expect(agg.maxFrameBytes).toBe(DEFAULT_MAX_FRAME_BYTES);
    const input = bytes(16_400);
    const frames = agg.push(input, 0);
    expect(frames.map((f) => f.length)).toEqual([8_000, 8_000]);
    expect(agg.pendingBytes).toBe(400);
    expect(agg.due(100)).toEqual([input.subarray(16_000)]);
  });

  it('emits a large remainder (>= frameBytes) right away', () => {
    const agg = new FrameAggregator({ mode: 'coalesce', maxFrameBytes: 1_000 });
    expect(agg.push(bytes(2_900), 0).map((f) => f.length)).toEqual([1_000, 1_000, 900]);
    expect(agg.pendingBytes).toBe(0);
  });

  it('sends slow model audio (slower than real time) at the window deadline', () => {
    const agg = new FrameAggregator({ mode: 'coalesce' });
    agg.push(bytes(240), 0);
    agg.push(bytes(240, 240), 60);
    expect(agg.due(99)).toEqual([]);
    expect(agg.due(100)).toEqual([bytes(480)]);
  });
});

/** A random schedule: chunks of 0–3000 bytes at non-decreasing times, with timer ticks between. */
type Step =
  | { readonly kind: 'push'; readonly size: number; readonly dt: number }
  | { readonly kind: 'tick'; readonly dt: number }
  | { readonly kind: 'deadline' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), size: fc.integer({ min: 0, max: 3_000 }), dt: fc.integer({ min: 0, max: 250 }) }),
  fc.record({ kind: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 250 }) }),
  fc.record({ kind: fc.constant('deadline' as const) }),
);

function run(mode: AggregationMode, steps: readonly Step[], maxFrameBytes?: number) {
  const agg = new FrameAggregator({ mode, maxFrameBytes });
  const inputs: Buffer[] = [];
  const frames: Buffer[] = [];
  let now = 0;
  let seq = 0;
  let overdue = 0;
  for (const s of steps) {
    if (s.kind === 'push') {
      now += s.dt;
      const chunk = bytes(s.size, seq);
      seq += chunk.length;
      inputs.push(chunk);
      frames.push(...agg.push(chunk, now));
    } else if (s.kind === 'tick') {
      now += s.dt;
      frames.push(...agg.due(now));
    } else {
      // What the pump does: wake exactly at the deadline.
      const d = agg.deadline();
      if (d !== null) {
        now = Math.max(now, d);
        frames.push(...agg.due(now));
      }
    }
    // No byte is held past its deadline after any call with `now`.
    const d = agg.deadline();
    if (d !== null && d <= now) overdue += 1;
    // The buffer itself never holds a whole frame between calls.
    if (agg.pendingBytes >= agg.frameBytes) overdue += 1000;
  }
  const last = agg.flush();
  return { inputs, frames, last, overdue, agg };
}

describe('FrameAggregator properties', () => {
  it('exact: output equals input, frames are exactly frameBytes except partials, nothing overdue', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const { inputs, frames, last, overdue, agg } = run('exact', steps);
        const out = last ? [...frames, last] : frames;
        expect(Buffer.concat(out)).toEqual(Buffer.concat(inputs));
        expect(overdue).toBe(0);
        expect(out.every((f) => f.length > 0 && f.length <= agg.frameBytes)).toBe(true);
        // A short frame is only ever a deadline partial or the final flush.
        expect(agg.pendingBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('exact: without timer ticks, every frame but the final flush is exactly frameBytes', () => {
    const pushOnly = fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 40 });
    fc.assert(
      fc.property(pushOnly, (sizes) => {
        const agg = new FrameAggregator({ mode: 'exact' });
        const inputs = sizes.map((n, i) => bytes(n, i));
        // All at the same instant, so no deadline passes.
        const frames = inputs.flatMap((c) => agg.push(c, 0));
        const last = agg.flush();
        expect(frames.every((f) => f.length === 800)).toBe(true);
        expect(Buffer.concat(last ? [...frames, last] : frames)).toEqual(Buffer.concat(inputs));
      }),
    );
  });

  it('coalesce: output equals input, frames never exceed maxFrameBytes, nothing overdue', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.integer({ min: 800, max: 5_000 }), (steps, max) => {
        const { inputs, frames, last, overdue } = run('coalesce', steps, max);
        const out = last ? [...frames, last] : frames;
        expect(Buffer.concat(out)).toEqual(Buffer.concat(inputs));
        expect(overdue).toBe(0);
        expect(out.every((f) => f.length > 0 && f.length <= max)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
