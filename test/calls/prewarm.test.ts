import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startBridge, type Bridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { TEST_AUTH_TOKEN } from '../helpers/config.js';
import { connectFakeTwilio } from '../../tools/fakes/fake-twilio.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { startFakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { signedWebhook } from '../helpers/webhook.js';
import { until } from '../helpers/until.js';

const PUBLIC_URL = 'https://voice.example.com';
const caller = readFixture('caller-8k.ulaw').subarray(0, 8000);

const track = closeAfterEach();

const newCallSid = () => 'CA' + randomBytes(16).toString('hex');

/** POSTs a Twilio webhook, signed unless `signature` says otherwise. */
async function webhook(b: Bridge, path: string, params: Record<string, string>, signature?: string | null) {
  const { headers, payload } = signedWebhook(path, params, {
    publicUrl: PUBLIC_URL,
    ...(signature === null ? { authToken: null } : signature === undefined ? {} : { signature }),
  });
  return b.app.inject({ method: 'POST', url: path, headers, payload });
}

function tokenFrom(twiml: string): string {
  const token = /<Parameter name="token" value="([^"]+)"\/>/.exec(twiml)?.[1];
  if (!token) throw new Error(`no stream token in ${twiml}`);
  return token;
}

async function stream(b: Bridge, callSid: string, token: string): Promise<FakeTwilioCall> {
  const call = await connectFakeTwilio({ url: b.streamUrl(token), token, callSid });
  // Cut, not closed: a test that failed half-way must not wait for a close handshake.
  track(() => call.socket.terminate());
  return call;
}

/** voice_bridge_prewarm_total by outcome. */
async function prewarmOutcomes(b: Bridge): Promise<Record<string, number>> {
  const values = (await b.app.metrics.prewarms.get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]));
}

describe('pre-warmed upstream sessions', () => {
  it('open and configure at a signed webhook, and the stream adopts it: one upstream connection in total', async () => {
    const bridge = track(await startBridge({ GREETING: 'Thanks for calling the test line.' }));
    const callSid = newCallSid();
    const res = await webhook(bridge, '/twilio/voice', { CallSid: callSid, From: '+15550002222' });
    expect(res.statusCode).toBe(200);
    const conn = await bridge.realtime.waitForConnection(0);
    await conn.waitForEvent('session.update');
    expect(bridge.app.registry.reserved).toBe(1);
    expect(bridge.app.registry.live).toBe(1);
    // The greeting waits for the caller: spoken into an empty line it would be lost.
    expect(conn.count('response.create')).toBe(0);

    const call = await stream(bridge, callSid, tokenFrom(res.body));
    const greeting = await conn.waitForEvent('response.create');
    expect(JSON.stringify(greeting)).toContain('Thanks for calling the test line.');
    expect(bridge.app.registry.reserved).toBe(0);

    await call.streamAudio(caller, { realTime: false });
    await bridge.realtime.waitForEvent('input_audio_buffer.append');
    await until(() => conn.appendedBytes >= caller.length, 5000, 'caller audio upstream');
    expect(conn.appendedAudio().equals(caller)).toBe(true);
    expect(bridge.realtime.upgradeAttempts).toBe(1);
    expect(bridge.realtime.totalConnections).toBe(1);
    expect(conn.count('session.update')).toBe(1);
    expect(conn.count('response.create')).toBe(1);
    expect(await prewarmOutcomes(bridge)).toEqual({ adopted: 1 });

    await call.hangUp();
    await conn.closed;
  });

  it('is off with PREWARM=off: the webhook opens nothing, the stream opens its upstream at start', async () => {
    const bridge = track(await startBridge({ PREWARM: 'off' }));
    const callSid = newCallSid();
    const res = await webhook(bridge, '/twilio/voice', { CallSid: callSid });
    expect(res.statusCode).toBe(200);
    expect(bridge.app.registry.live).toBe(0); // no slot reserved: no pre-warm
    const call = await stream(bridge, callSid, tokenFrom(res.body));
    await bridge.realtime.waitForEvent('session.update');
    expect(bridge.realtime.upgradeAttempts).toBe(1);
    expect(await prewarmOutcomes(bridge)).toEqual({});
    await call.hangUp();
  });

  it('is adopted while still connecting (300 ms handshake), with session.update before the greeting', async () => {
    const bridge = track(await startBridge({ GREETING: 'Hello.' }, { realtime: { handshakeDelayMs: 300 } }));
    const callSid = newCallSid();
    const res = await webhook(bridge, '/twilio/outbound', { CallSid: callSid, To: '+15550003333' });
    const call = await stream(bridge, callSid, tokenFrom(res.body));
    const conn = await bridge.realtime.waitForConnection(0);
    await conn.waitForEvent('response.create');
    expect(conn.events.slice(0, 2).map((e) => e.type)).toEqual(['session.update', 'response.create']);
    expect(bridge.realtime.upgradeAttempts).toBe(1);
    await call.hangUp();
  });

  it('is closed when no stream comes in time, and its call slot is released', async () => {
    const bridge = track(await startBridge({}, { deps: { prewarmTimeoutMs: 300 } }));
    await webhook(bridge, '/twilio/voice', { CallSid: newCallSid() });
    const conn = await bridge.realtime.waitForConnection(0);
    expect(bridge.app.registry.live).toBe(1);
    const closed = await conn.closed;
    expect(closed.code).toBe(1000);
    expect(bridge.app.registry.live).toBe(0);
    expect(bridge.logs.records().some((r) => r.msg === 'no stream for the pre-warmed upstream in time; closing it')).toBe(true);
    expect(await prewarmOutcomes(bridge)).toEqual({ expired: 1 });
  });

  it('opens nothing for an unsigned or wrongly signed webhook', async () => {
    const bridge = track(await startBridge());
    const params = { CallSid: newCallSid(), From: '+15550002222' };
    expect((await webhook(bridge, '/twilio/voice', params, null)).statusCode).toBe(403);
    expect((await webhook(bridge, '/twilio/voice', params, 'bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==')).statusCode).toBe(403);
    expect((await webhook(bridge, '/twilio/outbound', params, null)).statusCode).toBe(403);
    // A pre-warm reserves its slot before the webhook answers: none was.
    expect(bridge.app.registry.live).toBe(0);
    // A signed webhook after them pre-warms, and its upstream is the only one ever asked for
    // (one for a refused webhook would have been asked for before it).
    expect((await webhook(bridge, '/twilio/voice', { CallSid: newCallSid() })).statusCode).toBe(200);
    await bridge.realtime.waitForConnection(0);
    expect(bridge.realtime.upgradeAttempts).toBe(1);
  });

  it('is off when webhook signatures are not checked (no TWILIO_AUTH_TOKEN)', async () => {
    const bridge = track(await startBridge({ TWILIO_AUTH_TOKEN: undefined }));
    const callSid = newCallSid();
    const res = await webhook(bridge, '/twilio/voice', { CallSid: callSid }, null);
    expect(res.statusCode).toBe(200);
    expect(bridge.app.registry.live).toBe(0); // no slot reserved: no pre-warm
    // The stream still works: its upstream opens at start, and is the only one asked for.
    const call = await stream(bridge, callSid, tokenFrom(res.body));
    await bridge.realtime.waitForEvent('session.update');
    expect(bridge.realtime.upgradeAttempts).toBe(1);
    await call.hangUp();
  });

  it('counts toward MAX_CALLS, and a repeated webhook for the same call opens no second one', async () => {
    const bridge = track(await startBridge({ MAX_CALLS: '1' }));
    const callSid = newCallSid();
    const first = await webhook(bridge, '/twilio/voice', { CallSid: callSid });
    const again = await webhook(bridge, '/twilio/voice', { CallSid: callSid });
    expect(again.statusCode).toBe(200);
    const other = await webhook(bridge, '/twilio/voice', { CallSid: newCallSid() });
    expect(other.body).toContain('all of our lines are busy');
    await bridge.realtime.waitForConnection(0);
    expect(bridge.app.registry.live).toBe(1);

    // The admitted call's own stream is not refused because of its reservation.
    const call = await stream(bridge, callSid, tokenFrom(first.body));
    await call.streamAudio(caller.subarray(0, 1600), { realTime: false });
    await bridge.realtime.waitForEvent('input_audio_buffer.append');
    expect(bridge.app.registry.reserved).toBe(0);
    expect(bridge.realtime.totalConnections).toBe(1);
    expect(bridge.realtime.upgradeAttempts).toBe(1);
    await call.hangUp();
  });
});

