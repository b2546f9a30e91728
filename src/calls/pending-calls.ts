/**
 * What a call was given before its stream starts, kept by CallSid until the stream (or its
 * pre-warmed upstream) takes it: the assistant profile, resolved once (at `POST /calls`, or at the
 * webhook from the called number), and `POST /calls`'s per-call greeting. One entry per call:
 * single use, bounded (src/lru.ts), expiring; time is passed in.
 */
import { Lru } from '../lru.js';
import type { Assistant } from '../assistants/assistant.js';

/**
 * How long a `POST /calls` entry waits for its call, in ms: Twilio lets a call ring up to 600 s,
 * and the webhook comes when it is answered. 11 minutes covers that and a little queueing.
 */
export const PLACED_CALL_TTL_MS = 11 * 60_000;
/** Entries held at once; over it the oldest is dropped (that call gets the default profile and greeting). */
export const MAX_PENDING_CALLS = 1_000;
/** Oldest entries looked at per write for expiry: a bounded sweep, no timer. */
const SWEEP_LOOKS = 8;

export interface PendingCall {
  /** The call's profile (an `"instructions"` override already applied). */
  readonly assistant: Assistant;
  /** `POST /calls`'s greeting for this call; it wins over the profile's. */
  readonly greeting: string | undefined;
}

interface Entry {
  readonly call: PendingCall;
  readonly expiresAt: number;
}

export class PendingCalls {
  readonly #entries: Lru<string, Entry>;

  constructor(opts: { limit?: number } = {}) {
    this.#entries = new Lru(opts.limit ?? MAX_PENDING_CALLS);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Remembers `call` for `callSid` for `ttlMs`. @returns how many older entries were dropped to make room. */
  set(callSid: string, call: PendingCall, now: number, ttlMs: number): number {
    this.#entries.dropStale(SWEEP_LOOKS, (entry) => entry.expiresAt <= now);
    return this.#entries.set(callSid, { call, expiresAt: now + ttlMs });
  }

  /** `callSid`'s entry, left in place (a pre-warm reads it; the stream takes it). */
  peek(callSid: string, now: number): PendingCall | undefined {
    const entry = this.#entries.peek(callSid);
    return entry && entry.expiresAt > now ? entry.call : undefined;
  }

  /** `callSid`'s entry, removed (single use); undefined when none or expired. */
  take(callSid: string, now: number): PendingCall | undefined {
    const call = this.peek(callSid, now);
    this.#entries.delete(callSid);
    return call;
  }

  /** Forgets `callSid` (the call ended without a stream). */
  delete(callSid: string): void {
    this.#entries.delete(callSid);
  }
}
