/**
 * A call's model usage as its record stores it, from what the session counted: the session's
 * tally (usage/call-usage.ts, over stream/realtime-usage.ts's parser) is the one reader of
 * `response.usage`; the record keeps the API's own shape — totals, with cached input as part of
 * the text and audio counts — so a stored record reads like the API's figures.
 */
import type { TokenUsage } from './record.js';
import type { TokenUsage as TallyTokens } from '../stream/realtime-usage.js';

export const NO_USAGE: TokenUsage = Object.freeze({
  responses: 0,
  input: Object.freeze({ total: 0, text: 0, audio: 0, cached: 0 }),
  output: Object.freeze({ total: 0, text: 0, audio: 0 }),
});

/** The record's usage from the session's totals (`responses`: response.done events counted). */
export function recordUsage(tokens: TallyTokens, responses: number): TokenUsage {
  const text = tokens.inputText + tokens.inputCachedText;
  const audio = tokens.inputAudio + tokens.inputCachedAudio;
  return {
    responses,
    input: { total: text + audio, text, audio, cached: tokens.inputCachedText + tokens.inputCachedAudio },
    output: { total: tokens.outputText + tokens.outputAudio, text: tokens.outputText, audio: tokens.outputAudio },
  };
}
