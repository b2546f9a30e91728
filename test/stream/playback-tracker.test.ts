import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MARK_INTERVAL_MS, MAX_OUTSTANDING_MARKS, PlaybackTracker } from '../../src/stream/playback-tracker.js';

/** 8 bytes of µ-law per ms. */
const B = (ms: number) => ms * 8;

describe('PlaybackTracker: estimates', () => {
  it('knows nothing before audio is sent, and nothing after reset', () => {
    const t = new PlaybackTracker();
    expect(t.heard(1_000)).toBeNull();
    t.onAudioSent('item_A', B(100), 0);
    expect(t.heard(50)).not.toBeNull();
    t.reset();
    expect(t.heard(60)).toBeNull();
  });

  it('extrapolates in real time from the first frame, clamped to what was sent (real-time sender)', () => {
    const t = new PlaybackTracker();
    for (let i = 0; i < 10; i++) t.onAudioSent('item_A', B(100), 1_000 + i * 100);
    expect(t.heard(1_000)).toEqual({ itemId: 'item_A', audioEndMs: 0, unheardItemIds: [] });
    expect(t.heard(1_350)?.audioEndMs).toBe(350);
    expect(t.heard(1_999)?.audioEndMs).toBe(999);
    expect(t.heard(5_000)?.audioEndMs).toBe(1_000);
    expect(t.heard(500)?.audioEndMs).toBe(0); // a clock before the first frame never goes negative
  });

  it('accounts for gaps when the model is slower than real time', () => {
    const t = new PlaybackTracker();
    t.onAudioSent('item_A', B(100), 0); // plays 0–100
    expect(t.heard(250)?.audioEndMs).toBe(100);
    t.onAudioSent('item_A', B(100), 300); // the queue ran dry at 100; this plays 300–400
    expect(t.heard(300)?.audioEndMs).toBe(100);
    expect(t.heard(350)?.audioEndMs).toBe(150);
  });

  it('queues audio sent faster than real time', () => {
    const t = new PlaybackTracker();
    for (let i = 0; i < 5; i++) t.onAudioSent('item_A', B(1_000), i); // 5 s sent in 5 ms
    expect(t.heard(1_234)?.audioEndMs).toBe(1_234);
    expect(t.heard(9_000)?.audioEndMs).toBe(5_000);
  });

  it('re-anchors on a mark echo: barge-in lands within 100 ms of what was played', () => {
    // Twilio starts playing 80 ms after we send; its echo takes 30 ms to reach us.
    const startLag = 80;
    const echoLag = 30;
    const t = new PlaybackTracker({ markIntervalMs: 2_000 });
    const marks: { name: string; atMs: number }[] = [];
    let sent = 0;
    for (let i = 0; i < 5; i++) {
      const r = t.onAudioSent('item_A', B(1_000), 0);
      sent += 1_000;
      if (r.mark) marks.push({ name: r.mark, atMs: sent });
    }
    expect(marks.map((m) => m.atMs)).toEqual([2_000, 4_000]);
    // Before the echo the estimate runs ahead by the start lag.
    expect(t.heard(1_500)?.audioEndMs).toBe(1_500);
    expect(Math.abs(1_500 - (1_500 - startLag))).toBeLessThanOrEqual(100);
    // The 2 s mark plays at 2080 and reaches us at 2110.
    expect(t.onMarkEchoed(marks[0]!.name, 2_000 + startLag + echoLag)).toBe(true);
    const bargeAt = 3_000;
    const truth = bargeAt - startLag; // 2920 ms played
    const est = t.heard(bargeAt)!.audioEndMs;
    expect(est).toBe(2_890);
    expect(Math.abs(est - truth)).toBeLessThanOrEqual(100);
  });

  it('corrects a large send-to-play lag (a congested socket) with the first echo', () => {
    // Frames sit 1 s in socket buffers before Twilio gets them; echoes take 30 ms.
    const t = new PlaybackTracker({ markIntervalMs: 2_000 });
    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = t.onAudioSent('item_A', B(1_000), 0);
      if (r.mark) names.push(r.mark);
    }
    expect(t.heard(2_500)?.audioEndMs).toBe(2_500); // truth 1500: off by the lag until an echo
    t.onMarkEchoed(names[0]!, 3_030); // the 2 s mark played at 3000
    const est = t.heard(4_500)!.audioEndMs;
    expect(est).toBe(3_470);
    expect(Math.abs(est - 3_500)).toBeLessThanOrEqual(100);
  });

  it('a new item starts a new offset; the item still playing is the one reported', () => {
    const t = new PlaybackTracker();
    t.onAudioSent('item_A', B(1_000), 0); // plays 0–1000
    t.onAudioSent('item_B', B(2_000), 200); // queued behind A: plays 1000–3000
    expect(t.heard(500)).toEqual({ itemId: 'item_A', audioEndMs: 500, unheardItemIds: ['item_B'] });
    expect(t.heard(1_000)).toEqual({ itemId: 'item_B', audioEndMs: 0, unheardItemIds: [] });
    expect(t.heard(1_500)).toEqual({ itemId: 'item_B', audioEndMs: 500, unheardItemIds: [] });
    expect(t.heard(9_000)).toEqual({ itemId: 'item_B', audioEndMs: 2_000, unheardItemIds: [] });
  });

  it('reports the last item fully heard once everything has played', () => {
    const t = new PlaybackTracker();
    t.onAudioSent('item_A', B(300), 0);
    expect(t.heard(10_000)).toEqual({ itemId: 'item_A', audioEndMs: 300, unheardItemIds: [] });
  });

  it('after reset, offsets start again from zero for the next item', () => {
    const t = new PlaybackTracker();
    t.onAudioSent('item_A', B(3_000), 0);
    t.reset();
    t.onAudioSent('item_C', B(1_000), 5_000);
    expect(t.heard(5_400)).toEqual({ itemId: 'item_C', audioEndMs: 400, unheardItemIds: [] });
  });
});

