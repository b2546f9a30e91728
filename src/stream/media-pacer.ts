/**
 * Media pacer: caller audio may not arrive much faster than it is spoken.
 *
 * Twilio sends 20 ms `media` messages at real time, with jitter and, after a network stall, a
 * catch-up burst of what it held back. A stream holder that pushes audio faster than that would
 * have the bridge relay it all upstream — billed input audio (measured before this: 449× real
 * time from one stream). So each call has a token bucket in µ-law bytes: it refills at real time
 * (8 bytes per ms) up to `burstBytes`, and each media payload spends its length. A payload the
 * bucket cannot pay for is not relayed (the session counts it as dropped).
 *
 * Pure: no clock of its own; every call takes `now` in ms (monotonic).
 */
import { MULAW_BYTES_PER_MS } from './frame-aggregator.js';

/**
 * How far ahead of real time a caller may get, in ms of audio: generous enough for any catch-up
 * burst Twilio sends after a stall (its stream buffer holds a few seconds), small enough that
 * an abuser gains at most this much audio once. @default 10 000
 */
export const MEDIA_BURST_MS = 10_000;

/**
 * Audio refused as too fast, in ms, after which the stream is closed (1008) rather than
 * policed frame by frame: a Twilio stream never gets this far ahead. @default 5 000
 */
export const MEDIA_TOO_FAST_CLOSE_MS = 5_000;

export class MediaPacer {
  private readonly burstBytes: number;
  /** Bytes the caller may still send ahead of real time. */
  private credit: number;
  private last: number;

  constructor(now: number, burstMs: number = MEDIA_BURST_MS) {
    this.burstBytes = burstMs * MULAW_BYTES_PER_MS;
    // A full bucket at the start: audio held back while the stream was set up may arrive at once.
    this.credit = this.burstBytes;
    this.last = now;
  }

  /** May `bytes` of audio arriving at `now` be relayed? Spends the credit when it may. */
  admit(bytes: number, now: number): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      const credit = this.credit + elapsed * MULAW_BYTES_PER_MS;
      this.credit = credit > this.burstBytes ? this.burstBytes : credit;
      this.last = now;
    }
    if (bytes > this.credit) return false;
    this.credit -= bytes;
    return true;
  }
}
