/**
 * Every audio byte is accounted for, each way, whatever ends the call (issue: up to 100 ms of
 * caller audio used to vanish at `stop`). Real calls over real sockets with random audio, random
 * barge-ins, a slow or fast upstream handshake and each way a call can end; the bridge's own
 * per-call figures (the `call ended` log line) must balance, and match what the peers received.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startBridge, type Bridge } from '../helpers/bridge.js';
import { until } from '../helpers/until.js';
import type { CallStats } from '../../src/stream/session.js';
import { MEDIA_BURST_MS, MEDIA_TOO_FAST_CLOSE_MS } from '../../src/stream/media-pacer.js';

type End = 'stop' | 'twilio_close' | 'twilio_drop' | 'upstream_close' | 'upstream_drop';

let fast: Bridge;
let slow: Bridge;
beforeAll(async () => {
  fast = await startBridge();
  // The upstream handshake takes 300 ms: caller audio is held meanwhile (and at a stop before it).
  slow = await startBridge({}, { realtime: { handshakeDelayMs: 300 } });
});
afterAll(async () => {
  await fast?.close();
  await slow?.close();
});

function endedStats(bridge: Bridge, callSid: string): CallStats | undefined {
  const line = bridge.logs.records().find((r) => r.msg === 'call ended' && r.callSid === callSid);
  return line?.stats as CallStats | undefined;
}

async function waitForEnd(bridge: Bridge, callSid: string): Promise<CallStats> {
  await until(() => endedStats(bridge, callSid) !== undefined, 20_000, `the end of ${callSid}`);
  return endedStats(bridge, callSid)!;
}

function balance(stats: CallStats): void {
  expect(stats.callerAudioBytesIn).toBe(stats.bytesToUpstream + stats.droppedToUpstream.bytes + stats.discardedToUpstream);
  expect(stats.modelAudioBytesIn).toBe(stats.bytesToTwilio + stats.droppedToTwilio.bytes + stats.discardedToTwilio);
}

const scenario = fc.record({
  slowUpstream: fc.boolean(),
  callerChunks: fc.array(fc.oneof(fc.constant(160), fc.integer({ min: 1, max: 480 })), { maxLength: 60 }),
  callerGapMs: fc.constantFrom(0, 5),
  modelChunks: fc.array(fc.integer({ min: 1, max: 4000 }), { maxLength: 12 }),
  bargeInAfter: fc.option(fc.nat(12), { nil: null }),
  end: fc.constantFrom<End>('stop', 'twilio_close', 'twilio_drop', 'upstream_close', 'upstream_drop'),
});

describe('byte accounting', () => {
  it('caller audio in = sent upstream + dropped, model audio in = sent to Twilio + dropped + cleared (property, real calls)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const bridge = s.slowUpstream ? slow : fast;
        const index = bridge.realtime.totalConnections;
        const call = await bridge.call();
        const connecting = bridge.realtime.waitForConnection(index, 10_000);
        let callerBytes = 0;
        for (const size of s.callerChunks) {
          call.sendMedia(Buffer.alloc(size, 0x7f));
          callerBytes += size;
          if (s.callerGapMs > 0) await new Promise((r) => setTimeout(r, s.callerGapMs));
        }
        const conn = await connecting;
        await bridge.realtime.waitForEvent('session.update', undefined, 10_000);
        let modelBytes = 0;
        for (const [i, size] of s.modelChunks.entries()) {
          if (s.bargeInAfter === i) conn.speechStarted({ interrupt: false });
          conn.send({ type: 'response.output_audio.delta', item_id: `item_${i % 3}`, response_id: 'resp_1', output_index: 0, content_index: 0, delta: Buffer.alloc(size, 0x55).toString('base64') });
          modelBytes += size;
        }
        switch (s.end) {
          case 'stop':
            call.stop();
            break;
          // Not awaited: the bridge's end of the call is what is awaited below (closed only resolves).
          case 'twilio_close':
            void call.close();
            break;
          case 'twilio_drop':
            void call.drop();
            break;
          case 'upstream_close':
            conn.close();
            break;
          case 'upstream_drop':
            conn.drop();
            break;
        }
        const stats = await waitForEnd(bridge, call.callSid);
        balance(stats);
        expect(stats.callerAudioBytesIn).toBeLessThanOrEqual(callerBytes);
        expect(stats.modelAudioBytesIn).toBeLessThanOrEqual(modelBytes);
        if (s.end === 'stop') {
          // Everything the caller sent came before its stop, so all of it was read and counted,
          // and what the bridge sent upstream arrived there byte for byte.
          expect(stats.callerAudioBytesIn).toBe(callerBytes);
          await conn.closed;
          expect(conn.appendedAudio().length).toBe(stats.bytesToUpstream);
        }
        if (s.end === 'upstream_close') {
          await call.closed;
          expect(call.receivedBytes).toBe(stats.bytesToTwilio);
        }
        await call.close();
      }),
      { numRuns: 24 },
    );
  }, 240_000);

  it('a stream far ahead of real time is dropped and counted, then closed with 1008', async () => {
    const call = await fast.call();
    await fast.realtime.waitForConnection(fast.realtime.totalConnections - 1, 10_000);
    // The allowance, then more than the close threshold beyond it, in one burst.
    const frames = ((MEDIA_BURST_MS + MEDIA_TOO_FAST_CLOSE_MS + 2000) * 8) / 160;
    for (let i = 0; i < frames && call.isOpen; i += 1) call.sendMedia(Buffer.alloc(160, 0x7f));
    const closed = await call.closed;
    expect(closed).toEqual({ code: 1008, reason: 'media faster than real time' });
    const stats = await waitForEnd(fast, call.callSid);
    balance(stats);
    // Relayed: no more than the allowance plus what real time earned while it was read.
    expect(stats.tooFastBytes).toBeGreaterThan(MEDIA_TOO_FAST_CLOSE_MS * 8);
    expect(stats.tooFastBytes).toBeLessThanOrEqual(stats.droppedToUpstream.bytes);
    expect(fast.logs.records().filter((r) => r.msg === 'caller audio arrives faster than real time; dropping what is ahead' && r.callSid === call.callSid)).toHaveLength(1);
  }, 60_000);
});
