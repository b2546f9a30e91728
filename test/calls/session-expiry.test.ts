import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { pino } from 'pino';
import { watchSessionExpiry, WRAP_UP_LEAD_MS, wrapUpDelayMs } from '../../src/calls/session-expiry.js';
import { startBridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { TEST_AUTH_TOKEN } from '../helpers/config.js';
import { startFakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';

describe('watchSessionExpiry', () => {
  it('reads messages only until the expiry is known, then leaves the call\'s audio alone; the close clears its timer', () => {
    const socket = Object.assign(new EventEmitter(), { readyState: 1, send: () => undefined });
    const now = 1_000_000_000_000;
    watchSessionExpiry(socket as unknown as WebSocket, { log: pino({ level: 'silent' }), now: () => now, canHangUp: true });
    expect(socket.listenerCount('message')).toBe(1);
    socket.emit('message', Buffer.from('{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA"}'), false);
    expect(socket.listenerCount('message')).toBe(1); // not a session event: still waiting
    socket.emit('message', Buffer.from(JSON.stringify({ type: 'session.created', session: { expires_at: now / 1000 + 1800 } })), false);
    expect(socket.listenerCount('message')).toBe(0);
    socket.emit('close');
    expect(socket.listenerCount('close')).toBe(0);
  });
});

describe('wrapUpDelayMs', () => {
  it('is the time until one lead before expiry, 0 when inside the lead, null when unusable', () => {
    const now = 1_000_000_000_000;
    expect(wrapUpDelayMs(now / 1000 + 3600, now)).toBe(3_600_000 - WRAP_UP_LEAD_MS);
    expect(wrapUpDelayMs(now / 1000 + 30, now)).toBe(0);
    expect(wrapUpDelayMs(now / 1000, now)).toBeNull();
    expect(wrapUpDelayMs(now / 1000 + 40 * 86_400, now)).toBeNull();
    for (const bad of [undefined, null, '1700000000', Number.NaN, -5, 0]) expect(wrapUpDelayMs(bad, now)).toBeNull();
  });
});

const track = closeAfterEach();

describe('the Realtime session maximum duration', () => {
  it('asks the assistant to wrap up a minute early, and a hard expiry still ends the call with the apology', async () => {
    const accountSid = 'AC' + '5'.repeat(32);
    const rest = track(await startFakeTwilioRest({ accountSid, authToken: TEST_AUTH_TOKEN }));
    const bridge = track(await startBridge({ TWILIO_ACCOUNT_SID: accountSid, TWILIO_API_BASE_URL: rest.url }));
    const call = await bridge.call();
    const conn = await bridge.realtime.waitForConnection();
    await conn.waitForEvent('session.update');
    // expires_at is whole seconds: the wrap-up falls due 1 to 2 s from now.
    const expiresAt = Math.ceil((Date.now() + WRAP_UP_LEAD_MS) / 1000) + 1;
    conn.send({ type: 'session.updated', session: { ...conn.session, expires_at: expiresAt } });
    const item = await conn.waitForEvent('conversation.item.create', undefined, 4000);
    expect(item.item).toMatchObject({ type: 'message', role: 'system' });
    expect(JSON.stringify(item.item)).toContain('end_call');
    await conn.waitForEvent('response.create');
    expect(bridge.logs.records().some((r) => String(r.msg).includes('asking the assistant to wrap up'))).toBe(true);

    // The assistant did not hang up in time: the API ends the session.
    conn.send({ type: 'error', error: { type: 'invalid_request_error', code: 'session_expired', message: 'Your session hit the maximum duration of 60 minutes.' } });
    expect(await call.closed).toEqual({ code: 1011, reason: 'assistant session ended' });
    const ended = bridge.logs.records().find((r) => r.msg === 'call ended');
    expect(ended).toMatchObject({ reason: 'session_expired' });
    expect(bridge.logs.records().some((r) => r.msg === 'the Realtime session reached its maximum duration; ending the call')).toBe(true);
  });
});
