import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_TOKENS_PER_RESPONSE, parseUsage, tokenRows } from '../../src/stream/realtime-usage.js';

/** A GA `response.done` usage as the API documents it. */
const GA_USAGE = {
  total_tokens: 253,
  input_tokens: 132,
  output_tokens: 121,
  input_token_details: {
    text_tokens: 119,
    audio_tokens: 13,
    image_tokens: 0,
    cached_tokens: 64,
    cached_tokens_details: { text_tokens: 64, audio_tokens: 0, image_tokens: 0 },
  },
  output_token_details: { text_tokens: 30, audio_tokens: 91 },
};

describe('parseUsage', () => {
  it('splits input into uncached text, uncached audio and cached by modality; output by modality', () => {
    expect(parseUsage(GA_USAGE)).toEqual({
      inputText: 55,
      inputAudio: 13,
      inputCachedText: 64,
      inputCachedAudio: 0,
      outputText: 30,
      outputAudio: 91,
    });
  });

  it('gives metric rows whose input rows sum to the input tokens, with cached as one modality', () => {
    const rows = tokenRows(parseUsage(GA_USAGE)!);
    expect(rows).toEqual([
      { direction: 'input', modality: 'text', tokens: 55 },
      { direction: 'input', modality: 'audio', tokens: 13 },
      { direction: 'input', modality: 'cached', tokens: 64 },
      { direction: 'output', modality: 'text', tokens: 30 },
      { direction: 'output', modality: 'audio', tokens: 91 },
    ]);
    expect(rows.filter((r) => r.direction === 'input').reduce((s, r) => s + r.tokens, 0)).toBe(GA_USAGE.input_tokens);
  });

  it('reads absent counts as zero, and an empty usage as no tokens', () => {
    expect(parseUsage({})).toEqual({ inputText: 0, inputAudio: 0, inputCachedText: 0, inputCachedAudio: 0, outputText: 0, outputAudio: 0 });
    expect(parseUsage({ output_token_details: { audio_tokens: 5 } })).toMatchObject({ outputAudio: 5, outputText: 0 });
  });

  it('attributes cached tokens without a breakdown only when one modality had input', () => {
    const textOnly = { input_token_details: { text_tokens: 100, cached_tokens: 40 } };
    expect(parseUsage(textOnly)).toMatchObject({ inputText: 60, inputCachedText: 40, inputCachedAudio: 0 });
    const audioOnly = { input_token_details: { audio_tokens: 100, cached_tokens: 40 } };
    expect(parseUsage(audioOnly)).toMatchObject({ inputAudio: 60, inputCachedAudio: 40, inputCachedText: 0 });
    // Both modalities and no breakdown: the split is unknown, so the usage is refused, not guessed.
    expect(parseUsage({ input_token_details: { text_tokens: 100, audio_tokens: 100, cached_tokens: 40 } })).toBeNull();
  });

  it('refuses malformed usage without throwing', () => {
    const cases: unknown[] = [
      undefined,
      null,
      'usage',
      42,
      [GA_USAGE],
      { input_tokens: '132' },
      { input_tokens: -1 },
      { input_tokens: 1.5 },
      { input_tokens: Number.NaN },
      { output_tokens: MAX_TOKENS_PER_RESPONSE + 1 },
      { input_token_details: 'x' },
      { input_token_details: { text_tokens: null } },
      { input_token_details: { audio_tokens: 1e300 } },
      { output_token_details: [] },
      { input_token_details: { text_tokens: 5, cached_tokens_details: 'x' } },
      // Totals without details cannot be split by modality.
      { input_tokens: 10 },
      { output_tokens: 10, input_token_details: {} },
      // More cached than input of that modality, or a breakdown over cached_tokens.
      { input_token_details: { text_tokens: 5, cached_tokens: 6, cached_tokens_details: { text_tokens: 6 } } },
      { input_token_details: { text_tokens: 50, cached_tokens: 6, cached_tokens_details: { text_tokens: 7 } } },
      { input_token_details: { text_tokens: 5, cached_tokens: 6 } },
    ];
    for (const usage of cases) expect(parseUsage(usage), JSON.stringify(usage) ?? String(usage)).toBeNull();
  });

  it('accepts the largest count and never throws on any JSON', () => {
    expect(parseUsage({ output_token_details: { text_tokens: MAX_TOKENS_PER_RESPONSE } })?.outputText).toBe(MAX_TOKENS_PER_RESPONSE);
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const u = parseUsage(v);
        if (u !== null) for (const n of Object.values(u)) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
      }),
      { numRuns: 500 },
    );
    const count = fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constant(null), fc.string());
    const details = fc.record({ text_tokens: count, audio_tokens: count, cached_tokens: count, cached_tokens_details: fc.record({ text_tokens: count, audio_tokens: count }, { requiredKeys: [] }) }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.record({ input_tokens: count, output_tokens: count, input_token_details: details, output_token_details: details }, { requiredKeys: [] }), (v) => {
        const u = parseUsage(v);
        if (u !== null) for (const n of Object.values(u)) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
