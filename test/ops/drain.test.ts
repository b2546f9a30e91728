/**
 * Graceful drain of a REAL server process (dist/server.js) over real sockets: SIGTERM, then the
 * contract of SPEC "readyz 503 while draining" and issue 5's drain rules.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { startFakeRealtime, type FakeRealtime } from '../../tools/fakes/fake-realtime.js';
import { connectFakeTwilio, UpgradeRejectedError } from '../../tools/fakes/fake-twilio.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { TEST_OPENAI_KEY, TEST_SECRET, testEnv } from '../helpers/config.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';
import { signedWebhook } from '../helpers/webhook.js';
import { expectRelayBothWays } from '../helpers/relay.js';
import { until } from '../helpers/until.js';

const PUBLIC_URL = 'https://voice.example.com';

const track = closeAfterEach();

async function start(env: Record<string, string> = {}): Promise<{ s: ServerProcess; realtime: FakeRealtime }> {
  const realtime = track(await startFakeRealtime({ apiKey: TEST_OPENAI_KEY }));
  const s = track(await startServerProcess(testEnv({ OPENAI_REALTIME_URL: realtime.url, PUBLIC_URL, ...env })));
  return { s, realtime };
}

/** A call as Twilio would place it after our TwiML: a minted token in the path and in start. */
async function placeCall(s: ServerProcess): Promise<FakeTwilioCall> {
  const callSid = 'CA' + randomBytes(16).toString('hex');
  const token = mintStreamToken(TEST_SECRET, callSid, Date.now(), 300);
  const call = await connectFakeTwilio({ url: `ws://127.0.0.1:${s.port}/twilio/stream/${token}`, token, callSid });
  track(() => call.socket.terminate()); // cut, not closed: a failed test must not wait for a close handshake
  return call;
}

async function postVoiceWebhook(s: ServerProcess): Promise<Response> {
  const params = { CallSid: 'CA' + randomBytes(16).toString('hex'), From: '+15550002222' };
  return fetch(`${s.baseUrl}/twilio/voice`, {
    method: 'POST',
    ...signedWebhook('/twilio/voice', params, { publicUrl: PUBLIC_URL }),
  });
}

const isMsg = (msg: string) => (r: Record<string, unknown>) => r.msg === msg;

describe('drain on SIGTERM (real process)', () => {
  it('refuses new calls in words, keeps live calls streaming, and exits 0 once they end', async () => {
    const { s, realtime } = await start({ DRAIN_TIMEOUT_SECONDS: '60' });
    const caller = readFixture('caller-8k.ulaw').subarray(0, 4000); // 0.5 s
    const agent = readFixture('agent-8k.ulaw').subarray(0, 8000); // 1 s

    expect((await fetch(`${s.baseUrl}/readyz`)).status).toBe(200);
    const call = await placeCall(s);
    const conn = await realtime.waitForConnection();
    await realtime.waitForEvent('session.update');

    s.child.kill('SIGTERM');
    await s.waitForLine(isMsg('draining: no new calls; waiting for live calls to end'));

    // Readiness flips at once; liveness stays.
    const ready = await fetch(`${s.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'draining' });
    expect((await fetch(`${s.baseUrl}/healthz`)).status).toBe(200);

    // A new call is told, in words, to call back; no stream is offered.
    const webhook = await postVoiceWebhook(s);
    expect(webhook.status).toBe(200);
    const twiml = await webhook.text();
    expect(twiml).toContain('<Say>');
    expect(twiml).toMatch(/call back/i);
    expect(twiml).not.toContain('<Stream');

    // An upgrade without valid credentials is refused before the upgrade.
    const forged = connectFakeTwilio({ url: `ws://127.0.0.1:${s.port}/twilio/stream/forged`, token: 'forged' });
    await expect(forged).rejects.toBeInstanceOf(UpgradeRejectedError);

    // A stream whose TwiML was served before the drain is still accepted.
    const late = await placeCall(s);
    const lateConn = await realtime.waitForConnection(1);

    // The live call keeps streaming both ways, byte for byte.
    await expectRelayBothWays(call, conn, caller, agent);
    expect(s.child.exitCode).toBeNull();

    // The calls end; the process follows with 0.
    expect((await call.hangUp()).code).toBe(1000);
    expect(lateConn.isOpen).toBe(true); // the late call is still up, so the process waits
    expect(s.child.exitCode).toBeNull();
    expect((await late.hangUp()).code).toBe(1000);
    const exit = await s.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const finished = s.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find(isMsg('drain finished'));
    expect(finished).toMatchObject({ outcome: 'idle', closedAtDeadline: 0 });
    expect(s.lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  });

  it('with DRAIN_TIMEOUT_SECONDS=1, closes a call that does not end with 1001, then exits 0', async () => {
    const { s, realtime } = await start({ DRAIN_TIMEOUT_SECONDS: '1' });
    const call = await placeCall(s);
    const conn = await realtime.waitForConnection();
    await realtime.waitForEvent('session.update');

    s.child.kill('SIGTERM');
    const closed = await call.closed;
    expect(closed.code).toBe(1001);
    await conn.closed;
    expect(await s.exited).toEqual({ code: 0, signal: null });
    const records = s.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.find(isMsg('drain finished'))).toMatchObject({ outcome: 'timeout', liveAtStart: 1, closedAtDeadline: 1 });
    expect(records.find((r) => r.msg === 'call ended')).toMatchObject({ reason: 'drain_timeout' });
  });

  it('with no call live, exits 0 at once', async () => {
    const { s } = await start({ DRAIN_TIMEOUT_SECONDS: '600' });
    s.child.kill('SIGINT');
    expect(await s.exited).toEqual({ code: 0, signal: null });
  });

  it('a repeat of the same signal within 1 s is an echo (npm start); another signal exits at once', async () => {
    const { s, realtime } = await start({ DRAIN_TIMEOUT_SECONDS: '600' });
    const call = await placeCall(s);
    const conn = await realtime.waitForConnection();
    s.child.kill('SIGTERM');
    await s.waitForLine(isMsg('draining: no new calls; waiting for live calls to end'));
    // Sent once the first was handled (two at once could merge into one pending signal), and
    // well within SIGNAL_ECHO_MS of it, as npm's forwarded copy arrives.
    s.child.kill('SIGTERM');
    await s.waitForLine((r) => typeof r.msg === 'string' && r.msg.startsWith('repeat of the shutdown signal'));
    // Still draining after the echo: the process alive and the call still relayed (audio sent
    // after the echo reaches the model).
    call.sendMedia(Buffer.alloc(800, 0x7f));
    await until(() => conn.appendedBytes >= 800, 10_000, 'caller audio upstream after the echo');
    expect(s.child.exitCode).toBeNull();
    expect(call.isOpen).toBe(true);

    s.child.kill('SIGINT');
    expect(await s.exited).toEqual({ code: 130, signal: null });
    await call.closed;
  });
});
