import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MediaPacer } from '../../src/stream/media-pacer.js';

const FRAME = 160; // 20 ms of µ-law

describe('MediaPacer', () => {
  it('admits real-time audio forever', () => {
    const pacer = new MediaPacer(0, 1000);
    for (let i = 1; i <= 50 * 600; i += 1) expect(pacer.admit(FRAME, i * 20)).toBe(true); // 10 minutes
  });

  it('admits a burst up to the allowance, then only what real time refills', () => {
    const pacer = new MediaPacer(0, 1000); // 1 s = 8000 bytes ahead
    let admitted = 0;
    for (let i = 0; i < 100; i += 1) if (pacer.admit(FRAME, 0)) admitted += FRAME;
    expect(admitted).toBe(8000);
    expect(pacer.admit(FRAME, 10)).toBe(false); // 10 ms refills 80 bytes: not a frame
    expect(pacer.admit(FRAME, 20)).toBe(true); // 20 ms refills one frame
    expect(pacer.admit(FRAME, 20)).toBe(false);
  });

  it('refills no more than the allowance after a silence', () => {
    const pacer = new MediaPacer(0, 1000);
    let admitted = 0;
    for (let i = 0; i < 200; i += 1) if (pacer.admit(FRAME, 60_000)) admitted += FRAME;
    expect(admitted).toBe(8000);
  });

  it('a clock that steps back refunds nothing', () => {
    const pacer = new MediaPacer(1000, 20); // one frame ahead at most
    expect(pacer.admit(FRAME, 1000)).toBe(true);
    expect(pacer.admit(FRAME, 1020)).toBe(true);
    expect(pacer.admit(FRAME, 500)).toBe(false);
    expect(pacer.admit(FRAME, 1040)).toBe(true);
  });

  it('never admits more than real time plus the allowance (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gapMs: fc.nat(200), bytes: fc.integer({ min: 1, max: 4000 }) }), { maxLength: 300 }),
        fc.integer({ min: 0, max: 5000 }),
        (arrivals, burstMs) => {
          const pacer = new MediaPacer(0, burstMs);
          let now = 0;
          let admitted = 0;
          for (const { gapMs, bytes } of arrivals) {
            now += gapMs;
            if (pacer.admit(bytes, now)) admitted += bytes;
            expect(admitted).toBeLessThanOrEqual((now + burstMs) * 8);
          }
        },
      ),
    );
  });
});
