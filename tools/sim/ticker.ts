/**
 * One timer driving many real-time streams. Each task ticks once per period (20 ms, one Twilio
 * frame) at its own phase, so a thousand calls spread their frames over the period instead of
 * all firing in one burst, and the load generator runs one timer instead of one per call.
 *
 * Ticks are due at `phase + k × period` on a monotonic clock; a late timer catches up by
 * ticking each task once per period missed (real-time pace is kept, bursts only under lag).
 */

export interface TickTask {
  /** Called once per period; `now` is the monotonic ms clock at the tick. */
  tick(now: number): void;
}

export interface PhaseTickerOptions {
  /** @default 20 (ms) */
  readonly periodMs?: number;
  /** How often the timer wakes, ms. Smaller spreads load more evenly. @default 2 */
  readonly resolutionMs?: number;
  /** @default performance.now */
  readonly now?: () => number;
}

export class PhaseTicker {
  readonly periodMs: number;
  private readonly resolutionMs: number;
  private readonly now: () => number;
  /** One bucket per ms of the period; a task lives in the bucket of its phase. */
  private readonly buckets: Set<TickTask>[];
  private readonly phaseOf = new Map<TickTask, number>();
  private timer: NodeJS.Timeout | null = null;
  /** Last whole ms processed. */
  private doneUntil = 0;
  /** Largest lateness seen (ms) since the last reset: how far the generator fell behind. */
  maxLateMs = 0;

  constructor(opts: PhaseTickerOptions = {}) {
    this.periodMs = opts.periodMs ?? 20;
    this.resolutionMs = opts.resolutionMs ?? 2;
    this.now = opts.now ?? (() => performance.now());
    this.buckets = Array.from({ length: this.periodMs }, () => new Set<TickTask>());
  }

  get size(): number {
    return this.phaseOf.size;
  }

  /**
   * Adds `task` at the phase of `startMs` (default now): it ticks at the next ms with that phase
   * (within ~resolution if that is now), then every period.
   */
  add(task: TickTask, startMs = this.now()): void {
    if (this.phaseOf.has(task)) return;
    const phase = Math.floor(startMs) % this.periodMs;
    this.phaseOf.set(task, phase);
    (this.buckets[phase] as Set<TickTask>).add(task);
    if (this.timer === null) {
      this.doneUntil = Math.floor(this.now());
      this.timer = setInterval(() => this.run(), this.resolutionMs);
    }
  }

  remove(task: TickTask): void {
    const phase = this.phaseOf.get(task);
    if (phase === undefined) return;
    this.phaseOf.delete(task);
    (this.buckets[phase] as Set<TickTask>).delete(task);
    if (this.phaseOf.size === 0) this.stop();
  }

  /** Stops the timer (tasks stay registered; adding one restarts it). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private run(): void {
    const now = this.now();
    const until = Math.floor(now);
    for (let ms = this.doneUntil + 1; ms <= until; ms++) {
      const bucket = this.buckets[ms % this.periodMs] as Set<TickTask>;
      if (bucket.size === 0) continue;
      const late = now - ms;
      if (late > this.maxLateMs) this.maxLateMs = late;
      for (const task of bucket) task.tick(now);
    }
    this.doneUntil = Math.max(this.doneUntil, until);
  }
}
