/**
 * Playback tracker: how much of the assistant's audio the caller has actually heard, for ONE
 * stream, so a barge-in can truncate the interrupted item (`conversation.item.truncate`,
 * `audio_end_ms`) at what was heard rather than at what was generated or sent.
 *
 * Model. Twilio plays the audio we send as one queue, in order, at real time (8 bytes = 1 ms of
 * µ-law). A frame sent at `t` starts playing at max(t, when the queue runs dry), so we keep one
 * number, `playEnd`: the time at which everything sent so far will have played. Then at `now`
 *   unplayed = max(0, playEnd − now),  played position = sent − unplayed  (ms of audio).
 * Before any echo this extrapolates from when the first frame was sent; gaps (the model slower
 * than real time) are accounted for because the queue waits for the next frame.
 *
 * Marks correct the model. Twilio echoes a `mark` once all audio sent before it has played, so
 * an echo at `now` means "position = the mark's offset, now"; `playEnd` is re-anchored to
 * now + (audio sent after the mark). Our send time precedes the real start of playback by the
 * network and jitter-buffer delay, so echoes usually move the estimate back by that much: the
 * estimate is non-decreasing in time between echoes, and an echo may lower it (that is its job).
 *
 * Mark cadence (message rate matters: a mark per frame would double it): one mark after the
 * frame that brings the audio since the last mark to ≥ MARK_INTERVAL_MS (5 s), and one when a
 * response's audio is done (`response.output_audio.done`) if audio was sent since the last mark.
 * So at most one mark per 5 s of audio plus one per response: ≈ 0.2–0.35 extra messages per second
 * of answers, against ~10 media frames. Sparse marks cost little accuracy: between echoes the
 * estimate runs at real time, which is how Twilio plays, so its error is the send-to-play lag
 * (tens of ms), not the distance from the last mark.
 *
 * Bounds: outstanding marks ≤ MAX_OUTSTANDING_MARKS (overflow drops the oldest: its echo is then
 * ignored and a later mark anchors instead); tracked items ≤ MAX_TRACKED_ITEMS (fully played items
 * are pruned; overflow drops the oldest).
 *
 * Barge-in order for the session: heard(now) → discard pending outbound audio → send `clear` →
 * reset() → send the truncate. `clear` makes Twilio echo every outstanding mark at once; reset()
 * forgets them and names are never reused, so those echoes are ignored as unknown. When
 * `playedAll()` (Twilio has echoed a mark that follows every byte sent) and nothing is pending,
 * the caller is not talking over anything: there is nothing to clear or truncate.
 *
 * Assumes an item's audio is sent contiguously (the model streams one item, then the next) and
 * that frames do not straddle items (flush the outbound aggregator when an item's audio is done).
 * `now` may be any clock in ms (local monotonic, or Twilio's media `timestamp`) used consistently.
 */
import { MULAW_BYTES_PER_MS } from './frame-aggregator.js';

/** Audio between interim marks, in ms. @default 5000 */
export const MARK_INTERVAL_MS = 5_000;
/** Marks awaiting Twilio's echo. 32 × 5 s ≈ 2.7 minutes of unplayed audio: reached only if Twilio stalls. */
export const MAX_OUTSTANDING_MARKS = 32;
/** Items kept for attribution; more than 2–3 with unplayed audio at once means something is wrong. */
export const MAX_TRACKED_ITEMS = 16;

export interface PlaybackTrackerOptions {
  /** @default MARK_INTERVAL_MS */
  readonly markIntervalMs?: number;
  /** @default MAX_OUTSTANDING_MARKS */
  readonly maxOutstandingMarks?: number;
  /** Mark names are `${prefix}${n}`, n counting up for the tracker's life. @default 'vb-' */
  readonly markPrefix?: string;
}

export interface Heard {
  /** The item being played at `now` (or the last item, fully played). */
  readonly itemId: string;
  /** Whole ms of that item's audio heard: 0 ≤ audioEndMs ≤ ms sent for it. */
  readonly audioEndMs: number;
  /** Items sent after it that have not started playing (the session may delete them). */
  readonly unheardItemIds: readonly string[];
}

interface ItemSpan {
  readonly itemId: string;
  /** Offset of its first byte in all audio sent since reset, ms. */
  readonly startMs: number;
  sentMs: number;
}

interface OutstandingMark {
  readonly name: string;
  /** Offset, in all audio sent since reset, of the audio end the mark follows, ms. */
  readonly atMs: number;
}

export class PlaybackTracker {
  private readonly markIntervalMs: number;
  private readonly maxOutstandingMarks: number;
  private readonly markPrefix: string;

  private items: ItemSpan[] = [];
  private marks: OutstandingMark[] = [];
  /** All audio sent since reset, ms (fractional: bytes / 8). */
  private sentMs = 0;
  /** Predicted time at which all sent audio has played; null before the first frame. */
  private playEnd: number | null = null;
  private sinceMarkMs = 0;
  private markSeq = 0;
  /** Offset of the audio end covered by the last echoed mark, ms (Twilio has played up to here). */
  private echoedMs = 0;

