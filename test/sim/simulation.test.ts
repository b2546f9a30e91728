import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../tools/sim/realtime-stand-in.js';
import { startLocalBridge, type LocalBridge } from '../../tools/sim/local-bridge.js';
import { runSimulation, type Progress } from '../../tools/sim/simulation.js';
import { simulateCli } from '../../tools/sim/cli.js';
import { answerCall, inboundCallParams, newCallSid, WebhookError } from '../../tools/sim/twilio-webhook.js';
import { closeAfterEach } from '../helpers/close-after-each.js';

// Everything a test opens is registered here and closed after it, even when the test fails.
const track = closeAfterEach();

/** Bridge log lines, kept for assertions. */
function logSink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

async function setup(env: Record<string, string> = {}): Promise<{ standIn: RealtimeStandIn; bridge: LocalBridge; logs: string[] }> {
  const standIn = await startRealtimeStandIn();
  track(() => standIn.close());
  const sink = logSink();
  const bridge = await startLocalBridge({ realtimeUrl: standIn.url, logStream: sink.stream, env });
  track(() => bridge.close());
  return { standIn, bridge, logs: sink.lines };
}

/** Collects what the CLI prints. */
function io(): { out: string[]; err: string[]; io: Parameters<typeof simulateCli>[1] } {
  const out: string[] = [];
  const err: string[] = [];
  const errStream = { isTTY: false, write: (s: string) => err.push(s) } as unknown as NodeJS.WriteStream;
  return { out, err, io: { out: (l) => out.push(l), err: errStream, env: {} } };
}

describe('runSimulation against an in-process bridge', () => {
  it('sets up two calls like Twilio, streams real speech both ways with a barge-in, and reports figures', async () => {
    const { standIn, bridge, logs } = await setup();
    const progress: Progress[] = [];
    const report = await runSimulation({
      target: new URL(bridge.baseUrl),
      authToken: bridge.authToken,
      calls: 2,
      durationS: 7,
      // The caller speaks again 2 s after finishing: it talks over the answer.
      gapMs: 2000,
      standIn,
      onProgress: (p) => progress.push(p),
      progressEveryMs: 500,
    });
    expect(report.totals).toMatchObject({ completed: 2, failed: 0 });
    for (const call of report.calls) {
      expect(call).toMatchObject({ outcome: 'completed', closeCode: 1000, framesSent: 350, bytesSent: 56_000, protocolErrors: 0, clears: 1 });
      // 50 media frames a second from the caller; the bridge answers with ~10 frames per second of answer audio.
      expect(call.sentPerS).toBeGreaterThan(45);
      expect(call.mediaReceived).toBeGreaterThan(5);
      expect(call.mediaReceived).toBeLessThanOrEqual(Math.ceil(call.bytesReceived / 800) + 2);
      expect(call.firstAudioMs).toBeGreaterThan(4000);
    }
    // Every caller byte reached the stand-in (exact: nothing was dropped, and the last partial
    // frame goes up at the caller's stop), in 100 ms appends: 70 whole ones per call at least.
    // A busy machine may release a few partial frames at their 100 ms deadline, so the count of
    // appends is a range (the message rate itself is measured by `npm run bench`, not here);
    // at most one append per two media frames still proves the aggregation.
    expect(report.bridgeDrops?.toUpstream).toBe(0);
    expect(report.standIn?.appendedBytes).toBe(112_000);
    expect(report.standIn?.received['input_audio_buffer.append']).toBeGreaterThanOrEqual(140);
    expect(report.standIn?.received['input_audio_buffer.append']).toBeLessThanOrEqual(350);
    expect(report.standIn?.received['conversation.item.truncate']).toBe(2);
    expect(report.standIn?.appendsPerCallPerS).toBeGreaterThan(9);
    expect(progress.length).toBeGreaterThan(5);
    expect(progress.at(-1)?.framesSent).toBeGreaterThan(500);
    expect(logs.filter((l) => JSON.parse(l).level >= 40)).toEqual([]);
  });
});

describe('simulate errors', () => {
  it('says so when nothing listens at --url', async () => {
    const c = io();
    expect(await simulateCli(['--url', 'http://127.0.0.1:1'], c.io)).toBe(1);
    expect(c.err.join('')).toBe('simulate: nothing is listening at http://127.0.0.1:1 (connection refused): is the bridge running, and is the port right?\n');
  });

  it('says so when the bridge refuses the signature, with the status and what to check', async () => {
    const { bridge } = await setup();
    const c = io();
    expect(await simulateCli(['--url', bridge.baseUrl, '--auth-token', 'not-the-token'], c.io)).toBe(1);
    const text = c.err.join('');
    expect(text).toMatch(/^simulate: the bridge refused a signed webhook \(HTTP 403: .*bad_signature.*\)/);
    expect(text).toContain('Check --auth-token (its TWILIO_AUTH_TOKEN) and --public-url (its PUBLIC_URL).');
  });

  it('prints usage and exits 2 on bad arguments', async () => {
    const c = io();
    expect(await simulateCli(['--calls', 'x'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/--calls must be a whole number .*\n[\s\S]*usage: npm run simulate/);
  });

  it('a webhook answered with a spoken refusal is a WebhookError quoting the words', async () => {
    const { bridge } = await setup();
    bridge.app.registry.startDrain();
    const err = await answerCall({ target: new URL(bridge.baseUrl), authToken: bridge.authToken, params: inboundCallParams(newCallSid()) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookError);
    expect((err as WebhookError).message).toMatch(/^the bridge declined the call: "Sorry, we are restarting/);
  });
});
