/**
 * What a stream session hands to the rest of the bridge: the model's function calls (to call
 * control's tool router) and, once, the summary of the call at its end (onEnd: the live-session
 * set, call records).
 */
import type { CallStats } from './call-stats.js';
import type { EndReason } from './end-reason.js';
import type { CallUsageTotals } from '../usage/call-usage.js';

export interface CallSummary {
  readonly callSid: string;
  readonly streamSid: string | undefined;
  readonly reason: EndReason;
  readonly durationMs: number;
  readonly stats: CallStats;
  /** The call's profile name and model usage (tokens, estimated cost); undefined when its stream never started. */
  readonly usage: CallUsageTotals | undefined;
}

/** A function call from the model, handed to the tool layer (call control). */
export interface ToolCall {
  readonly callId: string;
  readonly name: string;
  /** As the model sent it (normally JSON text); the tool router checks it. */
  readonly arguments: unknown;
}
