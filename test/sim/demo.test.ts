import { describe, expect, it } from 'vitest';
import { runDemo } from '../../tools/demo/run-demo.js';

describe('npm run demo', () => {
  it('takes one call through the real bridge end to end, with one barge-in, and reports it', async () => {
    const lines: string[] = [];
    const summary = await runDemo({ print: (l) => lines.push(l) });

    // The timeline walks through the call in order.
    const steps = summary.timeline.map((e) => e.step);
    const order = ['webhook', 'twiml', 'upgrade', 'start', 'upstream', 'audio_up', 'answer', 'audio_down', 'barge_in', 'clear', 'truncate', 'hangup', 'end'];
    let at = -1;
    for (const step of order) {
      const i = steps.indexOf(step as (typeof steps)[number], at + 1);
      expect(i, `${step} after ${order[order.indexOf(step) - 1]}`).toBeGreaterThan(at);
      at = i;
    }
    expect(summary.timeline.filter((e) => e.step === 'barge_in')).toHaveLength(1);
    expect(steps.filter((s) => s === 'answer').length).toBeGreaterThanOrEqual(2);

    // Caller audio reached the model exactly, in 100 ms appends (~10 a second of audio).
    expect(summary.byteExact).toBe(true);
    expect(summary.appendedBytes).toBeGreaterThan(summary.callerBytes - 800);
    expect(summary.appendsPerS).toBeGreaterThan(9);
    expect(summary.appendsPerS).toBeLessThanOrEqual(10.5);
    // Model audio reached the caller in ~10 messages a second of audio (media + marks + clear), not 50.
    expect(summary.media).toBeGreaterThan(10);
    expect(summary.twilioMessagesPerS).toBeLessThanOrEqual(11);
    expect(summary.deltas).toBeGreaterThan(summary.media * 4);
    // The barge-in: Twilio cleared, the answer was truncated at what the caller heard (±100 ms).
    expect(summary.clears).toBe(1);
    expect(Math.abs(summary.truncateAudioEndMs - summary.heardMsAtBargeIn)).toBeLessThanOrEqual(100);
    expect(summary.bargeIns).toBe(1);
    // A clean ending: the caller hung up, nothing dropped, nothing logged at warn or above.
    expect(summary.endReason).toBe('twilio_stop');
    expect(summary.droppedToUpstream).toBe(0);
    expect(summary.droppedToTwilio).toBe(0);
    expect(summary.warnings).toEqual([]);

    expect(lines.some((l) => l.startsWith('summary ('))).toBe(true);
    expect(lines.join('\n')).toContain('byte-exact: yes');
  }, 45_000);
});
