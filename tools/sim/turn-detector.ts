/**
 * Voice activity detection as the Realtime API's server VAD behaves, reduced to what a stand-in
 * needs: speech starts on the first loud chunk, and stops after `silenceMs` of quiet audio.
 * Pure: fed audio durations and loudness, returns what happened; no clock, no I/O.
 */

export interface TurnDetectorOptions {
  /** Mean linear amplitude above which a chunk counts as speech. @default 50 (fixtures: speech ≥ 190, silence ≈ 2) */
  readonly threshold?: number;
  /** Quiet audio that ends a turn, in ms of audio (server VAD's silence_duration_ms). @default 500 */
  readonly silenceMs?: number;
}

export type TurnEvent =
  /** Speech began at `audioMs` (ms of audio received on this connection). */
  | { readonly type: 'speech_started'; readonly audioMs: number }
  /** The turn ended at `audioMs`: time to answer. */
  | { readonly type: 'speech_stopped'; readonly audioMs: number };

export class TurnDetector {
  private readonly threshold: number;
  private readonly silenceMs: number;
  private audioMs = 0;
  private speaking = false;
  private quietMs = 0;

  constructor(opts: TurnDetectorOptions = {}) {
    this.threshold = opts.threshold ?? 50;
    this.silenceMs = opts.silenceMs ?? 500;
  }

  get inSpeech(): boolean {
    return this.speaking;
  }

  /** Ms of audio seen so far. */
  get position(): number {
    return this.audioMs;
  }

  /** One chunk of `durationMs` audio with mean amplitude `amplitude`; returns the event it caused, if any. */
  push(durationMs: number, amplitude: number): TurnEvent | null {
    const startMs = this.audioMs;
    this.audioMs += durationMs;
    if (amplitude > this.threshold) {
      this.quietMs = 0;
      if (this.speaking) return null;
      this.speaking = true;
      return { type: 'speech_started', audioMs: startMs };
    }
    if (!this.speaking) return null;
    this.quietMs += durationMs;
    if (this.quietMs < this.silenceMs) return null;
    this.speaking = false;
    this.quietMs = 0;
    return { type: 'speech_stopped', audioMs: this.audioMs };
  }
}