describe('PlaybackTracker: marks', () => {
  it('asks for a mark every MARK_INTERVAL_MS of audio, not per frame, and one at the end of a response', () => {
    // ≤ 1 mark per 2 s keeps Twilio's message rate near 10/s; the tracker needs no more (see below).
    expect(MARK_INTERVAL_MS).toBeGreaterThanOrEqual(2_000);
    const perMark = MARK_INTERVAL_MS / 100;
    const t = new PlaybackTracker();
    const marks: (string | undefined)[] = [];
    for (let i = 0; i < perMark * 1.5; i++) marks.push(t.onAudioSent('item_A', B(100), i * 100).mark);
    expect(marks.filter(Boolean)).toEqual(['vb-1']);
    expect(marks.findIndex(Boolean)).toBe(perMark - 1); // after the frame that completes MARK_INTERVAL_MS
    expect(t.onResponseDone()).toBe('vb-2');
    expect(t.onResponseDone()).toBeNull(); // nothing sent since that mark
    expect(t.outstandingMarks).toBe(2);
  });

  it('ignores unknown and stale mark names without changing the estimate', () => {
    const t = new PlaybackTracker();
    t.onAudioSent('item_A', B(2_000), 0);
    const before = t.heard(1_000);
    expect(t.onMarkEchoed('not-ours', 1_000)).toBe(false);
    expect(t.heard(1_000)).toEqual(before);
    const name = t.onResponseDone()!;
    t.reset(); // e.g. after clear: Twilio now echoes every outstanding mark at once
    t.onAudioSent('item_B', B(1_000), 1_000);
    expect(t.onMarkEchoed(name, 1_001)).toBe(false);
    expect(t.heard(1_500)).toEqual({ itemId: 'item_B', audioEndMs: 500, unheardItemIds: [] });
  });

  it('an echo also settles every earlier mark; a repeated echo is ignored', () => {
    const t = new PlaybackTracker({ markIntervalMs: 100 });
    const names = [0, 1, 2].map((i) => t.onAudioSent('item_A', B(100), i).mark!);
    expect(t.outstandingMarks).toBe(3);
    expect(t.onMarkEchoed(names[1]!, 250)).toBe(true);
    expect(t.outstandingMarks).toBe(1);
    expect(t.onMarkEchoed(names[0]!, 260)).toBe(false);
    // At 250 the 200 ms mark has played and 100 ms remain queued.
    expect(t.heard(250)?.audioEndMs).toBe(200);
    expect(t.heard(300)?.audioEndMs).toBe(250);
  });

  it('the end-of-response mark pins the item as fully heard', () => {
    const t = new PlaybackTracker();
    t.onAudioSent('item_A', B(1_500), 0);
    const end = t.onResponseDone()!;
    expect(t.onMarkEchoed(end, 1_700)).toBe(true);
    expect(t.heard(1_700)?.audioEndMs).toBe(1_500);
  });

  it('playedAll: only once Twilio echoes a mark that follows every byte sent', () => {
    const t = new PlaybackTracker({ markIntervalMs: 1_000 });
    expect(t.playedAll()).toBe(false); // nothing sent
    const interim = t.onAudioSent('item_A', B(1_000), 0).mark!;
    t.onAudioSent('item_A', B(500), 0);
    expect(t.heard(5_000)?.audioEndMs).toBe(1_500); // the estimate says all played…
    expect(t.playedAll()).toBe(false); // …but only an echo confirms it
    expect(t.onMarkEchoed(interim, 1_000)).toBe(true);
    expect(t.playedAll()).toBe(false); // 500 ms sent after that mark
    const end = t.onResponseDone()!;
    expect(t.onMarkEchoed(end, 1_500)).toBe(true);
    expect(t.playedAll()).toBe(true);
    t.onAudioSent('item_B', B(100), 2_000);
    expect(t.playedAll()).toBe(false);
    t.reset();
    expect(t.playedAll()).toBe(false);
  });

  it('keeps at most maxOutstandingMarks, dropping the oldest', () => {
    expect(MAX_OUTSTANDING_MARKS).toBeGreaterThan(0);
    const t = new PlaybackTracker({ markIntervalMs: 10, maxOutstandingMarks: 2 });
    const names = [0, 1, 2].map((i) => t.onAudioSent('item_A', B(10), i).mark!);
    expect(t.outstandingMarks).toBe(2);
    expect(t.onMarkEchoed(names[0]!, 100)).toBe(false);
    expect(t.onMarkEchoed(names[2]!, 100)).toBe(true);
  });

  it('ignores empty frames', () => {
    const t = new PlaybackTracker();
    expect(t.onAudioSent('item_A', 0, 0)).toEqual({});
    expect(t.heard(10)).toBeNull();
  });
});

