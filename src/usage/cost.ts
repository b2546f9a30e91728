/**
 * Tokens × prices → an estimated cost in US dollars. `null` without prices: a cost is shown only
 * when the operator gave the prices it rests on. An estimate: OpenAI's bill is the authority.
 */
import type { TokenUsage } from '../stream/realtime-usage.js';
import type { Prices } from './prices.js';

/** Tokens per unit of price (prices are per million tokens). */
const TOKENS_PER_PRICE_UNIT = 1_000_000;

export function estimateCostUsd(usage: TokenUsage, prices: Prices | undefined | null): number | null {
  if (!prices) return null;
  const perMillion =
    usage.inputText * prices.inputText +
    usage.inputAudio * prices.inputAudio +
    usage.inputCachedText * prices.inputCachedText +
    usage.inputCachedAudio * prices.inputCachedAudio +
    usage.outputText * prices.outputText +
    usage.outputAudio * prices.outputAudio;
  return perMillion / TOKENS_PER_PRICE_UNIT;
}
