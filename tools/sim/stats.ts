/**
 * Small figures kept by the simulator: latency samples with percentiles, and the worst gap
 * between events. Bounded memory: samples beyond the cap replace random earlier ones
 * (reservoir sampling), so percentiles stay fair over a long run.
 */

/** Samples kept per series; beyond it, reservoir sampling. 200,000 doubles = 1.6 MB. */
export const MAX_SAMPLES = 200_000;

export class Samples {
  private readonly values: number[] = [];
  /** Samples offered, including those not kept. */
  count = 0;
  max = 0;
  private sum = 0;

  add(value: number): void {
    this.count += 1;
    this.sum += value;
    if (value > this.max) this.max = value;
    if (this.values.length < MAX_SAMPLES) {
      this.values.push(value);
      return;
    }
    const slot = Math.floor(Math.random() * this.count);
    if (slot < MAX_SAMPLES) this.values[slot] = value;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The p-th percentile (0–100), nearest rank; NaN when empty. */
  percentile(p: number): number {
    if (this.values.length === 0) return Number.NaN;
    const sorted = [...this.values].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank] as number;
  }

  summary(): { count: number; p50: number; p99: number; max: number; mean: number } {
    return { count: this.count, p50: this.percentile(50), p99: this.percentile(99), max: this.max, mean: this.mean };
  }

  reset(): void {
    this.values.length = 0;
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }
}

/** The longest interval between consecutive `note()`s, ignoring intervals of `ignoreAboveMs` or more (pauses, not stalls). */
export class GapMeter {
  private last: number | null = null;
  max = 0;
  private readonly ignoreAboveMs: number;

  constructor(ignoreAboveMs = Number.POSITIVE_INFINITY) {
    this.ignoreAboveMs = ignoreAboveMs;
  }

  note(now: number): void {
    if (this.last !== null) {
      const gap = now - this.last;
      if (gap > this.max && gap < this.ignoreAboveMs) this.max = gap;
    }
    this.last = now;
  }

  /** Forgets the worst gap so far (a new measurement window); the next interval still counts. */
  resetMax(): void {
    this.max = 0;
  }

  /** Forgets the last event too (the stream paused on purpose). */
  restart(): void {
    this.last = null;
  }
}
