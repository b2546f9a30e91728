/**
 * The model's token usage, read from a Realtime `response.done` event's `response.usage`:
 *
 *   { input_tokens, output_tokens,
 *     input_token_details: { text_tokens, audio_tokens, cached_tokens },
 *     output_token_details: { text_tokens, audio_tokens } }
 *
 * The peer's data is input: each field is read on its own, and a field that is absent, not a
 * number, negative or over MAX_TOKENS_PER_RESPONSE counts as 0, so junk can neither throw nor
 * inflate a call's total. A call's usage is the sum over its responses (`addUsage`).
 */
import { count, type TokenUsage } from './record.js';

/** Most tokens one response can be credited with per field: far above any real response (~10⁴). */
export const MAX_TOKENS_PER_RESPONSE = 10_000_000;

export const NO_USAGE: TokenUsage = Object.freeze({
  responses: 0,
  input: Object.freeze({ total: 0, text: 0, audio: 0, cached: 0 }),
  output: Object.freeze({ total: 0, text: 0, audio: 0 }),
});

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function tokens(o: unknown, key: string): number {
  if (!isObj(o)) return 0;
  const n = count(o[key]);
  return n <= MAX_TOKENS_PER_RESPONSE ? n : 0;
}

/** One response's usage, or null when `raw` is not a usage object at all. */
export function readUsage(raw: unknown): TokenUsage | null {
  if (!isObj(raw)) return null;
  const inDetails = raw.input_token_details;
  const outDetails = raw.output_token_details;
  return {
    responses: 1,
    input: {
      total: tokens(raw, 'input_tokens'),
      text: tokens(inDetails, 'text_tokens'),
      audio: tokens(inDetails, 'audio_tokens'),
      cached: tokens(inDetails, 'cached_tokens'),
    },
    output: {
      total: tokens(raw, 'output_tokens'),
      text: tokens(outDetails, 'text_tokens'),
      audio: tokens(outDetails, 'audio_tokens'),
    },
  };
}

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    responses: a.responses + b.responses,
    input: {
      total: a.input.total + b.input.total,
      text: a.input.text + b.input.text,
      audio: a.input.audio + b.input.audio,
      cached: a.input.cached + b.input.cached,
    },
    output: {
      total: a.output.total + b.output.total,
      text: a.output.text + b.output.text,
      audio: a.output.audio + b.output.audio,
    },
  };
}
