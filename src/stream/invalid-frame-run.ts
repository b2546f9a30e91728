/**
 * How many invalid frames from Twilio a call tolerates: a run, not a total (twilio-protocol.ts
 * gives each frame its verdict).
 */

/** Consecutive invalid frames that close the socket (1008). Config: INVALID_FRAME_LIMIT. @default 10 */
export const INVALID_FRAME_LIMIT = 10;

/**
 * Counts consecutive invalid frames. A valid frame resets the run; the `limit`-th invalid frame
 * in a row is the verdict to close (1008). Counting a run, not a total, keeps one odd frame in
 * a long call harmless while a peer that sends only junk is cut off after `limit` frames.
 */
export class InvalidFrameRun {
  private run = 0;

  constructor(readonly limit: number = INVALID_FRAME_LIMIT) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer >= 1 (got ${limit})`);
  }

  /** Invalid frames in the current run. */
  get count(): number {
    return this.run;
  }

  /** Records one frame's verdict. @returns true when the socket must close (limit reached). */
  record(ok: boolean): boolean {
    if (ok) {
      this.run = 0;
      return false;
    }
    this.run += 1;
    return this.run >= this.limit;
  }
}
