/**
 * The assistant's audio on its way to the caller, and what the caller has heard of it.
 *
 * Model deltas (any size) are coalesced into ≥ 100 ms Twilio `media` frames (one per I/O turn
 * for a burst), never mixing two items; the playback tracker follows what has played so a
 * barge-in clears Twilio's queue and truncates the model's item at what the caller heard. Call
 * control waits here for a goodbye to finish playing (`afterPlayout`).
 */
import type { CallContext } from './call-context.js';
import type { TwilioLeg } from './twilio-leg.js';
import type { UpstreamLeg } from './upstream-leg.js';
import { FrameAggregator, MULAW_BYTES_PER_MS } from './frame-aggregator.js';
import { FramePump } from './frame-pump.js';
import { PlaybackTracker } from './playback-tracker.js';
import { truncateItem } from './realtime-events.js';

export class AssistantAudio {
  readonly #ctx: CallContext;
  readonly #twilio: TwilioLeg;
  readonly #upstream: UpstreamLeg;
  readonly #pump: FramePump;
  readonly #playback = new PlaybackTracker();
  /** The model item whose audio the pump currently holds. */
  #item: string | null = null;
  /** Call control waiting on its marks: name → listener (true: echoed; false: the call ended first). */
  readonly #playoutWatch = new Map<string, (played: boolean) => void>();
  #playoutSeq = 0;
  #closed = false;

  constructor(ctx: CallContext, twilio: TwilioLeg, upstream: UpstreamLeg) {
    this.#ctx = ctx;
    this.#twilio = twilio;
    this.#upstream = upstream;
    const frameBytes = ctx.config.audioFrameMs * MULAW_BYTES_PER_MS;
    this.#pump = new FramePump({
      aggregator: new FrameAggregator({ mode: 'coalesce', frameBytes, windowMs: ctx.config.audioFrameMs }),
      onFrame: (frame) => this.#send(frame),
      now: ctx.now,
      setTimer: ctx.setTimer,
      setTurn: ctx.setTurn,
      // Deltas read in one burst leave as one frame (up to 1 s) instead of many 100 ms ones.
      perTurn: true,
    });
  }

  /** `response.output_audio.delta`: µ-law bytes of `itemId`. */
  delta(itemId: string, audio: Buffer): void {
    this.#ctx.stats.modelAudioBytesIn += audio.length;
    if (itemId !== this.#item) {
      // Frames never mix two items: what is held belongs to the previous one.
      this.#pump.flush();
      this.#item = itemId;
    }
    this.#pump.push(audio);
  }

  /** `response.output_audio.done`: send the tail now rather than up to one window later, then mark the end of the answer. */
  done(): void {
    this.#pump.flush();
    const mark = this.#playback.onResponseDone();
    if (mark) this.#twilio.sendMark(mark);
  }

  #send(frame: Buffer): void {
    const item = this.#item;
    if (this.#closed || item === null || !this.#twilio.started) {
      this.#discard(frame.length);
      return;
    }
    if (!this.#twilio.sendAudio(frame)) return; // dropped under backpressure, counted there
    const { mark } = this.#playback.onAudioSent(item, frame.length, this.#ctx.now());
    if (mark) this.#twilio.sendMark(mark);
  }

  #discard(bytes: number): void {
    this.#ctx.stats.discardedToTwilio += bytes;
  }

  /** Twilio echoed `name`: the tracker re-anchors; call control's watcher, if any, hears it played. */
  markEchoed(name: string): void {
    this.#playback.onMarkEchoed(name, this.#ctx.now());
    const watcher = this.#playoutWatch.get(name);
    this.#playoutWatch.delete(name);
    watcher?.(true);
  }

  /**
   * The caller started speaking: stop the assistant where the caller stopped hearing it.
   * @returns true when the caller spoke over the assistant (a barge-in); false when nothing was playing
   */
  bargeIn(): boolean {
    const discarded = this.#pump.discard();
    this.#discard(discarded);
    const playback = this.#playback;
    if (discarded === 0 && playback.playedAll()) {
      // Twilio confirmed (mark echo) that the whole answer has played and nothing is pending: the
      // caller speaks after the assistant, not over it. A clear and a truncate at the full length
      // would change nothing and cost a message each way per turn.
      return false;
    }
    const heard = playback.heard(this.#ctx.now());
    if (!heard && discarded === 0) return false;
    this.#ctx.stats.bargeIns += 1;
    this.#twilio.sendClear();
    if (heard) this.#upstream.send(truncateItem(heard.itemId, heard.audioEndMs));
    this.#ctx.log.debug({ discardedBytes: discarded, audioEndMs: heard?.audioEndMs }, 'barge-in');
    playback.reset();
    this.#item = null;
    return true;
  }

  /**
   * `listener(true)` once all audio sent so far has played on the phone (Twilio echoes a mark sent
   * after it), `listener(false)` if the call ends first. Returns a function that stops watching.
   */
  afterPlayout(listener: (played: boolean) => void): () => void {
    if (this.#closed || !this.#twilio.started) {
      listener(false);
      return () => undefined;
    }
    this.#pump.flush();
    const name = `vb-playout-${++this.#playoutSeq}`;
    this.#playoutWatch.set(name, listener);
    this.#twilio.sendMark(name);
    return () => this.#playoutWatch.delete(name);
  }

  /** The call ended: held audio is discarded (counted), and every playout watcher hears `false`. */
  close(): void {
    if (this.#closed) return;
    this.#discard(this.#pump.close());
    this.#closed = true;
    this.endWatches();
  }

  /** Tells every playout watcher the call ended (also when an orderly close failed half-way). */
  endWatches(): void {
    for (const watcher of this.#playoutWatch.values()) watcher(false);
    this.#playoutWatch.clear();
  }
}