  constructor(options: PlaybackTrackerOptions = {}) {
    this.markIntervalMs = options.markIntervalMs ?? MARK_INTERVAL_MS;
    this.maxOutstandingMarks = options.maxOutstandingMarks ?? MAX_OUTSTANDING_MARKS;
    this.markPrefix = options.markPrefix ?? 'vb-';
    if (!(this.markIntervalMs > 0)) throw new RangeError('markIntervalMs must be > 0');
    if (!Number.isSafeInteger(this.maxOutstandingMarks) || this.maxOutstandingMarks < 1) {
      throw new RangeError('maxOutstandingMarks must be an integer >= 1');
    }
  }

  get outstandingMarks(): number {
    return this.marks.length;
  }

  /**
   * Records a frame of `bytes` µ-law bytes of item `itemId` handed to Twilio at `now`.
   * @returns `mark`: the name of a mark to send right after this frame, when one is due.
   */
  onAudioSent(itemId: string, bytes: number, now: number): { mark?: string } {
    if (!(bytes > 0)) return {};
    const ms = bytes / MULAW_BYTES_PER_MS;
    let item = this.items.at(-1);
    if (item?.itemId !== itemId) {
      this.prune(now);
      item = { itemId, startMs: this.sentMs, sentMs: 0 };
      this.items.push(item);
      if (this.items.length > MAX_TRACKED_ITEMS) this.items.shift();
    }
    this.playEnd = Math.max(now, this.playEnd ?? now) + ms;
    item.sentMs += ms;
    this.sentMs += ms;
    this.sinceMarkMs += ms;
    return this.sinceMarkMs >= this.markIntervalMs ? { mark: this.newMark() } : {};
  }

  /** The response's audio is done: a mark to send after the last frame, or null if one already follows it. */
  onResponseDone(): string | null {
    return this.sinceMarkMs > 0 ? this.newMark() : null;
  }

  /** Twilio echoed mark `name` at `now`. @returns false (and changes nothing) for unknown or stale names. */
  onMarkEchoed(name: string, now: number): boolean {
    const i = this.marks.findIndex((m) => m.name === name);
    const mark = this.marks[i];
    if (mark === undefined) return false;
    // Twilio plays in order, so every earlier mark has played too.
    this.marks.splice(0, i + 1);
    this.playEnd = now + (this.sentMs - mark.atMs);
    this.echoedMs = mark.atMs;
    return true;
  }

  /**
   * Whether Twilio has confirmed that everything sent since reset has played: the last echoed
   * mark follows the last byte sent. Not an estimate (unlike heard()); false when nothing was sent.
   */
  playedAll(): boolean {
    return this.sentMs > 0 && this.echoedMs >= this.sentMs;
  }

  /** What the caller has heard by `now`; null when no audio was sent since the last reset. */
  heard(now: number): Heard | null {
    const played = this.playedMs(now);
    const i = this.items.findIndex((it) => played < it.startMs + it.sentMs);
    const item = i === -1 ? this.items.at(-1) : this.items[i];
    if (item === undefined) return null;
    const raw = i === -1 ? item.sentMs : played - item.startMs;
    const audioEndMs = Math.floor(Math.min(item.sentMs, Math.max(0, raw)));
    const unheardItemIds = i === -1 ? [] : this.items.slice(i + 1).map((it) => it.itemId);
    return { itemId: item.itemId, audioEndMs, unheardItemIds };
  }

  /** Forgets all audio and marks (after `clear` + truncate). Mark names keep counting up. */
  reset(): void {
    this.items = [];
    this.marks = [];
    this.sentMs = 0;
    this.playEnd = null;
    this.sinceMarkMs = 0;
    this.echoedMs = 0;
  }

  /** Position in all audio sent since reset that has played by `now`, ms. */
  private playedMs(now: number): number {
    if (this.playEnd === null) return 0;
    return Math.max(0, this.sentMs - Math.max(0, this.playEnd - now));
  }

  private newMark(): string {
    this.markSeq += 1;
    const name = `${this.markPrefix}${this.markSeq}`;
    this.marks.push({ name, atMs: this.sentMs });
    if (this.marks.length > this.maxOutstandingMarks) this.marks.shift();
    this.sinceMarkMs = 0;
    return name;
  }

  /** Drops items that have fully played by `now`, keeping the last one. */
  private prune(now: number): void {
    const played = this.playedMs(now);
    let drop = 0;
    while (drop < this.items.length - 1) {
      const it = this.items[drop] as ItemSpan;
      if (it.startMs + it.sentMs > played) break;
      drop += 1;
    }
    if (drop > 0) this.items.splice(0, drop);
  }
}
