/**
 * Comparing two µ-law recordings by their loudness over time, robustly: the browser's capture
 * path (noise suppression, gain control, resampling twice) changes every sample, and where the
 * recording starts in the fixture depends on when the stream opened. So both are reduced to the
 * mean amplitude of each 100 ms window, and the recording is slid along the fixture to the lag
 * where their speech and silence agree best.
 */
import { meanAmplitude } from '../../tools/sim/ulaw.js';

/** 100 ms of µ-law at 8 kHz. */
export const WINDOW_BYTES = 800;

export function envelope(ulaw: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o + WINDOW_BYTES <= ulaw.length; o += WINDOW_BYTES) out.push(meanAmplitude(ulaw.subarray(o, o + WINDOW_BYTES)));
  return out;
}

export interface EnvelopeMatch {
  /** Windows of the fixture before the recording's first window (negative: the recording starts earlier). */
  readonly lag: number;
  /** Of the fixture's speech windows, the share the recording has loud at that lag. */
  readonly speechHeard: number;
  /** Of the fixture's quiet windows, the share the recording has quiet at that lag. */
  readonly quietKept: number;
  /** The fixture's speech windows that the recording covers at that lag. */
  readonly speechWindows: number;
}

/**
 * The lag (within ±maxLag windows) where the recording's loud/quiet windows best agree with the
 * fixture's. A fixture window is speech above `speech`, quiet below `quiet`; a recording window is
 * loud above a tenth of its own loudest windows' level (its gain is unknown).
 */
export function matchEnvelope(fixture: readonly number[], recording: readonly number[], opts: { speech: number; quiet: number; maxLag: number }): EnvelopeMatch {
  const sorted = [...recording].sort((a, b) => b - a);
  const loudLevel = sorted[Math.floor(sorted.length * 0.1)] ?? 0;
  const loud = (v: number): boolean => v > loudLevel / 10;
  let best: EnvelopeMatch = { lag: 0, speechHeard: 0, quietKept: 0, speechWindows: 0 };
  for (let lag = -opts.maxLag; lag <= opts.maxLag; lag++) {
    let speech = 0;
    let heard = 0;
    let quiet = 0;
    let kept = 0;
    for (let i = 0; i < fixture.length; i++) {
      const r = recording[i - lag];
      if (r === undefined) continue;
      const f = fixture[i] as number;
      if (f > opts.speech) {
        speech++;
        if (loud(r)) heard++;
      } else if (f < opts.quiet) {
        quiet++;
        if (!loud(r)) kept++;
      }
    }
    const candidate = { lag, speechHeard: speech ? heard / speech : 0, quietKept: quiet ? kept / quiet : 0, speechWindows: speech };
    if (candidate.speechHeard + candidate.quietKept > best.speechHeard + best.quietKept) best = candidate;
  }
  return best;
}
