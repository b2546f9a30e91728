/**
 * One call's counters, and the app-wide totals read from them.
 *
 * Each call counts into its own `CallStats` (plain numbers: the hot path adds to a field, nothing
 * else). The call's `call ended` line and summary print that object; the app's Prometheus counters
 * read the same objects at collect time through `CallCounters` (the sum over ended calls plus the
 * live ones). So a frame is counted once, in one place, and the metrics cannot disagree with the
 * per-call figures.
 *
 * Every audio byte is accounted for, each way:
 *   callerAudioBytesIn = bytesToUpstream + droppedToUpstream.bytes + discardedToUpstream
 *   modelAudioBytesIn  = bytesToTwilio + droppedToTwilio.bytes + discardedToTwilio
 * once the call has ended (while it runs, the difference is what the frame pumps hold).
 * `dropped` is audio lost to a problem (backpressure, a full hold buffer, caller audio faster than
 * real time); `discarded` is audio given up by design (cleared at a barge-in, or still held when
 * the call ended), so an alert on drops does not fire on every hang-up mid-sentence.
 */
import type { DropCounter } from './backpressure.js';

export interface CallStats {
  twilioMessagesIn: number;
  twilioMessagesOut: number;
  upstreamMessagesIn: number;
  upstreamMessagesOut: number;
  framesToUpstream: number;
  bytesToUpstream: number;
  framesToTwilio: number;
  bytesToTwilio: number;
  droppedToUpstream: DropCounter;
  droppedToTwilio: DropCounter;
  invalidFrames: number;
  bargeIns: number;
  /** µ-law bytes of valid `media` payloads from the caller. */
  callerAudioBytesIn: number;
  /** µ-law bytes of valid audio deltas from the model. */
  modelAudioBytesIn: number;
  /** Caller audio still held when the call ended (bytes). */
  discardedToUpstream: number;
  /** Model audio cleared at a barge-in or still held when the call ended (bytes). */
  discardedToTwilio: number;
  /** Caller audio refused by the pacer (also in droppedToUpstream). */
  tooFastBytes: number;
  /** Keypresses relayed to the model, and those refused as faster than a person presses keys. */
  keypresses: number;
  keypressesDropped: number;
}

export function newCallStats(): CallStats {
  return {
    twilioMessagesIn: 0,
    twilioMessagesOut: 0,
    upstreamMessagesIn: 0,
    upstreamMessagesOut: 0,
    framesToUpstream: 0,
    bytesToUpstream: 0,
    framesToTwilio: 0,
    bytesToTwilio: 0,
    droppedToUpstream: { frames: 0, bytes: 0 },
    droppedToTwilio: { frames: 0, bytes: 0 },
    invalidFrames: 0,
    bargeIns: 0,
    callerAudioBytesIn: 0,
    modelAudioBytesIn: 0,
    discardedToUpstream: 0,
    discardedToTwilio: 0,
    tooFastBytes: 0,
    keypresses: 0,
    keypressesDropped: 0,
  };
}

/** Adds every count of `from` into `into`. */
function addInto(into: CallStats, from: CallStats): void {
  for (const key of Object.keys(into) as (keyof CallStats)[]) {
    const a = into[key];
    const b = from[key];
    if (typeof a === 'number' && typeof b === 'number') (into[key] as number) = a + b;
    else if (typeof a === 'object' && typeof b === 'object') {
      a.frames += b.frames;
      a.bytes += b.bytes;
    }
  }
}

/**
 * The app's calls' counters: live calls' `CallStats` plus what ended calls had reached. Totals
 * are monotonic (a call's counts only grow, and it moves to the ended sum with what it had), which
 * is what Prometheus counters need. Reading a total walks the live calls (≤ MAX_CALLS), once per
 * series per scrape — never per frame.
 */
export class CallCounters {
  readonly #live = new Set<CallStats>();
  readonly #ended = newCallStats();

  /** A new call's counters, counted in the totals from now on. */
  open(): CallStats {
    const stats = newCallStats();
    this.#live.add(stats);
    return stats;
  }

  /** The call ended: what it reached joins the ended sum; later additions to `stats` are not seen. */
  close(stats: CallStats): void {
    if (this.#live.delete(stats)) addInto(this.#ended, stats);
  }

  /** Σ read(stats) over every call, ended and live. */
  total(read: (stats: CallStats) => number): number {
    let sum = read(this.#ended);
    for (const stats of this.#live) sum += read(stats);
    return sum;
  }
}
