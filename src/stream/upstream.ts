/**
 * The upstream: one OpenAI Realtime WebSocket per call.
 *
 * GA API: `OPENAI_REALTIME_URL?model=OPENAI_MODEL`, `Authorization: Bearer OPENAI_API_KEY`, and no
 * `OpenAI-Beta` header (the GA endpoint rejects `realtime=v1`). The key goes in a header, never
 * in the URL, so it cannot end up in a proxy's access log.
 */
import { WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { Prices } from '../usage/prices.js';
import type { StreamSession, ToolCall } from './session.js';

/** The handshake must finish in this long or the call ends (Twilio then plays the apology). */
export const UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;
/**
 * Largest message accepted from upstream: audio deltas are a few KiB, session events carry the
 * instructions and tools. 4 MiB bounds a misbehaving peer far below ws's 100 MiB default.
 */
export const UPSTREAM_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** What the stream session needs of the call's assistant profile (src/assistants/). */
export interface CallAssistant {
  /** A log field and a metric label (bounded: see metrics.assistantLabel). */
  readonly name: string;
  /** USD per million tokens; none: no cost is computed. */
  readonly prices: Prices | undefined;
}

/**
 * A call's upstream socket, open or opening, already configured (session.update and the greeting
 * are sent by calls/upstream-pool.ts, the one place an upstream session is set up), with the
 * profile it was configured for: the call keeps both until it ends, whatever a reload does.
 */
export interface UpstreamHandle {
  readonly socket: WebSocket;
  /** The app's monotonic clock when the call began waiting for it, ms (connect-time histogram). */
  readonly startedAt: number;
  readonly assistant: CallAssistant;
  /** Answers the model's function calls with the profile's tools; none: no tools were declared. */
  readonly onToolCall?: (session: StreamSession, call: ToolCall) => void;
}

/**
 * The call's upstream, from its stream's `start`. `named`: the profile name the TwiML carried
 * (`<Parameter name="assistant">`), used when this process kept nothing for the call (its webhook
 * reached another instance).
 */
export type UpstreamProvider = (callSid: string, named?: string) => UpstreamHandle;

/** The Realtime URL for `model` (default OPENAI_MODEL): the model is a query parameter. */
export function realtimeUrl(config: Pick<Config, 'openaiRealtimeUrl' | 'openaiModel'>, model: string = config.openaiModel): string {
  const url = new URL(config.openaiRealtimeUrl);
  url.searchParams.set('model', model);
  return url.toString();
}

export function connectRealtime(
  config: Pick<Config, 'openaiRealtimeUrl' | 'openaiModel' | 'openaiApiKey'>,
  handshakeTimeoutMs: number = UPSTREAM_CONNECT_TIMEOUT_MS,
  model: string = config.openaiModel,
): WebSocket {
  return new WebSocket(realtimeUrl(config, model), {
    headers: { Authorization: `Bearer ${config.openaiApiKey}` },
    handshakeTimeout: handshakeTimeoutMs,
    maxPayload: UPSTREAM_MAX_PAYLOAD_BYTES,
    perMessageDeflate: false,
  });
}
