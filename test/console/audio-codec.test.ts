/**
 * The softphone's pure parts, run in Node: µ-law both ways (against the simulator's decoder, and
 * the G.711 round trip), the resamplers (a tone keeps its frequency and level through 48 kHz →
 * 8 kHz and back; what would alias is removed), and the Media Streams messages the page sends,
 * read by the bridge's own parser exactly as Twilio's.
 */
import { describe, expect, it } from 'vitest';
import { decodeMulaw, Downsampler, encodeMulaw, Upsampler } from '../../public/console/js/audio-codec.js';
import { connectedMessage, markMessage, mediaMessage, parseBridgeMessage, startMessage, stopMessage, toBase64 } from '../../public/console/js/media-stream.js';
import { meanAmplitude } from '../../tools/sim/ulaw.js';
import { parseTwilioFrame } from '../../src/stream/twilio-protocol.js';
import { scanTwilioMedia } from '../../src/stream/twilio-media-scan.js';
import { decodeMulaw as decodeOne } from './chromium.js';

/** Root mean square of a signal. */
function rms(x: ArrayLike<number>, from = 0): number {
  let sum = 0;
  for (let i = from; i < x.length; i++) sum += (x[i] as number) ** 2;
  return Math.sqrt(sum / (x.length - from));
}

/** A sine at `hz`, `seconds` long, amplitude `a`, at `rate`. */
function tone(hz: number, seconds: number, rate: number, a = 0.5): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  for (let i = 0; i < out.length; i++) out[i] = a * Math.sin((2 * Math.PI * hz * i) / rate);
  return out;
}

/** Zero crossings per second: twice the frequency of a clean tone. */
function crossingsPerSecond(x: Float32Array, rate: number, from: number): number {
  let n = 0;
  for (let i = from + 1; i < x.length; i++) if (((x[i - 1] as number) < 0) !== ((x[i] as number) < 0)) n++;
  return n / ((x.length - from) / rate);
}

/** Runs `input` through a Downsampler in 128-sample blocks (an AudioWorklet's render quantum). */
function downsample(input: Float32Array, rate: number): Float32Array {
  const down = new Downsampler(rate, 8000);
  const out: number[] = [];
  for (let o = 0; o < input.length; o += 128) out.push(...down.push(input.subarray(o, o + 128)));
  return Float32Array.from(out);
}

describe('µ-law', () => {
  it('decodes every byte as G.711 does, and encodes each decoded value back to its byte', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const decoded = decodeMulaw(all);
    for (let b = 0; b < 256; b++) {
      expect(Math.round((decoded[b] as number) * 32768), `byte ${b}`).toBe(decodeOne(b));
      // 0x7F is µ-law's "negative zero": it encodes back as 0xFF (positive zero).
      expect(encodeMulaw(decoded[b] as number), `byte ${b}`).toBe(b === 0x7f ? 0xff : b);
    }
    expect(meanAmplitude(Uint8Array.from([encodeMulaw(0.5)]))).toBeCloseTo(16384, -3);
    expect([encodeMulaw(2), encodeMulaw(-2)]).toEqual([encodeMulaw(1), encodeMulaw(-1)]); // clipped
  });
});

describe('resampling', () => {
  for (const rate of [44_100, 48_000]) {
    it(`${rate} Hz → 8 kHz keeps a 1 kHz tone's frequency and level, in any block size`, () => {
      const out = downsample(tone(1000, 1, rate), rate);
      expect(Math.abs(out.length - 8000)).toBeLessThanOrEqual(2);
      expect(crossingsPerSecond(out, 8000, 400)).toBeCloseTo(2000, -1);
      expect(rms(out, 400)).toBeCloseTo(0.5 / Math.SQRT2, 1);
    });
  }

  it('removes what would alias: a 6 kHz tone comes out at less than 5% of its level', () => {
    const out = downsample(tone(6000, 1, 48_000), 48_000);
    expect(rms(out, 400)).toBeLessThan(0.05 * (0.5 / Math.SQRT2));
  });

  it('8 kHz → 48 kHz keeps a tone, pulls exactly the input samples it needs, and restarts after running dry', () => {
    const input = tone(500, 0.5, 8000);
    const up = new Upsampler(48_000);
    let pulled = 0;
    const next = (): number | null => (pulled < input.length ? (input[pulled++] as number) : null);
    const out: number[] = [];
    for (;;) {
      const v = up.sample(next);
      if (v === null) break;
      out.push(v);
    }
    expect(pulled).toBe(input.length);
    expect(Math.abs(out.length - input.length * 6)).toBeLessThanOrEqual(6);
    const signal = Float32Array.from(out);
    expect(crossingsPerSecond(signal, 48_000, 2400)).toBeCloseTo(1000, -1);
    expect(rms(signal, 2400)).toBeCloseTo(0.5 / Math.SQRT2, 1);
    expect(up.sample(() => null)).toBeNull();
  });
});

describe('the messages the page sends, read by the bridge', () => {
  const streamSid = 'MZ0123456789abcdef0123456789abcdef';
  const callSid = 'BR0123456789abcdef0123456789abcdef';

  it('connected, start (token and direction browser), media in the fast layout, mark, stop', () => {
    expect(parseTwilioFrame(connectedMessage(), false, false)).toMatchObject({ ok: true, message: { event: 'connected' } });
    const start = parseTwilioFrame(startMessage({ streamSid, callSid, token: 'tok' }), false, false);
    expect(start).toMatchObject({
      ok: true,
      message: { event: 'start', streamSid, start: { callSid, customParameters: { token: 'tok', direction: 'browser', caller: 'browser' }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } } },
    });
    const frame = Uint8Array.from({ length: 160 }, (_, i) => i);
    const media = mediaMessage({ streamSid, sequenceNumber: 2, chunk: 1, timestamp: 0, payload: toBase64(frame) });
    // The bridge's fast path reads it in place, as it does Twilio's own layout.
    const scanned = scanTwilioMedia(Buffer.from(media));
    expect(scanned?.media.payload.equals(Buffer.from(frame))).toBe(true);
    expect(scanned).toMatchObject({ sequenceNumber: 2, streamSid, media: { track: 'inbound', chunk: 1, timestamp: 0 } });
    expect(parseTwilioFrame(markMessage({ streamSid, sequenceNumber: 3, name: 'vb-1' }), false, true)).toMatchObject({ ok: true, message: { event: 'mark', mark: { name: 'vb-1' } } });
    expect(parseTwilioFrame(stopMessage({ streamSid, sequenceNumber: 4, callSid }), false, true)).toMatchObject({ ok: true, message: { event: 'stop', stop: { callSid } } });
  });

  it('reads the bridge\'s media, mark and clear, and ignores anything else', () => {
    expect(parseBridgeMessage(JSON.stringify({ event: 'media', streamSid, media: { payload: Buffer.from([1, 2, 3]).toString('base64') } }))).toEqual({ kind: 'media', audio: Uint8Array.from([1, 2, 3]) });
    expect(parseBridgeMessage(JSON.stringify({ event: 'mark', streamSid, mark: { name: 'vb-7' } }))).toEqual({ kind: 'mark', name: 'vb-7' });
    expect(parseBridgeMessage(JSON.stringify({ event: 'clear', streamSid }))).toEqual({ kind: 'clear' });
    for (const junk of ['', 'null', '[]', '{"event":"media"}', '{"event":"mark","mark":{"name":5}}', '{"event":"other"}', '{"event":"media","media":{"payload":"%%%"}}']) {
      expect(parseBridgeMessage(junk), junk).toBeNull();
    }
  });
});
