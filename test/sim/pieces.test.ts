import { describe, expect, it } from 'vitest';
import { readFixture, silence } from '../../tools/fakes/audio.js';
import { TurnDetector } from '../../tools/sim/turn-detector.js';
import { meanAmplitude, readStamp, STAMP_BYTES, writeStamp } from '../../tools/sim/ulaw.js';
import { parseStreamTwiml, spokenText, streamUrlFor } from '../../tools/sim/twilio-webhook.js';
import { PhaseTicker } from '../../tools/sim/ticker.js';
import { GapMeter, Samples } from '../../tools/sim/stats.js';
import { floodSourceAddress } from '../../tools/sim/flood.js';
import { base64Bytes, callerAudio } from '../../tools/sim/caller.js';
import { streamTwiml, unavailableTwiml } from '../../src/twilio/twiml.js';

describe('µ-law helpers', () => {
  it('tells speech from silence in the fixtures', () => {
    const caller = readFixture('caller-8k.ulaw');
    expect(meanAmplitude(caller.subarray(800, 1600))).toBeGreaterThan(500);
    expect(meanAmplitude(silence(100))).toBe(0);
  });

  it('stamps round-trip and stay far below the speech threshold', () => {
    const frame = silence(20);
    for (const value of [0, 1, 0xdeadbeef, 0xffffffff]) {
      writeStamp(frame, value, 0);
      expect(readStamp(frame, 0)).toBe(value);
    }
    expect(meanAmplitude(frame)).toBeLessThan(10);
    expect(readStamp(readFixture('caller-8k.ulaw').subarray(800), 0)).toBeNull();
    expect(() => writeStamp(Buffer.alloc(STAMP_BYTES - 1), 1)).toThrow(RangeError);
  });
});

describe('TurnDetector', () => {
  it('starts a turn on loud audio and ends it after 500 ms of quiet', () => {
    const d = new TurnDetector();
    expect(d.push(100, 2)).toBeNull();
    expect(d.push(100, 900)).toEqual({ type: 'speech_started', audioMs: 100 });
    expect(d.push(100, 900)).toBeNull();
    for (let i = 0; i < 4; i++) expect(d.push(100, 2)).toBeNull();
    // A loud chunk inside the quiet resets the count.
    expect(d.push(100, 900)).toBeNull();
    for (let i = 0; i < 4; i++) expect(d.push(100, 2)).toBeNull();
    expect(d.push(100, 2)).toEqual({ type: 'speech_stopped', audioMs: 1300 });
    expect(d.inSpeech).toBe(false);
  });

  it('finds exactly one turn in the caller fixture followed by silence', () => {
    const d = new TurnDetector();
    const audio = Buffer.concat([readFixture('caller-8k.ulaw'), silence(1000)]);
    const events = [];
    for (let o = 0; o < audio.length; o += 800) {
      const chunk = audio.subarray(o, o + 800);
      const e = d.push(chunk.length / 8, meanAmplitude(chunk));
      if (e) events.push(e.type);
    }
    expect(events).toEqual(['speech_started', 'speech_stopped']);
  });
});

describe('TwiML as the simulator reads it', () => {
  it('finds the stream URL and parameters in the bridge\'s own TwiML, unescaped', () => {
    const xml = streamTwiml({
      streamUrl: 'wss://voice.example.com/twilio/stream/abc_-123',
      statusCallbackUrl: 'https://voice.example.com/twilio/stream-status',
      token: 'abc_-123',
      direction: 'inbound',
      caller: '+1 <555> & co',
    });
    expect(parseStreamTwiml(xml)).toEqual({
      streamUrl: 'wss://voice.example.com/twilio/stream/abc_-123',
      parameters: { token: 'abc_-123', direction: 'inbound', caller: '+1 <555> & co' },
    });
  });

  it('returns null for a spoken refusal and reads what it says', () => {
    const xml = unavailableTwiml('capacity');
    expect(parseStreamTwiml(xml)).toBeNull();
    expect(spokenText(xml)).toMatch(/all of our lines are busy/);
  });

  it('dials the TwiML\'s path at the address the simulator reaches the bridge on', () => {
    const twiml = 'wss://voice.example.com/twilio/stream/tok123';
    expect(streamUrlFor(twiml, new URL('http://127.0.0.1:3000'))).toBe('ws://127.0.0.1:3000/twilio/stream/tok123');
    expect(streamUrlFor(twiml, new URL('https://localhost:8443/'))).toBe('wss://localhost:8443/twilio/stream/tok123');
  });
});

describe('PhaseTicker', () => {
  it('ticks each task once per period at its own phase and catches up after a stall', () => {
    let now = 1000;
    const ticker = new PhaseTicker({ now: () => now, periodMs: 20 });
    const ticks: number[] = [];
    const task = { tick: (t: number) => ticks.push(t) };
    ticker.add(task, 1005);
    try {
      // Drive the private loop by hand: one run per elapsed ms is what the interval does.
      const run = (): void => (ticker as unknown as { run(): void }).run();
      for (now = 1001; now <= 1066; now++) run();
      expect(ticks).toEqual([1005, 1025, 1045, 1065]);
      ticks.length = 0;
      now = 1130; // a 64 ms stall: 1085, 1105, 1125 were due
      run();
      expect(ticks).toEqual([1130, 1130, 1130]);
      expect(ticker.maxLateMs).toBe(45);
    } finally {
      ticker.remove(task);
    }
    expect(ticker.size).toBe(0);
  });
});

describe('figures', () => {
  it('Samples gives nearest-rank percentiles', () => {
    const s = new Samples();
    for (let i = 1; i <= 100; i++) s.add(i);
    expect(s.summary()).toEqual({ count: 100, p50: 50, p99: 99, max: 100, mean: 50.5 });
  });

  it('GapMeter ignores pauses longer than its limit', () => {
    const g = new GapMeter(1000);
    for (const t of [0, 100, 250, 5000, 5100]) g.note(t);
    expect(g.max).toBe(150);
  });

  it('flood source addresses are distinct loopback addresses, never .0 or .255', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const a = floodSourceAddress(i);
      expect(a).toMatch(/^127\.1\.\d+\.\d+$/);
      const last = Number(a.split('.')[3]);
      expect(last).toBeGreaterThan(0);
      expect(last).toBeLessThan(255);
      seen.add(a);
    }
    expect(seen.size).toBe(1000);
  });

  it('callerAudio splits into padded 20 ms frames; base64Bytes counts without decoding', () => {
    const audio = callerAudio(Buffer.alloc(330, 7));
    expect(audio.frames.map((f) => f.length)).toEqual([160, 160, 160]);
    expect(audio.frames[2]?.subarray(10).every((b) => b === 0xff)).toBe(true);
    expect(audio.loopMs).toBe(60);
    for (const n of [0, 1, 2, 3, 160, 800]) expect(base64Bytes(Buffer.alloc(n).toString('base64'))).toBe(n);
  });
});