type Op =
  | { readonly kind: 'send'; readonly item: number; readonly ms: number; readonly dt: number }
  | { readonly kind: 'echo'; readonly pick: number; readonly dt: number }
  | { readonly kind: 'unknown'; readonly dt: number }
  | { readonly kind: 'done' }
  | { readonly kind: 'query'; readonly dt: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), item: fc.integer({ min: 0, max: 2 }), ms: fc.integer({ min: 1, max: 1_500 }), dt: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('echo' as const), pick: fc.nat(), dt: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknown' as const), dt: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('done' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('query' as const), dt: fc.integer({ min: 0, max: 400 }) }) },
);

describe('PlaybackTracker properties', () => {
  it('0 <= audioEndMs <= ms sent for the item, always; non-decreasing per item between echoes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.integer({ min: 100, max: 3_000 }), (ops, interval) => {
        const t = new PlaybackTracker({ markIntervalMs: interval });
        const sentByItem = new Map<string, number>();
        const outstanding: string[] = [];
        let now = 0;
        let itemSeq = 0;
        let current = -1;
        let last: { itemId: string; audioEndMs: number } | null = null;
        for (const o of ops) {
          if (o.kind === 'send') {
            now += o.dt;
            // Items are contiguous: switching to a "different" item index makes a fresh id.
            if (o.item !== current) {
              current = o.item;
              itemSeq += 1;
            }
            const id = `item_${itemSeq}`;
            sentByItem.set(id, (sentByItem.get(id) ?? 0) + o.ms);
            const r = t.onAudioSent(id, B(o.ms), now);
            if (r.mark) outstanding.push(r.mark);
          } else if (o.kind === 'echo') {
            now += o.dt;
            const name = outstanding[o.pick % Math.max(1, outstanding.length)];
            if (name !== undefined) {
              t.onMarkEchoed(name, now);
              last = null; // an echo may lower the estimate
            }
          } else if (o.kind === 'unknown') {
            now += o.dt;
            expect(t.onMarkEchoed(`x-${now}`, now)).toBe(false);
          } else if (o.kind === 'done') {
            const m = t.onResponseDone();
            if (m) outstanding.push(m);
          } else {
            now += o.dt;
          }
          const h = t.heard(now);
          if (h === null) {
            expect(sentByItem.size).toBe(0);
            continue;
          }
          expect(Number.isInteger(h.audioEndMs)).toBe(true);
          expect(h.audioEndMs).toBeGreaterThanOrEqual(0);
          expect(h.audioEndMs).toBeLessThanOrEqual(sentByItem.get(h.itemId) ?? -1);
          if (last && last.itemId === h.itemId) expect(h.audioEndMs).toBeGreaterThanOrEqual(last.audioEndMs);
          last = { itemId: h.itemId, audioEndMs: h.audioEndMs };
        }
      }),
      { numRuns: 400 },
    );
  });

  it('tracks a simulated Twilio within the network lag (< 100 ms) at any barge-in time, with any mark interval', () => {
    const frame = fc.record({ ms: fc.integer({ min: 20, max: 1_000 }), gap: fc.integer({ min: 0, max: 1_200 }) });
    fc.assert(
      fc.property(
        fc.array(frame, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 90 }), // send → start of playback
        fc.integer({ min: 0, max: 90 }), // playback of a mark → its echo reaching us
        fc.integer({ min: 0, max: 40_000 }),
        fc.constantFrom(500, 2_000, MARK_INTERVAL_MS),
        (frames, startLag, echoLag, bargeOffset, markIntervalMs) => {
          const t = new PlaybackTracker({ markIntervalMs });
          // Simulated Twilio: frames play in order at real time, each no earlier than its arrival.
          const played: { start: number; ms: number }[] = [];
          const echoes: { at: number; name: string }[] = [];
          let twilioEnd = -Infinity;
          let now = 0;
          const deliverEchoes = (until: number) => {
            echoes.sort((a, b) => a.at - b.at);
            while (echoes.length > 0 && echoes[0]!.at <= until) {
              const e = echoes.shift()!;
              t.onMarkEchoed(e.name, e.at);
            }
          };
          for (const f of frames) {
            now += f.gap;
            deliverEchoes(now);
            const start = Math.max(now + startLag, twilioEnd);
            twilioEnd = start + f.ms;
            played.push({ start, ms: f.ms });
            const r = t.onAudioSent('item_A', B(f.ms), now);
            if (r.mark) echoes.push({ at: twilioEnd + echoLag, name: r.mark });
          }
          const barge = now + bargeOffset;
          deliverEchoes(barge);
          const truth = played.reduce((sum, p) => sum + Math.min(p.ms, Math.max(0, barge - p.start)), 0);
          const est = t.heard(barge)!.audioEndMs;
          expect(Math.abs(est - truth)).toBeLessThanOrEqual(Math.max(startLag, echoLag) + 1);
        },
      ),
      { numRuns: 400 },
    );
  });
});
