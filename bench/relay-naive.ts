/**
 * Baseline "naive" relay for the capacity benchmark, in the style of the public twilio-samples
 * bridge (speech-assistant-openai-realtime-api-node): every message from either side goes through
 * JSON.parse; every Twilio `media` (20 ms) becomes one `input_audio_buffer.append`; every model
 * audio delta becomes one Twilio `media` plus one `mark`; on `speech_started` while marks are
 * outstanding it truncates the answer and sends `clear`. The upstream socket opens when Twilio
 * connects and gets one `session.update`, as in the sample. Served by the same bare shell as the
 * floor (baseline-server.ts) rather than Fastify, so the comparison is about the per-message work.
 *
 * Not a bridge: no guard, no limits, no aggregation. It exists to say what a frame-by-frame relay
 * costs under the same load.
 */
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { isEntryPoint, RelayCounters, runBaselineProcess, type Relay } from './baseline-server.js';

/** Largest Twilio message accepted, bytes (a media message is ~300). */
const MAX_PAYLOAD = 64 * 1024;

interface TwilioMessage {
  event?: string;
  start?: { streamSid?: string };
  media?: { payload?: string; timestamp?: string | number };
}

interface RealtimeMessage {
  type?: string;
  delta?: string;
  item_id?: string;
}

/** The naive relay, dialling `upstreamUrl`. */
export function naiveRelay(upstreamUrl: string): Relay {
  const counters = new RelayCounters();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
  const upstreams = new Set<WebSocket>();
  return {
    counters,
    onStreamUpgrade: (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => relay(ws, upstreamUrl, counters, upstreams)),
    close() {
      for (const ws of wss.clients) ws.terminate();
      for (const ws of upstreams) ws.terminate();
      wss.close();
    },
  };
}

function relay(twilio: WebSocket, upstreamUrl: string, counters: RelayCounters, upstreams: Set<WebSocket>): void {
  counters.live += 1;
  let streamSid: string | null = null;
  let latestMediaTimestamp = 0;
  let responseStartTimestamp: number | null = null;
  let lastAssistantItem: string | null = null;
  const markQueue: string[] = [];
  const upstream = new WebSocket(upstreamUrl, { perMessageDeflate: false, headers: { Authorization: 'Bearer sk-baseline' } });
  upstreams.add(upstream);

  const toTwilio = (message: object): void => {
    twilio.send(JSON.stringify(message));
    counters.twilioOut += 1;
  };
  const toUpstream = (message: object): void => {
    upstream.send(JSON.stringify(message));
    counters.upstreamOut += 1;
  };

  upstream.once('open', () =>
    toUpstream({
      type: 'session.update',
      session: {
        type: 'realtime',
        audio: { input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad' } }, output: { format: { type: 'audio/pcmu' }, voice: 'alloy' } },
        instructions: 'You are a helpful assistant.',
      },
    }),
  );
  upstream.on('message', (data: RawData) => {
    counters.upstreamIn += 1;
    const response = JSON.parse(data.toString()) as RealtimeMessage;
    if (response.type === 'response.output_audio.delta' && response.delta !== undefined && streamSid !== null) {
      toTwilio({ event: 'media', streamSid, media: { payload: response.delta } });
      responseStartTimestamp ??= latestMediaTimestamp;
      if (response.item_id) lastAssistantItem = response.item_id;
      toTwilio({ event: 'mark', streamSid, mark: { name: 'responsePart' } });
      markQueue.push('responsePart');
    } else if (response.type === 'input_audio_buffer.speech_started' && markQueue.length > 0 && responseStartTimestamp !== null) {
      if (lastAssistantItem !== null) {
        toUpstream({ type: 'conversation.item.truncate', item_id: lastAssistantItem, content_index: 0, audio_end_ms: latestMediaTimestamp - responseStartTimestamp });
      }
      toTwilio({ event: 'clear', streamSid });
      markQueue.length = 0;
      lastAssistantItem = null;
      responseStartTimestamp = null;
    }
  });
  upstream.on('error', () => twilio.terminate());
  upstream.once('close', () => {
    upstreams.delete(upstream);
    twilio.close();
  });

  twilio.on('message', (data: RawData) => {
    counters.twilioIn += 1;
    const message = JSON.parse(data.toString()) as TwilioMessage;
    switch (message.event) {
      case 'media':
        latestMediaTimestamp = Number(message.media?.timestamp ?? 0);
        if (upstream.readyState === WebSocket.OPEN) toUpstream({ type: 'input_audio_buffer.append', audio: message.media?.payload });
        break;
      case 'start':
        streamSid = message.start?.streamSid ?? null;
        responseStartTimestamp = null;
        latestMediaTimestamp = 0;
        break;
      case 'mark':
        markQueue.shift();
        break;
      case 'stop':
        upstream.close();
        break;
      case undefined:
      default:
        break; // connected, dtmf and the rest: the naive relay reads only the four above
    }
  });
  twilio.on('error', () => undefined);
  twilio.once('close', () => {
    counters.live -= 1;
    if (upstream.readyState === WebSocket.OPEN || upstream.readyState === WebSocket.CONNECTING) upstream.terminate();
  });
}

if (isEntryPoint(import.meta.url)) await runBaselineProcess('relay-naive', (url) => naiveRelay(url));
