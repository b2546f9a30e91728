/**
 * Twilio Media Streams messages as the fake Twilio caller sees them: the `start` payload it sends,
 * and the messages a bidirectional stream may send to Twilio, checked field by field on receipt
 * (what Twilio would reject is a protocol error, not a message).
 */
import { decodeBase64 } from './base64.js';

export interface TwilioMediaFormat {
  encoding: string;
  sampleRate: number;
  channels: number;
}
/** `start.*` of Twilio's start message. */
export interface TwilioStartPayload {
  accountSid: string;
  streamSid: string;
  callSid: string;
  tracks: string[];
  customParameters: Record<string, string>;
  mediaFormat: TwilioMediaFormat;
}

/** Messages a bidirectional stream may send to Twilio, as validated on receipt. */
export interface BridgeMediaMessage {
  event: 'media';
  streamSid: string;
  media: { payload: string };
}
export interface BridgeMarkMessage {
  event: 'mark';
  streamSid: string;
  mark: { name: string };
}
export interface BridgeClearMessage {
  event: 'clear';
  streamSid: string;
}
export type BridgeMessage = BridgeMediaMessage | BridgeMarkMessage | BridgeClearMessage;
export type BridgeEvent = BridgeMessage['event'];
export type BridgeMessageOf<E extends BridgeEvent> = Extract<BridgeMessage, { event: E }>;

const BRIDGE_EVENTS: ReadonlySet<string> = new Set(['media', 'mark', 'clear']);

/**
 * Why `parsed` (JSON from the bridge) is not a message Twilio would accept on the stream
 * `streamSid` (null before `start` was sent), or null when it is one.
 */
export function bridgeMessageProblem(parsed: unknown, streamSid: string | null): string | null {
  if (typeof parsed !== 'object' || parsed === null) return 'not a JSON object';
  const m = parsed as Record<string, unknown>;
  if (typeof m['event'] !== 'string' || !BRIDGE_EVENTS.has(m['event'])) return `unknown event ${String(m['event'])}`;
  if (streamSid === null) return `${m['event']} before start`;
  if (m['streamSid'] !== streamSid) return `${m['event']} with streamSid ${String(m['streamSid'])}`;
  if (m['event'] === 'media') {
    const media = m['media'] as Record<string, unknown> | undefined;
    const payload = media?.['payload'];
    if (typeof payload !== 'string' || payload.length === 0 || decodeBase64(payload) === null) return 'media.payload is not base64 audio';
  }
  if (m['event'] === 'mark') {
    const mark = m['mark'] as Record<string, unknown> | undefined;
    if (typeof mark?.['name'] !== 'string') return 'mark.name is not a string';
  }
  return null;
}