describe('outbound calls end to end', () => {
  it('speaks the greeting given to POST /calls on that call, and call-status closes an orphaned pre-warm', async () => {
    const accountSid = 'AC' + '3'.repeat(32);
    const rest = track(await startFakeTwilioRest({ accountSid, authToken: TEST_AUTH_TOKEN }));
    const bridge = track(
      await startBridge({
        API_TOKEN: 'calls-api-token-for-tests-0123456789',
        TWILIO_ACCOUNT_SID: accountSid,
        TWILIO_PHONE_NUMBER: '+15550001111',
        TWILIO_API_BASE_URL: rest.url,
        GREETING: 'The default greeting.',
      }),
    );
    const placed = await bridge.app.inject({
      method: 'POST',
      url: '/calls',
      headers: { authorization: 'Bearer calls-api-token-for-tests-0123456789', 'content-type': 'application/json' },
      payload: { to: '+15557654321', greeting: 'Hi, this is a reminder about your appointment.' },
    });
    const { callSid } = placed.json<{ callSid: string }>();

    // Twilio fetches the outbound webhook once the callee answers.
    const res = await webhook(bridge, '/twilio/outbound', { CallSid: callSid, To: '+15557654321', CallStatus: 'in-progress' });
    const conn = await bridge.realtime.waitForConnection(0);
    const call = await stream(bridge, callSid, tokenFrom(res.body));
    const greeting = await conn.waitForEvent('response.create');
    expect(JSON.stringify(greeting)).toContain('Hi, this is a reminder about your appointment.');
    expect(JSON.stringify(greeting)).not.toContain('The default greeting.');
    await call.hangUp();

    // A second call answered, then hung up before its stream: call-status closes its pre-warm.
    const second = newCallSid();
    await webhook(bridge, '/twilio/outbound', { CallSid: second, To: '+15557654321' });
    const orphan = await bridge.realtime.waitForConnection(1);
    expect((await webhook(bridge, '/twilio/call-status', { CallSid: second, CallStatus: 'completed' }, null)).statusCode).toBe(403);
    expect(orphan.isOpen).toBe(true);
    const status = await webhook(bridge, '/twilio/call-status', { CallSid: second, CallStatus: 'completed', CallDuration: '3' });
    expect(status.statusCode).toBe(204);
    expect((await orphan.closed).code).toBe(1000);
    expect(bridge.app.registry.live).toBe(0);
    const line = bridge.logs.records().find((r) => r.msg === 'outbound call completed');
    expect(line).toMatchObject({ callSid: second, callStatus: 'completed', callDurationSeconds: 3 });
  });
});
