/**
 * One log line per key (a client address) per window: the first event of a window is logged,
 * the rest are counted and the count rides on the next line that is written.
 *
 * Why: an attacker controls how often a refusal happens, so a line per refusal lets them write
 * the log at wire speed (a forged-signature flood once wrote 1.7 MB in 3 s). Metrics count every
 * event; the log only has to say that it is happening, from where, and roughly how much.
 *
 * Pure apart from its bounded map; `now` (ms) comes from the caller. Keys are held least recently
 * used first, at most `maxKeys`: a dropped key just logs again on its next event.
 */

/** One line per address per minute, ms. */
export const LOG_WINDOW_MS = 60_000;

/** Addresses remembered, about 0.1 KiB each. */
export const LOG_THROTTLE_KEYS = 10_000;

interface Held {
  /** When the window that the last written line opened ends, ms. */
  readonly until: number;
  /** Events since that line that were not logged. */
  suppressed: number;
}

export class LogThrottle {
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #held = new Map<string, Held>();

  constructor(windowMs = LOG_WINDOW_MS, maxKeys = LOG_THROTTLE_KEYS) {
    this.#windowMs = windowMs;
    this.#maxKeys = Math.max(1, maxKeys);
  }

  /**
   * Whether to write a line for this event of `key` at `now`: undefined to stay quiet, else the
   * number of events left unlogged since the previous line (0 for a first line).
   */
  take(key: string, now: number): number | undefined {
    const held = this.#held.get(key);
    if (held !== undefined && now < held.until) {
      held.suppressed += 1;
      return undefined;
    }
    this.#held.delete(key);
    this.#held.set(key, { until: now + this.#windowMs, suppressed: 0 });
    if (this.#held.size > this.#maxKeys) {
      const oldest = this.#held.keys().next();
      if (oldest.done !== true) this.#held.delete(oldest.value);
    }
    return held?.suppressed ?? 0;
  }

  get size(): number {
    return this.#held.size;
  }
}
