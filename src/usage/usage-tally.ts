/**
 * One call's model usage: the tokens of every `response.done`, summed. The session owns one per
 * call; at the call's end `summary()` is what its end line (and call record) carries.
 */
import { parseUsage, ZERO_USAGE, type TokenUsage } from '../stream/realtime-usage.js';
import { estimateCostUsd } from './cost.js';
import type { Prices } from './prices.js';

/** What the end-of-call line shows: tokens by direction and modality, and the cost when priced. */
export interface UsageSummary {
  /** `response.done` events whose usage was counted. */
  readonly responses: number;
  /** `response.done` events whose usage was present but unusable (see parseUsage). */
  readonly unreadable: number;
  readonly tokens: {
    readonly input: { readonly text: number; readonly audio: number; readonly cached: number };
    readonly output: { readonly text: number; readonly audio: number };
  };
  /** Estimated USD, rounded to 1e-6; absent without prices. */
  readonly costUsd?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class UsageTally {
  readonly #sum: Mutable<TokenUsage> = { ...ZERO_USAGE };
  #responses = 0;
  #unreadable = 0;

  /**
   * Counts one `response.done`'s `response.usage` as received. @returns the parsed counts (for
   * the token counters), or null when absent or unusable (absent is not counted as unreadable).
   */
  record(rawUsage: unknown): TokenUsage | null {
    if (rawUsage === undefined || rawUsage === null) return null;
    const usage = parseUsage(rawUsage);
    if (usage === null) this.#unreadable++;
    else this.add(usage);
    return usage;
  }

  add(usage: TokenUsage): void {
    this.#responses++;
    for (const key of Object.keys(this.#sum) as (keyof TokenUsage)[]) this.#sum[key] += usage[key];
  }

  get responses(): number {
    return this.#responses;
  }

  get unreadable(): number {
    return this.#unreadable;
  }

  /** The sums so far, frozen. */
  totals(): TokenUsage {
    return Object.freeze({ ...this.#sum });
  }

  /** Estimated USD so far, or null without prices. */
  costUsd(prices: Prices | undefined | null): number | null {
    return estimateCostUsd(this.#sum, prices);
  }

  summary(prices: Prices | undefined | null): UsageSummary {
    const s = this.#sum;
    const cost = this.costUsd(prices);
    return {
      responses: this.#responses,
      unreadable: this.#unreadable,
      tokens: {
        input: { text: s.inputText, audio: s.inputAudio, cached: s.inputCachedText + s.inputCachedAudio },
        output: { text: s.outputText, audio: s.outputAudio },
      },
      ...(cost === null ? {} : { costUsd: Math.round(cost * 1e6) / 1e6 }),
    };
  }
}
