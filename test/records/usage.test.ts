import { describe, expect, it } from 'vitest';
import { addUsage, MAX_TOKENS_PER_RESPONSE, NO_USAGE, readUsage } from '../../src/records/usage.js';

describe('readUsage', () => {
  it('reads a response.done usage by direction and modality', () => {
    const usage = readUsage({
      total_tokens: 253,
      input_tokens: 132,
      output_tokens: 121,
      input_token_details: { text_tokens: 119, audio_tokens: 13, image_tokens: 0, cached_tokens: 64 },
      output_token_details: { text_tokens: 30, audio_tokens: 91 },
    });
    expect(usage).toEqual({ responses: 1, input: { total: 132, text: 119, audio: 13, cached: 64 }, output: { total: 121, text: 30, audio: 91 } });
  });

  it('counts junk fields as 0 and is null for no usage object at all', () => {
    expect(readUsage(undefined)).toBeNull();
    expect(readUsage('lots')).toBeNull();
    expect(readUsage([1, 2])).toBeNull();
    expect(
      readUsage({
        input_tokens: -5,
        output_tokens: '7',
        input_token_details: { text_tokens: 1.5, audio_tokens: MAX_TOKENS_PER_RESPONSE + 1, cached_tokens: Number.NaN },
        output_token_details: null,
      }),
    ).toEqual(addUsage(NO_USAGE, { ...NO_USAGE, responses: 1 }));
  });

  it('sums over responses', () => {
    const one = readUsage({ input_tokens: 10, output_tokens: 20, input_token_details: { audio_tokens: 10 }, output_token_details: { audio_tokens: 20 } })!;
    expect(addUsage(addUsage(NO_USAGE, one), one)).toEqual({
      responses: 2,
      input: { total: 20, text: 0, audio: 20, cached: 0 },
      output: { total: 40, text: 0, audio: 40 },
    });
  });
});
