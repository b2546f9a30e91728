/**
 * Frame aggregator: turns a stream of small µ-law chunks into few, large WebSocket frames.
 *
 * Twilio sends 20 ms media messages (160 bytes) and the model sends audio deltas of any size;
 * forwarding each as-is is what made this bridge a traffic storm. Here bytes are held until a
 * frame is full (`frameBytes`, 800 bytes = 100 ms at 8 kHz µ-law) or until `windowMs` after the
 * first byte of the frame arrived, whichever comes first.
 *
 * Pure: no timers, no clock. Every call takes `now` (ms, any monotonic clock); the caller arms
 * at most one timer at `deadline()` (see frame-pump.ts) and calls `due(now)` when it fires.
 * `deadline()` is null while nothing is held, so no timer needs to run while the buffer is empty.
 *
 * Guarantees (tested as properties):
 * - bytes leave exactly as they came, in order, none duplicated or lost (until `discard()`);
 * - after any call with `now`, no byte is held past its deadline: `deadline()` is null or > now;
 * - between calls to `push` fewer than `frameBytes` bytes are held, so the buffer's own size is
 *   bounded by `frameBytes - 1` (the named limit); what leaves is the caller's to pace
 *   (backpressure). `add` holds more until the caller's `takeFull` (one I/O turn, see FramePump).
 *
 * Frames may share memory with the pushed chunks (subarray, no copy when a frame is exactly one
 * chunk or a slice of one), so callers must not mutate a chunk after pushing it.
 */

/** µ-law at 8 kHz: one byte per sample, 8 samples per millisecond. */
export const MULAW_BYTES_PER_MS = 8;

/**
 * Default cap on one coalesced outbound frame: 8000 bytes = 1 s of audio.
 * Why a cap at all: (1) barge-in granularity — audio already handed to Twilio is only stopped
 * by `clear`, and a frame is the unit we can drop under backpressure, so a frame should not
 * carry more than about a second of speech; (2) message size — 8000 bytes is 10 668 base64
 * characters, about 10.5 KiB of JSON, far under the 64 KiB message limit on either side.
 */
export const DEFAULT_MAX_FRAME_BYTES = 8_000;

/**
 * - `exact`: every frame is exactly `frameBytes` except a partial one emitted at its deadline or
 *   by `flush()`. For caller audio to OpenAI, which expects a steady stream of even frames.
 * - `coalesce`: once at least `frameBytes` are held, everything held leaves as ONE frame, up to
 *   `maxFrameBytes`. For model audio to Twilio: the model speaks faster than real time, so a
 *   large delta leaves as one large frame instead of many 100 ms ones.
 */
export type AggregationMode = 'exact' | 'coalesce';

export interface FrameAggregatorOptions {
  /** Bytes in a full frame. @default 800 (100 ms of 8 kHz µ-law) */
  readonly frameBytes?: number;
  /** Longest a byte may wait for its frame to fill, in ms. @default 100 */
  readonly windowMs?: number;
  readonly mode: AggregationMode;
  /** Largest frame in `coalesce` mode, in bytes (≥ frameBytes). @default max(8000, frameBytes) */
  readonly maxFrameBytes?: number;
}

/** One pushed chunk, or what is left of it, with the time its first byte arrived. */
interface Held {
  buf: Buffer;
  readonly at: number;
}

export class FrameAggregator {
  readonly frameBytes: number;
  readonly windowMs: number;
  readonly mode: AggregationMode;
  readonly maxFrameBytes: number;

  /** Held chunks, oldest first. */
  private held: Held[] = [];
  private pending = 0;

  constructor(options: FrameAggregatorOptions) {
    this.frameBytes = options.frameBytes ?? 100 * MULAW_BYTES_PER_MS;
    this.windowMs = options.windowMs ?? 100;
    this.mode = options.mode;
    this.maxFrameBytes = options.maxFrameBytes ?? Math.max(DEFAULT_MAX_FRAME_BYTES, this.frameBytes);
    if (!Number.isSafeInteger(this.frameBytes) || this.frameBytes < 1) {
      throw new RangeError(`frameBytes must be a positive integer (got ${this.frameBytes})`);
    }
    if (!Number.isFinite(this.windowMs) || this.windowMs < 0) {
      throw new RangeError(`windowMs must be a finite number >= 0 (got ${this.windowMs})`);
    }
    if (!Number.isSafeInteger(this.maxFrameBytes) || this.maxFrameBytes < this.frameBytes) {
      throw new RangeError(`maxFrameBytes must be an integer >= frameBytes (got ${this.maxFrameBytes})`);
    }
  }

  /** Bytes held, waiting for their frame to fill or their deadline. */
  get pendingBytes(): number {
    return this.pending;
  }

  /**
   * Adds a chunk received at `now` and returns the frames ready now (possibly none): full
   * frames, then the partial one if its deadline has already passed (a late timer or a late
   * call must not hold bytes longer than the window). Empty chunks are ignored.
   */
  push(chunk: Buffer, now: number): Buffer[] {
    this.add(chunk, now);
    const frames = this.takeFull();
    const late = this.due(now);
    if (late.length > 0) frames.push(...late);
    return frames;
  }

  /**
   * Holds a chunk received at `now` without taking frames: the caller will call `takeFull()`
   * soon (e.g. once the current burst of deltas has been read) so one frame can span many
   * deltas. Empty chunks are ignored.
   */
  add(chunk: Buffer, now: number): void {
    if (chunk.length === 0) return;
    this.held.push({ buf: chunk, at: now });
    this.pending += chunk.length;
  }

  /** Takes every full frame held: `frameBytes` each (exact) or all held up to `maxFrameBytes` each (coalesce). */
  takeFull(): Buffer[] {
    const frames: Buffer[] = [];
    while (this.pending >= this.frameBytes) {
      const size = this.mode === 'exact' ? this.frameBytes : Math.min(this.pending, this.maxFrameBytes);
      frames.push(this.take(size));
    }
    return frames;
  }

  /** When the held partial frame must leave (ms, same clock as `now`); null while empty. */
  deadline(): number | null {
    const oldest = this.held[0];
    return oldest === undefined ? null : oldest.at + this.windowMs;
  }

  /** The partial frame, if its deadline is at or before `now`; else nothing. */
  due(now: number): Buffer[] {
    const deadline = this.deadline();
    if (deadline === null || now < deadline) return [];
    return [this.take(this.pending)];
  }

  /** Everything held, as one frame (e.g. at the end of a response or the call); null if empty. */
  flush(): Buffer | null {
    return this.pending === 0 ? null : this.take(this.pending);
  }

  /** Drops everything held (barge-in) and returns how many bytes were dropped. */
  discard(): number {
    const dropped = this.pending;
    this.held = [];
    this.pending = 0;
    return dropped;
  }

  /** Removes the oldest `size` bytes (1 ≤ size ≤ pending) as one Buffer, copying only when a frame spans chunks. */
  private take(size: number): Buffer {
    const parts: Buffer[] = [];
    let need = size;
    while (need > 0) {
      const first = this.held[0];
      if (first === undefined) throw new Error('FrameAggregator invariant broken: pending exceeds held bytes');
      if (first.buf.length <= need) {
        parts.push(first.buf);
        need -= first.buf.length;
        // shift() is O(held): fine, because fewer than frameBytes bytes (so chunks) are ever held.
        this.held.shift();
      } else {
        parts.push(first.buf.subarray(0, need));
        // The rest of a split chunk keeps its arrival time: its bytes arrived with the chunk.
        first.buf = first.buf.subarray(need);
        need = 0;
      }
    }
    this.pending -= size;
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
  }
}
