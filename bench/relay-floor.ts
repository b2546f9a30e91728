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
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { silence, AGGREGATE_FRAME_BYTES, TWILIO_FRAME_BYTES } from '../tools/fakes/audio.js';
import { isEntryPoint, RelayCounters, runBaselineProcess, type Relay } from './baseline-server.js';

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
const TEXT = { binary: false } as const;

/** The caller fixture from the repository, whether this runs from source or from dist/dev/bench/ (in a scratch directory). */
function callerFixture(): Buffer {
  for (const rel of ['../test/fixtures/caller-8k.ulaw', '../../../test/fixtures/caller-8k.ulaw']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return readFileSync(path);
  }
  throw new Error('relay-floor: test/fixtures/caller-8k.ulaw not found');
}

/** The generator's caller loop (fixture + `gapMs` of silence) as prebuilt 100 ms append messages. */
function prebuiltAppends(gapMs: number): Buffer[] {
  const loop = Buffer.concat([callerFixture(), silence(gapMs)]);
  const out: Buffer[] = [];
  for (let o = 0; o + AGGREGATE_FRAME_BYTES <= loop.length; o += AGGREGATE_FRAME_BYTES) {
    out.push(Buffer.from(`{"type":"input_audio_buffer.append","audio":"${loop.subarray(o, o + AGGREGATE_FRAME_BYTES).toString('base64')}"}`));
  }
  return out;
}

/** 20 ms of µ-law silence, base64: the payload of every media message sent to Twilio. */
const MEDIA_PAYLOAD = Buffer.alloc(TWILIO_FRAME_BYTES, 0xff).toString('base64');

/** The floor relay, dialling `upstreamUrl`; `gapMs` is the generator's pause after each utterance. */
export function floorRelay(upstreamUrl: string, gapMs = 7000): Relay {
  const APPENDS = prebuiltAppends(gapMs);
  const counters = new RelayCounters();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
  const upstreams = new Set<WebSocket>();

  const relay = (twilio: WebSocket): void => {
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
        upstreams.add(up);
        up.on('message', () => {
          counters.upstreamIn += 1;
          if (twilio.readyState !== WebSocket.OPEN) return;
          twilio.send(out, TEXT);
          counters.twilioOut += 1;
        });
        up.on('error', () => twilio.terminate());
        up.once('close', () => {
          upstreams.delete(up);
          twilio.close();
        });
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
  };

  return {
    counters,
    onStreamUpgrade: (req, socket, head) => wss.handleUpgrade(req, socket, head, relay),
    close() {
      for (const ws of wss.clients) ws.terminate();
      for (const ws of upstreams) ws.terminate();
      wss.close();
    },
  };
}

if (isEntryPoint(import.meta.url)) await runBaselineProcess('relay-floor', (url) => floorRelay(url, Number(process.env['BASELINE_GAP_MS'] ?? 7000)));
