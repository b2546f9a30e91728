/**
 * Baseline "floor" relay for the capacity benchmark: the least a Node process can do to carry a
 * call between Twilio and the Realtime API with `ws`. No JSON parsing (beyond reading the
 * streamSid out of `start`, once per call), no guard, no audio handling, no bookkeeping beyond
 * four message counters:
 *
 * - a Twilio message is told apart by one or two bytes at a fixed offset (Twilio writes `event`
 *   first: `{"event":"media"…`);
 * - on `start` it opens one upstream WebSocket to the Realtime URL;
 * - every 5th Twilio `media` sends one prebuilt 800-byte (100 ms) `input_audio_buffer.append`;
 * - every upstream message sends one prebuilt Twilio `media` (160 bytes, 20 ms) back.
 *
 * The prebuilt appends are the load generator's own caller loop cut into 100 ms windows and sent
 * in order, so the Realtime stand-in hears the same turns as from the bridge and answers as
 * often: the three servers carry the same traffic. BASELINE_GAP_MS must match the generator's
 * pause after each utterance (capacity.ts: 7000 ms).
 *
 * Not a bridge: no barge-in, no marks, no limits. It exists to say what the sockets alone cost.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { readFileSync } from 'node:fs';
import { silence, AGGREGATE_FRAME_BYTES, TWILIO_FRAME_BYTES } from '../test/helpers/audio.js';
import { RelayCounters, realtimeUrl, startBaselineServer } from './baseline-server.js';

/** Twilio media messages per upstream append: 5 × 20 ms = 100 ms, as the bridge aggregates. */
const MEDIA_PER_APPEND = 5;
/** Largest Twilio message accepted, bytes (a media message is ~300). */
const MAX_PAYLOAD = 64 * 1024;
/** Offset of the first letter of the event name in `{"event":"…`. */
const EVENT_AT = 10;
const m = 0x6d;
const e = 0x65;
const s = 0x73;
const a = 0x61;

const gapMs = Number(process.env['BASELINE_GAP_MS'] ?? 7000);
/** The caller fixture, from the repository (this file runs from dist/dev/bench/, in a scratch directory). */
const CALLER = new URL('../../../test/fixtures/caller-8k.ulaw', import.meta.url);
const loop = Buffer.concat([readFileSync(CALLER), silence(gapMs)]);
const APPENDS: Buffer[] = [];
for (let o = 0; o + AGGREGATE_FRAME_BYTES <= loop.length; o += AGGREGATE_FRAME_BYTES) {
  APPENDS.push(Buffer.from(`{"type":"input_audio_buffer.append","audio":"${loop.subarray(o, o + AGGREGATE_FRAME_BYTES).toString('base64')}"}`));
}
/** 20 ms of µ-law silence, base64: the payload of every media message sent to Twilio. */
const MEDIA_PAYLOAD = Buffer.alloc(TWILIO_FRAME_BYTES, 0xff).toString('base64');
const TEXT = { binary: false } as const;

const counters = new RelayCounters();
const upstreamUrl = realtimeUrl('relay-floor');
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });

function relay(twilio: WebSocket): void {
  counters.live += 1;
  let upstream: WebSocket | null = null;
  let received = 0;
  let appended = 0;
  twilio.on('message', (data: RawData) => {
    counters.twilioIn += 1;
    const buf = data as Buffer;
    const c = buf[EVENT_AT];
    if (c === m && buf[EVENT_AT + 1] === e) {
      // media
      if (++received % MEDIA_PER_APPEND !== 0 || upstream === null || upstream.readyState !== WebSocket.OPEN) return;
      upstream.send(APPENDS[appended++ % APPENDS.length] as Buffer, TEXT);
      counters.upstreamOut += 1;
    } else if (c === s && buf[EVENT_AT + 2] === a && upstream === null) {
      // start: the only message parsed, once per call, for the streamSid Twilio checks.
      const streamSid = (JSON.parse(buf.toString('utf8')) as { start?: { streamSid?: string } }).start?.streamSid ?? '';
      const out = Buffer.from(`{"event":"media","streamSid":"${streamSid}","media":{"payload":"${MEDIA_PAYLOAD}"}}`);
      const up = new WebSocket(upstreamUrl, { perMessageDeflate: false });
      upstream = up;
      up.on('message', () => {
        counters.upstreamIn += 1;
        if (twilio.readyState !== WebSocket.OPEN) return;
        twilio.send(out, TEXT);
        counters.twilioOut += 1;
      });
      up.on('error', () => twilio.terminate());
      up.once('close', () => twilio.close());
    } else if (c === s) {
      // stop
      upstream?.close();
    }
  });
  twilio.on('error', () => undefined);
  twilio.once('close', () => {
    counters.live -= 1;
    upstream?.terminate();
  });
}

startBaselineServer({
  name: 'relay-floor',
  counters,
  onStreamUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => wss.handleUpgrade(req, socket, head, relay),
});
