/**
 * The fake Twilio caller's ear: the bridge's `media`, `mark` and `clear` played the way a phone
 * plays them (playback-queue.ts), on real timers. Each `mark` is echoed only once the audio queued
 * before it has played, and all pending marks at once on `clear` (Twilio: "empties the audio buffer
 * and sends back mark messages matching any remaining mark messages").
 */
import { monotonicNow } from './clock.js';
import { PlaybackQueue } from './playback-queue.js';
import type { BridgeMessage } from './twilio-messages.js';

export interface EchoedMark {
  name: string;
  /** Bytes played when it was echoed. */
  playedBytes: number;
  /** Echoed because of `clear` rather than because its audio played. */
  cleared: boolean;
}

export interface CallerPlaybackOptions {
  /** Sends the echo of mark `name` back to the bridge (a closed socket sends nothing). */
  readonly echo: (name: string) => void;
  /** Whether the socket is open: no timers are kept for a closed one. */
  readonly isOpen: () => boolean;
}

export class CallerPlayback {
  /** Every mark echoed so far, in order. */
  readonly echoed: EchoedMark[] = [];

  private readonly queue = new PlaybackQueue();
  private readonly received: Buffer[] = [];
  private receivedLength = 0;
  private timer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];
  private readonly opts: CallerPlaybackOptions;

  constructor(opts: CallerPlaybackOptions) {
    this.opts = opts;
  }

  /**
   * Queues a valid message from the bridge (`audio`: a media message's decoded payload) and
   * returns the marks that became due at `now`; `settle` echoes them.
   */
  take(message: BridgeMessage, audio: Buffer | null, now: number): string[] {
    if (message.event === 'media' && audio !== null) {
      this.received.push(audio);
      this.receivedLength += audio.length;
      return this.queue.enqueueAudio(audio, now);
    }
    if (message.event === 'mark') return this.queue.enqueueMark(message.mark.name, now);
    return this.queue.clear(now);
  }

  /** Echoes `due` (marks `take` returned) and sets the timer for the next one. */
  settle(due: string[], cleared: boolean): void {
    this.echo(due, cleared);
    this.schedule();
  }

  /** Every media byte received, including audio later cleared. */
  receivedAudio(): Buffer {
    return Buffer.concat(this.received, this.receivedLength);
  }
  get receivedBytes(): number {
    return this.receivedLength;
  }
  /** What the caller actually heard so far. */
  playedAudio(): Buffer {
    this.tick();
    return this.queue.playedAudio();
  }
  get playedBytes(): number {
    this.tick();
    return this.queue.playedBytes;
  }
  /** Received, not yet played (µ-law bytes). */
  get queuedBytes(): number {
    this.tick();
    return this.queue.queuedBytes;
  }
  /** Bytes dropped from the playback queue by `clear`. */
  get clearedBytes(): number {
    return this.queue.discardedBytes;
  }

  /** Resolves once all received audio has played (at once if nothing is queued). */
  waitForIdle(): Promise<void> {
    if (this.queuedBytes === 0 || !this.opts.isOpen()) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.schedule();
    });
  }

  /** The socket closed: no more timers; whoever waits for idle is released. */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.releaseIdleWaiters();
  }

  /** Advances playback to now and echoes the marks that became due. */
  private tick(): void {
    this.echo(this.queue.advance(monotonicNow()), false);
  }

  private echo(names: string[], cleared: boolean): void {
    for (const name of names) {
      this.echoed.push({ name, playedBytes: this.queue.playedBytes, cleared });
      this.opts.echo(name);
    }
    if (this.queue.queuedBytes === 0 && this.idleWaiters.length > 0) this.releaseIdleWaiters();
  }

  private releaseIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * One timer, due at the next mark (or at drain when someone waits for it); none when idle.
   * Not unref'd: stop() clears it, and a ref'd timer shows up in leak checks.
   */
  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!this.opts.isOpen()) return;
    const markAt = this.queue.nextMarkDueAt();
    const drainAt = this.idleWaiters.length > 0 ? this.queue.drainsAt() : null;
    const at = markAt === null ? drainAt : drainAt === null ? markAt : Math.min(markAt, drainAt);
    if (at === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick();
      this.schedule();
    }, Math.max(0, at - monotonicNow()));
  }
}
