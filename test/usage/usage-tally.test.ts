import { describe, expect, it } from 'vitest';
import { UsageTally } from '../../src/usage/usage-tally.js';
import { estimateCostUsd } from '../../src/usage/cost.js';
import { parsePricesVariable, type Prices } from '../../src/usage/prices.js';
import type { TokenUsage } from '../../src/stream/realtime-usage.js';

/** gpt-realtime's list prices when this was written, USD per million tokens. */
const PRICES: Prices = { inputText: 4, inputAudio: 32, inputCachedText: 0.4, inputCachedAudio: 0.4, outputText: 16, outputAudio: 64 };

const usage = (input: { text: number; audio: number; cachedText?: number }, output: { text: number; audio: number }) => ({
  input_token_details: {
    text_tokens: input.text,
    audio_tokens: input.audio,
    cached_tokens: input.cachedText ?? 0,
    cached_tokens_details: { text_tokens: input.cachedText ?? 0, audio_tokens: 0 },
  },
  output_token_details: { text_tokens: output.text, audio_tokens: output.audio },
});

describe('UsageTally', () => {
  it('sums the usage of every response.done of a call', () => {
    const tally = new UsageTally();
    tally.record(usage({ text: 100, audio: 1_000 }, { text: 20, audio: 200 }));
    tally.record(usage({ text: 300, audio: 2_000, cachedText: 100 }, { text: 30, audio: 300 }));
    expect(tally.totals()).toEqual({ inputText: 300, inputAudio: 3_000, inputCachedText: 100, inputCachedAudio: 0, outputText: 50, outputAudio: 500 });
    expect(tally.responses).toBe(2);
    expect(tally.unreadable).toBe(0);
  });

  it('counts unusable usage apart and absent usage not at all, never throwing', () => {
    const tally = new UsageTally();
    expect(tally.record(undefined)).toBeNull();
    expect(tally.record(null)).toBeNull();
    expect(tally.record({ input_tokens: 'lots' })).toBeNull();
    expect(tally.record([1, 2])).toBeNull();
    expect(tally.responses).toBe(0);
    expect(tally.unreadable).toBe(2);
    expect(tally.totals()).toEqual({ inputText: 0, inputAudio: 0, inputCachedText: 0, inputCachedAudio: 0, outputText: 0, outputAudio: 0 });
  });

  it('shows no cost without prices, and the priced cost with them', () => {
    const tally = new UsageTally();
    tally.record(usage({ text: 1_000, audio: 10_000, cachedText: 500 }, { text: 2_000, audio: 20_000 }));
    expect(tally.costUsd(undefined)).toBeNull();
    expect(tally.costUsd(null)).toBeNull();
    expect(tally.summary(undefined)).toEqual({
      responses: 1,
      unreadable: 0,
      tokens: { input: { text: 500, audio: 10_000, cached: 500 }, output: { text: 2_000, audio: 20_000 } },
    });
    expect('costUsd' in tally.summary(undefined)).toBe(false);
    // 500×4 + 10 000×32 + 500×0.4 + 2 000×16 + 20 000×64 = 1 634 200 per million → $1.6342
    expect(tally.costUsd(PRICES)).toBeCloseTo(1.6342, 10);
    expect(tally.summary(PRICES).costUsd).toBe(1.6342);
  });
});

describe('estimateCostUsd', () => {
  const one = (key: keyof TokenUsage): TokenUsage => ({ inputText: 0, inputAudio: 0, inputCachedText: 0, inputCachedAudio: 0, outputText: 0, outputAudio: 0, [key]: 1_000_000 });

  it('prices each class of token at its own price', () => {
    const prices: Prices = { inputText: 1, inputAudio: 2, inputCachedText: 3, inputCachedAudio: 4, outputText: 5, outputAudio: 6 };
    for (const key of Object.keys(prices) as (keyof Prices)[]) expect(estimateCostUsd(one(key), prices)).toBe(prices[key]);
    expect(estimateCostUsd(one('outputAudio'), undefined)).toBeNull();
  });
});

describe('parsePricesVariable (the proposed MODEL_PRICES)', () => {
  it('reads the same table as a profile, and nothing when unset', () => {
    expect(parsePricesVariable(undefined)).toEqual({ value: undefined });
    expect(parsePricesVariable('  ')).toEqual({ value: undefined });
    expect(parsePricesVariable('{"input":{"text":4,"audio":32,"cached":0.4},"output":{"text":16,"audio":64}}')).toEqual({ value: PRICES });
  });

  it('names every problem in one sentence', () => {
    expect(parsePricesVariable('4')).toEqual({ problem: 'MODEL_PRICES: must be an object {input: {text, audio, cached}, output: {text, audio}} (got number)' });
    expect(parsePricesVariable('{"input":{"text":4,"audio":32}}')).toEqual({
      problem: 'MODEL_PRICES.output: is required; MODEL_PRICES.input.cached: is required (USD per million tokens)',
    });
    expect(parsePricesVariable('{input: 4}')).toHaveProperty('problem');
  });
});
