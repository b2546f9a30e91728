/**
 * Per-call greetings from `POST /calls`, kept by CallSid until the call's stream (or its
 * pre-warmed upstream) takes them. Single use, bounded (src/lru.ts), expiring; time is passed in.
 */
import { Lru } from '../lru.js';

/**
 * How long a greeting waits for its call, in ms: Twilio lets a call ring up to 600 s, and the
 * webhook comes when it is answered. 11 minutes covers that and a little queueing.
 */
export const GREETING_TTL_MS = 11 * 60_000;
/** Greetings held at once; over it the oldest is dropped (that call falls back to GREETING). */
export const MAX_PENDING_GREETINGS = 1_000;

interface Entry {
  readonly text: string;
  readonly expiresAt: number;
}

export class PendingGreetings {
  /**
   * Only `set` touches an entry (`take` only peeks), so use order is insertion order, which is
   * expiry order (one TTL for all): expired entries sit at the old end.
   */
  readonly #entries: Lru<string, Entry>;
  readonly #ttlMs: number;

  constructor(opts: { ttlMs?: number; limit?: number } = {}) {
    this.#ttlMs = opts.ttlMs ?? GREETING_TTL_MS;
    this.#entries = new Lru(opts.limit ?? MAX_PENDING_GREETINGS);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Remembers `text` for `callSid`. @returns how many older greetings were dropped to make room. */
  set(callSid: string, text: string, now: number): number {
    this.#sweep(now);
    return this.#entries.set(callSid, { text, expiresAt: now + this.#ttlMs });
  }

  /** The greeting for `callSid`, removed (single use); undefined when none or expired. */
  take(callSid: string, now: number): string | undefined {
    this.#sweep(now);
    const entry = this.#entries.peek(callSid);
    this.#entries.delete(callSid);
    return entry?.text;
  }

  /** Forgets `callSid`'s greeting (the call ended without a stream). */
  delete(callSid: string): void {
    this.#entries.delete(callSid);
  }

  #sweep(now: number): void {
    for (const [callSid, entry] of this.#entries) {
      if (entry.expiresAt > now) return;
      this.#entries.delete(callSid);
    }
  }
}
