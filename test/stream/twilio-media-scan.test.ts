import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { scanTwilioMedia } from '../../src/stream/twilio-media-scan.js';
import { parseTwilioFrame } from '../../src/stream/twilio-protocol.js';

const SID = 'MZ18ad3ab5a668481ce02b83e7395059f0';

/** A media frame as Twilio writes it (their documented key order, compact). */
function twilioMedia(o: { seq: string; track: string; chunk: string; timestamp: string; payload: string; sid: string }): string {
  return (
    `{"event":"media","sequenceNumber":"${o.seq}","media":{"track":"${o.track}","chunk":"${o.chunk}",` +
    `"timestamp":"${o.timestamp}","payload":"${o.payload}"},"streamSid":"${o.sid}"}`
  );
}

const counter = fc.oneof(fc.nat().map(String), fc.bigInt({ min: 0n, max: 10n ** 15n - 1n }).map(String), fc.constantFrom('0', '007'));
const wordChars = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_'.split(''));
const twilioFrame = fc.record({
  seq: counter,
  track: fc.oneof(fc.constantFrom('inbound', 'outbound'), fc.string({ unit: wordChars, minLength: 1, maxLength: 64 })),
  chunk: counter,
  timestamp: counter,
  payload: fc.uint8Array({ minLength: 1, maxLength: 2_000 }).map((a) => Buffer.from(a).toString('base64')),
  sid: fc.oneof(fc.constant(SID), fc.string({ unit: wordChars, minLength: 1, maxLength: 64 })),
});

/** The general path's verdict: a string never takes the fast path. */
const general = (bytes: Buffer) => parseTwilioFrame(bytes.toString('utf8'), false, true);

describe('scanTwilioMedia', () => {
  it("reads Twilio's media frames exactly as the general parser does", () => {
    fc.assert(
      fc.property(twilioFrame, (o) => {
        const bytes = Buffer.from(twilioMedia(o));
        const scanned = scanTwilioMedia(bytes);
        expect(scanned).toBeDefined(); // the fast path is taken for what Twilio sends
        expect({ ok: true, message: scanned }).toEqual(general(bytes));
        expect(scanned?.media.payload).toEqual(Buffer.from(o.payload, 'base64'));
      }),
      { numRuns: 2_000 },
    );
  });

  it('gives way to the general parser for anything else, so a frame gets the same verdict either way', () => {
    // One byte replaced, inserted or deleted anywhere in a Twilio frame: every near miss (escapes,
    // spaces, junk in the payload, wrong keys, truncation, non-ASCII and invalid UTF-8 bytes).
    const nearMiss = fc
      .tuple(twilioFrame, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('replace', 'insert', 'delete'))
      .map(([o, at, byte, how]) => {
        const b = Buffer.from(twilioMedia({ ...o, payload: o.payload.slice(0, 24) }));
        const i = at % (how === 'insert' ? b.length + 1 : b.length);
        const rest = how === 'insert' ? b.subarray(i) : b.subarray(i + 1);
        return Buffer.concat([b.subarray(0, i), how === 'delete' ? Buffer.alloc(0) : Buffer.from([byte]), rest]);
      });
    const other = fc.oneof(
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      twilioFrame.map((o) => Buffer.from(JSON.stringify(JSON.parse(twilioMedia(o)), null, 1))), // spaced out
    );
    let scanned = 0;
    fc.assert(
      fc.property(fc.oneof(nearMiss, other), (bytes) => {
        const fast = scanTwilioMedia(bytes);
        if (fast !== undefined) scanned += 1;
        expect(parseTwilioFrame(bytes, false, true)).toEqual(general(bytes));
      }),
      { numRuns: 20_000 },
    );
    // Some near misses are still valid media (a digit for a digit): those must take the fast path.
    expect(scanned).toBeGreaterThan(0);
  });

  it('leaves other layouts, events and media before start to the general parser', () => {
    const frame = twilioMedia({ seq: '3', track: 'inbound', chunk: '2', timestamp: '40', payload: 'YWJj', sid: SID });
    expect(scanTwilioMedia(Buffer.from(frame))).toBeDefined();
    const reordered = `{"event":"media","streamSid":"${SID}","sequenceNumber":"3","media":{"track":"inbound","chunk":"2","timestamp":"40","payload":"YWJj"}}`;
    expect(scanTwilioMedia(Buffer.from(reordered))).toBeUndefined();
    expect(parseTwilioFrame(Buffer.from(reordered), false, true).ok).toBe(true);
    expect(scanTwilioMedia(Buffer.from(frame.replace('YWJj', 'YWJ-')))).toBeUndefined();
    expect(parseTwilioFrame(Buffer.from(frame.replace('YWJj', 'YWJ-')), false, true)).toEqual({ ok: false, reason: 'bad_payload' });
    expect(parseTwilioFrame(Buffer.from(frame), false, false)).toEqual({ ok: false, reason: 'media_before_start' });
    expect(parseTwilioFrame(Buffer.from(frame), true, true)).toEqual({ ok: false, reason: 'binary' });
  });
});
