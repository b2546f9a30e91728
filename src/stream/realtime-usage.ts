/**
 * `response.done` → `response.usage`, checked field by field into token counts by direction and
 * modality. The Realtime peer's data is input, not types: a usage that is not an object, has a
 * count that is not a non-negative integer up to MAX_TOKENS_PER_RESPONSE, or whose cached tokens
 * cannot be attributed exactly, is `null` (the caller counts it and moves on). Never throws.
 *
 * The API's shape (GA; every field optional):
 *   { input_tokens, output_tokens, total_tokens,
 *     input_token_details: { text_tokens, audio_tokens, image_tokens, cached_tokens,
 *                            cached_tokens_details: { text_tokens, audio_tokens, image_tokens } },
 *     output_token_details: { text_tokens, audio_tokens } }
 * Cached tokens are a subset of the input tokens of their modality (OpenAI bills them at a lower
 * rate), so the counts below exclude them from `inputText`/`inputAudio`: the six counts partition
 * what one response bills, and summing them never counts a token twice. Image tokens are not
 * read: the bridge sends no images.
 */
import { isJsonObject, type JsonObject } from './peer-input.js';

/**
 * Largest count accepted in one response, in tokens. A Realtime session's context is ~32–128 k
 * tokens and one response reads it once; ten million is far past any real value and keeps sums
 * of a long call exact in a double.
 */
export const MAX_TOKENS_PER_RESPONSE = 10_000_000;

/** One response's tokens. Input counts exclude cached tokens (counted apart, by modality). */
export interface TokenUsage {
  readonly inputText: number;
  readonly inputAudio: number;
  readonly inputCachedText: number;
  readonly inputCachedAudio: number;
  readonly outputText: number;
  readonly outputAudio: number;
}

export const ZERO_USAGE: TokenUsage = Object.freeze({
  inputText: 0,
  inputAudio: 0,
  inputCachedText: 0,
  inputCachedAudio: 0,
  outputText: 0,
  outputAudio: 0,
});

/** The metric labels of voice_bridge_model_tokens_total: a fixed, bounded set. */
export type TokenDirection = 'input' | 'output';
export type TokenModality = 'text' | 'audio' | 'cached';

export interface TokenRow {
  readonly direction: TokenDirection;
  readonly modality: TokenModality;
  readonly tokens: number;
}

/** The counts as metric rows: cached text and audio are one `cached` modality (input only). */
export function tokenRows(u: TokenUsage): readonly TokenRow[] {
  return [
    { direction: 'input', modality: 'text', tokens: u.inputText },
    { direction: 'input', modality: 'audio', tokens: u.inputAudio },
    { direction: 'input', modality: 'cached', tokens: u.inputCachedText + u.inputCachedAudio },
    { direction: 'output', modality: 'text', tokens: u.outputText },
    { direction: 'output', modality: 'audio', tokens: u.outputAudio },
  ];
}

/** Thrown inside parseUsage only, to leave it at the first bad field. */
const BAD = Symbol('bad usage');

/** A count: absent → 0; else a non-negative safe integer up to MAX_TOKENS_PER_RESPONSE. */
function count(o: JsonObject | undefined, key: string): number {
  const v = o?.[key];
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TOKENS_PER_RESPONSE) throw BAD;
  return v;
}

/** An optional object field: absent → undefined; present and not an object → bad. */
function details(o: JsonObject | undefined, key: string): JsonObject | undefined {
  const v = o?.[key];
  if (v === undefined) return undefined;
  if (!isJsonObject(v)) throw BAD;
  return v;
}

/** `response.usage` as received, or null when it is not usable. Never throws. */
export function parseUsage(usage: unknown): TokenUsage | null {
  if (!isJsonObject(usage)) return null;
  try {
    return read(usage);
  } catch (err) {
    if (err === BAD) return null;
    throw err; // a bug here, not bad input
  }
}

function read(usage: JsonObject): TokenUsage | null {
  const input = details(usage, 'input_token_details');
  const output = details(usage, 'output_token_details');
  // Totals are checked for type only: without the details they cannot be split by modality.
  const inputTotal = count(usage, 'input_tokens');
  const outputTotal = count(usage, 'output_tokens');
  count(usage, 'total_tokens');
  if ((input === undefined && inputTotal > 0) || (output === undefined && outputTotal > 0)) return null;
  const text = count(input, 'text_tokens');
  const audio = count(input, 'audio_tokens');
  const cached = count(input, 'cached_tokens');
  const cachedDetails = details(input, 'cached_tokens_details');
  let cachedText: number;
  let cachedAudio: number;
  if (cachedDetails !== undefined) {
    cachedText = count(cachedDetails, 'text_tokens');
    cachedAudio = count(cachedDetails, 'audio_tokens');
    // The breakdown is part of cached_tokens (with image tokens, if any), never more than it.
    if (input?.cached_tokens !== undefined && cachedText + cachedAudio > cached) return null;
  } else if (cached === 0) {
    cachedText = 0;
    cachedAudio = 0;
  } else if (audio === 0) {
    // Without the breakdown, cached tokens belong to the one modality that has input tokens.
    cachedText = cached;
    cachedAudio = 0;
  } else if (text === 0) {
    cachedText = 0;
    cachedAudio = cached;
  } else {
    return null; // both modalities had input: the split is unknown, and guessing would misprice
  }
  if (cachedText > text || cachedAudio > audio) return null;
  return Object.freeze({
    inputText: text - cachedText,
    inputAudio: audio - cachedAudio,
    inputCachedText: cachedText,
    inputCachedAudio: cachedAudio,
    outputText: count(output, 'text_tokens'),
    outputAudio: count(output, 'audio_tokens'),
  });
}
