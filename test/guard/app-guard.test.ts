/**
 * The guard inside the real app (buildApp), over real sockets, with the fake Realtime upstream
 * counting connections: refusals happen before the upgrade and never open an upstream session.
 */
import { describe, expect, it } from 'vitest';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { startBridge, type Bridge } from '../helpers/bridge.js';
import { connectFakeTwilio, UpgradeRejectedError } from '../../tools/fakes/fake-twilio.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { signedWebhook } from '../helpers/webhook.js';
import { httpCall } from './harness.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';
import { TEST_SECRET } from '../helpers/config.js';

const track = closeAfterEach();

async function refusal(promise: Promise<FakeTwilioCall>): Promise<UpgradeRejectedError> {
  try {
    const call = await promise;
    call.socket.terminate();
  } catch (err) {
    if (err instanceof UpgradeRejectedError) return err;
    throw err;
  }
  throw new Error('expected the upgrade to be refused');
}

describe('the guard in the app', () => {
  it('401 without a token, then 403 with Retry-After for that IP; a valid token from it still connects', async () => {
    const bridge = track(await startBridge());
    const ip = '127.0.0.21';
    const noToken = await refusal(connectFakeTwilio({ url: bridge.streamUrl('not-a-token'), localAddress: ip }));
    expect(noToken.statusCode).toBe(401);
    const again = await refusal(connectFakeTwilio({ url: bridge.streamUrl('still-not-a-token'), localAddress: ip }));
    expect(again.statusCode).toBe(403);
    expect(Number(again.headers['retry-after'])).toBeGreaterThan(0);
    expect(bridge.realtime.upgradeAttempts).toBe(0);

    const call = await bridge.call({ localAddress: ip });
    await bridge.realtime.waitForEvent('session.update');
    expect(bridge.realtime.totalConnections).toBe(1);
    await call.hangUp();
    const rejections = await bridge.app.metrics.rejections.get();
    const byReason: Record<string, number> = Object.fromEntries(rejections.values.map((v) => [String(v.labels.reason), v.value]));
    expect(byReason.cooldown).toBe(1);
    expect(Object.values(byReason).reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('409 for a token already used, and nothing opened upstream for it', async () => {
    const bridge = track(await startBridge());
    const { callSid, token } = bridge.mint();
    const first = await connectFakeTwilio({ url: bridge.streamUrl(token), token, callSid });
    await bridge.realtime.waitForEvent('session.update');
    const replay = await refusal(connectFakeTwilio({ url: bridge.streamUrl(token), token, callSid }));
    expect(replay.statusCode).toBe(409);
    expect(bridge.realtime.totalConnections).toBe(1);
    await first.hangUp();
  });

  it('at MAX_CALLS: upgrades get 503 and the webhook speaks instead of streaming', async () => {
    const bridge = track(await startBridge({ MAX_CALLS: '1' }));
    const live = await bridge.call();
    await bridge.realtime.waitForEvent('session.update');
    const full = await refusal(bridge.call());
    expect(full.statusCode).toBe(503);
    const params = { CallSid: 'CA' + '3'.repeat(32), From: '+15550001234' };
    const res = await fetch(`http://127.0.0.1:${bridge.port}/twilio/voice`, {
      method: 'POST',
      ...signedWebhook('/twilio/voice', params),
    });
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toMatch(/<Say>[^<]*busy[^<]*<\/Say><Hangup\/>/);
    expect(xml).not.toContain('<Stream');
    expect(bridge.realtime.totalConnections).toBe(1);
    await live.hangUp();
  });

  it('refused upgrade sockets are closed, not left hanging', async () => {
    const bridge = track(await startBridge());
    for (let i = 0; i < 5; i++) {
      const err = await refusal(connectFakeTwilio({ url: bridge.streamUrl('x'.repeat(40)), localAddress: `127.0.1.${i + 1}` }));
      expect(err.statusCode).toBe(401);
    }
    expect(bridge.app.websocketServer.clients.size).toBe(0);
    expect(bridge.app.registry.live).toBe(0);
  });
});

describe('bearer credentials and the guard', () => {
  it('a wrong API token cools the IP down, but the right token from it is still served', async () => {
    const bridge = track(await startBridge({ API_TOKEN: 'api-token-for-tests-0123456789' }));
    const post = (authorization?: string) =>
      bridge.app.inject({
        method: 'POST',
        url: '/calls',
        remoteAddress: '127.0.0.31',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        payload: JSON.stringify({ to: '+15550001111' }),
      });
    expect((await post('Bearer wrong-token')).statusCode).toBe(401);
    const cooled = await post();
    expect(cooled.statusCode).toBe(403);
    expect(Number(cooled.headers['retry-after'])).toBeGreaterThan(0);
    // With the right token the request reaches the route: here it answers 503 because the
    // Twilio REST settings are not configured, which proves the guard let it through.
    const served = await post('Bearer api-token-for-tests-0123456789');
    expect(served.statusCode).toBe(503);
    expect(served.body).toContain('TWILIO_ACCOUNT_SID');
    const rejections = await bridge.app.metrics.rejections.get();
    expect(rejections.values.find((v) => v.labels.reason === 'bad_api_token')?.value).toBe(1);
  });
});

describe('surface holes closed (issue 10 item 7, issue 11 health)', () => {
  const webhook = (bridge: Bridge, from: string, params: Record<string, string>, signature?: string) => {
    const { headers, body } = signedWebhook('/twilio/voice', params, signature === undefined ? {} : { signature });
    return httpCall(bridge, 'POST', '/twilio/voice', { from, headers, body });
  };

  it('a banned address gets its validly signed webhook answered; its forged ones are refused before the route, logged once', async () => {
    const bridge = track(await startBridge());
    const from = '127.0.0.120';
    for (let i = 0; i < 21; i++) await httpCall(bridge, 'GET', '/nowhere', { from });
    expect((await httpCall(bridge, 'GET', '/nowhere', { from })).body).toMatchObject({ reason: 'banned' });
    const params = { CallSid: 'CA' + '5'.repeat(32), From: '+15550001234' };
    const answered = await webhook(bridge, from, params);
    expect(answered.status).toBe(200);
    expect(String(answered.body)).toContain('<Stream');
    for (let i = 0; i < 10; i++) {
      const forged = await webhook(bridge, from, params, 'B'.repeat(27) + '=');
      expect([forged.status, (forged.body as Record<string, unknown>).reason]).toEqual([403, 'banned']);
    }
    const lines = bridge.logs.records().filter((r) => String(r.msg).startsWith('webhook signature rejected'));
    expect(lines).toHaveLength(1);
    expect(bridge.logs.records().filter((r) => r.msg === 'serving stream TwiML')).toHaveLength(1);
  });

  it('a replayed signed webhook for a streaming call gets 409 and opens nothing; a second valid token for it gets 409 before the upgrade', async () => {
    const bridge = track(await startBridge());
    const params = { CallSid: 'CA' + '6'.repeat(32), From: '+15550001234' };
    const first = await webhook(bridge, '127.0.0.121', params);
    const token = /<Parameter name="token" value="([^"]+)"/.exec(String(first.body))?.[1];
    const call = await connectFakeTwilio({ url: bridge.streamUrl(token!), token, callSid: params.CallSid });
    await bridge.realtime.waitForEvent('session.update');
    expect(bridge.realtime.totalConnections).toBe(1); // the pre-warmed session, adopted by the stream
    const replay = await webhook(bridge, '127.0.0.122', params);
    expect([replay.status, replay.body]).toEqual([409, { error: 'Conflict', reason: 'call_live' }]);
    // A token minted for the same call some other way (a replay within the first's TTL, or before
    // the first stream connected): refused before any WebSocket exists.
    const other = mintStreamToken(TEST_SECRET, params.CallSid, Date.now() + 2_000, 300);
    const second = await refusal(connectFakeTwilio({ url: bridge.streamUrl(other), token: other, callSid: params.CallSid }));
    expect([second.statusCode, JSON.parse(second.body)]).toEqual([409, { error: 'Conflict', reason: 'call_live' }]);
    expect(bridge.realtime.totalConnections).toBe(1);
    await call.hangUp();
  });

  it('one bad-token upgrade from 127.0.0.1 leaves /healthz and /readyz answering 200 to it', async () => {
    const bridge = track(await startBridge());
    const bad = await refusal(connectFakeTwilio({ url: bridge.streamUrl('not-a-token'), localAddress: '127.0.0.1' }));
    expect(bad.statusCode).toBe(401);
    expect((await httpCall(bridge, 'GET', '/nowhere', { from: '127.0.0.1' })).status).toBe(403);
    expect((await httpCall(bridge, 'GET', '/healthz', { from: '127.0.0.1' })).body).toEqual({ status: 'ok' });
    const ready = await httpCall(bridge, 'GET', '/readyz', { from: '127.0.0.1' });
    expect([ready.status, (ready.body as Record<string, unknown>).status]).toEqual([200, 'ready']);
  });
});
