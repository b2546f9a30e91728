/**
 * One call's model usage, wired: each `response.done`'s usage goes into the call's UsageTally (its
 * end line and call record) and into the app's token counter, and with prices into its cost
 * counter, both labelled with the call's profile name. Without prices nothing is priced.
 */
import type { Metrics } from '../metrics.js';
import type { CallAssistant } from '../stream/upstream.js';
import { tokenRows, type TokenUsage } from '../stream/realtime-usage.js';
import { estimateCostUsd } from './cost.js';
import { UsageTally, type UsageSummary } from './usage-tally.js';

/** What a call's record keeps of its usage (CallSummary.usage). */
export interface CallUsageTotals {
  readonly assistant: string;
  /** Tokens summed over the call, by direction and modality (cached input apart). */
  readonly tokens: TokenUsage;
  /** `response.done` events counted, and those whose usage was present but unusable. */
  readonly responses: number;
  readonly unreadable: number;
  /** Estimated USD; null without prices. */
  readonly costUsd: number | null;
}

/** What became of one response.done's usage. */
export type UsageOutcome = 'counted' | 'absent' | 'unreadable';

export class CallUsage {
  readonly #tally = new UsageTally();
  readonly #assistant: CallAssistant;
  readonly #metrics: Pick<Metrics, 'modelTokens' | 'modelCost'>;
  readonly #label: string;

  constructor(assistant: CallAssistant, metrics: Pick<Metrics, 'modelTokens' | 'modelCost' | 'assistantLabel'>) {
    this.#assistant = assistant;
    this.#metrics = metrics;
    this.#label = metrics.assistantLabel(assistant.name);
  }

  /** Counts one `response.done`'s `response.usage`, as received. */
  record(rawUsage: unknown): UsageOutcome {
    if (rawUsage === undefined || rawUsage === null) return 'absent';
    const usage = this.#tally.record(rawUsage);
    if (usage === null) return 'unreadable';
    for (const row of tokenRows(usage)) this.#metrics.modelTokens.labels(row.direction, row.modality, this.#label).inc(row.tokens);
    const cost = estimateCostUsd(usage, this.#assistant.prices);
    if (cost !== null) this.#metrics.modelCost.labels(this.#label).inc(cost);
    return 'counted';
  }

  /** For the `call ended` line: tokens by direction and modality, and the cost when priced. */
  summary(): UsageSummary {
    return this.#tally.summary(this.#assistant.prices);
  }

  totals(): CallUsageTotals {
    return {
      assistant: this.#assistant.name,
      tokens: this.#tally.totals(),
      responses: this.#tally.responses,
      unreadable: this.#tally.unreadable,
      costUsd: this.#tally.costUsd(this.#assistant.prices),
    };
  }
}
