import { describe, expect, it } from 'vitest';
import { NO_USAGE, recordUsage } from '../../src/records/usage.js';
import { ZERO_USAGE } from '../../src/stream/realtime-usage.js';

describe('recordUsage', () => {
  it("keeps the API's shape: cached input is part of the text and audio counts, totals add up", () => {
    const usage = recordUsage({ inputText: 55, inputAudio: 13, inputCachedText: 64, inputCachedAudio: 0, outputText: 30, outputAudio: 91 }, 3);
    expect(usage).toEqual({ responses: 3, input: { total: 132, text: 119, audio: 13, cached: 64 }, output: { total: 121, text: 30, audio: 91 } });
  });

  it('is all zeros for a call without usage', () => {
    expect(recordUsage(ZERO_USAGE, 0)).toEqual(NO_USAGE);
  });
});
