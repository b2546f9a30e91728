/**
 * Caller audio held while the upstream socket is still connecting.
 *
 * Bounded by `limitBytes` (2 s of µ-law by default): the caller's first words are worth keeping
 * through a normal handshake, but a stalled one must not grow memory. On overflow the OLDEST
 * frames are dropped and counted, so what the model finally hears is the most recent speech.
 */
import type { DropCounter } from './backpressure.js';

export class HeldAudio {
  private frames: Buffer[] = [];
  private bytes = 0;

  constructor(readonly limitBytes: number) {}

  get heldBytes(): number {
    return this.bytes;
  }

  push(frame: Buffer, dropped: DropCounter): void {
    this.frames.push(frame);
    this.bytes += frame.length;
    while (this.bytes > this.limitBytes && this.frames.length > 0) {
      const oldest = this.frames.shift()!;
      this.bytes -= oldest.length;
      dropped.frames += 1;
      dropped.bytes += oldest.length;
    }
  }

  /** Empties the buffer, returning its frames oldest first. */
  takeAll(): Buffer[] {
    const frames = this.frames;
    this.frames = [];
    this.bytes = 0;
    return frames;
  }
}
