/**
 * The upstream: one OpenAI Realtime WebSocket per call.
 *
 * GA API: `OPENAI_REALTIME_URL?model=OPENAI_MODEL`, `Authorization: Bearer OPENAI_API_KEY`, and no
 * `OpenAI-Beta` header (the GA endpoint rejects `realtime=v1`). The key goes in a header, never
 * in the URL, so it cannot end up in a proxy's access log.
 */
import { WebSocket } from 'ws';
import type { Config } from '../config.js';

/** The handshake must finish in this long or the call ends (Twilio then plays the apology). */
export const UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;
/**
 * Largest message accepted from upstream: audio deltas are a few KiB, session events carry the
 * instructions and tools. 4 MiB bounds a misbehaving peer far below ws's 100 MiB default.
 */
export const UPSTREAM_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/**
 * A call's upstream socket, open or opening, already configured (session.update and the greeting
 * are sent by calls/upstream-pool.ts, the one place an upstream session is set up).
 */
export interface UpstreamHandle {
  readonly socket: WebSocket;
  /** The app's monotonic clock when the call began waiting for it, ms (connect-time histogram). */
  readonly startedAt: number;
}

export type UpstreamProvider = (callSid: string) => UpstreamHandle;

export function realtimeUrl(config: Pick<Config, 'openaiRealtimeUrl' | 'openaiModel'>): string {
  const url = new URL(config.openaiRealtimeUrl);
  url.searchParams.set('model', config.openaiModel);
  return url.toString();
}

export function connectRealtime(
  config: Pick<Config, 'openaiRealtimeUrl' | 'openaiModel' | 'openaiApiKey'>,
  handshakeTimeoutMs: number = UPSTREAM_CONNECT_TIMEOUT_MS,
): WebSocket {
  return new WebSocket(realtimeUrl(config), {
    headers: { Authorization: `Bearer ${config.openaiApiKey}` },
    handshakeTimeout: handshakeTimeoutMs,
    maxPayload: UPSTREAM_MAX_PAYLOAD_BYTES,
    perMessageDeflate: false,
  });
}
