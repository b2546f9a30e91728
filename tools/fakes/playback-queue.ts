/**
 * What a phone plays, as a pure model (time is passed in, in ms on a monotonic clock): audio in
 * arrival order at 8 bytes/ms, `mark`s reached once the audio queued before them has played,
 * everything dropped on `clear`. The fake Twilio caller (caller-playback.ts) drives it.
 */
import { ULAW_BYTES_PER_MS } from './audio.js';

type QueueEntry = { kind: 'audio'; bytes: Buffer } | { kind: 'mark'; name: string };

/**
 * What a phone plays: audio in arrival order at 8 bytes/ms, marks reached when all audio queued
 * before them has played. A run of playback starts when audio arrives at an idle queue; idle time
 * between runs is not played.
 */
export class PlaybackQueue {
  private readonly queue: QueueEntry[] = [];
  private readonly played: Buffer[] = [];
  private playedTotal = 0;
  private queuedAudio = 0;
  /** Start of the current uninterrupted run (ms), or null while idle. */
  private runStartedAt: number | null = null;
  /** Bytes played since runStartedAt. */
  private runBytes = 0;
  /** Bytes dropped by clear(). */
  discardedBytes = 0;

  /** Queues received audio; returns the marks that became due up to `now` (in order). */
  enqueueAudio(bytes: Buffer, now: number): string[] {
    const due = this.advance(now);
    if (bytes.length === 0) return due;
    this.queue.push({ kind: 'audio', bytes });
    this.queuedAudio += bytes.length;
    if (this.runStartedAt === null) {
      this.runStartedAt = now;
      this.runBytes = 0;
    }
    return due;
  }

  /** Queues a mark; it is due at once when nothing is left to play before it. */
  enqueueMark(name: string, now: number): string[] {
    const due = this.advance(now);
    this.queue.push({ kind: 'mark', name });
    return due.concat(this.advance(now));
  }

  /** Plays what is due by `now`; returns the marks reached. */
  advance(now: number): string[] {
    const due: string[] = [];
    // +1e-6 keeps a timer that fires exactly at a mark's deadline from rounding to one byte short.
    let budget = this.runStartedAt === null ? 0 : Math.floor((now - this.runStartedAt) * ULAW_BYTES_PER_MS + 1e-6) - this.runBytes;
    while (this.queue.length > 0) {
      const head = this.queue[0] as QueueEntry;
      if (head.kind === 'mark') {
        due.push(head.name);
        this.queue.shift();
        continue;
      }
      if (budget <= 0) break;
      const take = Math.min(budget, head.bytes.length);
      this.played.push(head.bytes.subarray(0, take));
      this.playedTotal += take;
      this.runBytes += take;
      this.queuedAudio -= take;
      budget -= take;
      if (take === head.bytes.length) this.queue.shift();
      else this.queue[0] = { kind: 'audio', bytes: head.bytes.subarray(take) };
    }
    if (this.queuedAudio === 0) this.runStartedAt = null;
    return due;
  }

  /** Twilio `clear`: plays what was due, drops the rest; returns due then pending marks, in order. */
  clear(now: number): string[] {
    const due = this.advance(now);
    for (const entry of this.queue) {
      if (entry.kind === 'mark') due.push(entry.name);
      else this.discardedBytes += entry.bytes.length;
    }
    this.queue.length = 0;
    this.queuedAudio = 0;
    this.runStartedAt = null;
    return due;
  }

  /** When the first queued mark becomes due (ms), or null. */
  nextMarkDueAt(): number | null {
    if (this.runStartedAt === null) return null;
    let before = 0;
    for (const entry of this.queue) {
      if (entry.kind === 'mark') return this.runStartedAt + (this.runBytes + before) / ULAW_BYTES_PER_MS;
      before += entry.bytes.length;
    }
    return null;
  }

  /** When the queued audio will have played out (ms), or null when nothing is queued. */
  drainsAt(): number | null {
    return this.runStartedAt === null ? null : this.runStartedAt + (this.runBytes + this.queuedAudio) / ULAW_BYTES_PER_MS;
  }

  get playedBytes(): number {
    return this.playedTotal;
  }
  get queuedBytes(): number {
    return this.queuedAudio;
  }
  get pendingMarks(): number {
    return this.queue.filter((e) => e.kind === 'mark').length;
  }
  playedAudio(): Buffer {
    return Buffer.concat(this.played, this.playedTotal);
  }
}
