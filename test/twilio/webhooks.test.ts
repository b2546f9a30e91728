import { describe, expect, it } from 'vitest';
import twilio from 'twilio';
import { buildApp } from '../../src/app.js';
import { verifyStreamToken } from '../../src/twilio/stream-token.js';
import { captureLogs } from '../helpers/log-capture.js';
import { signedWebhook } from '../helpers/webhook.js';
import { TEST_AUTH_TOKEN, TEST_OPENAI_KEY, TEST_SECRET, testConfig } from '../helpers/config.js';
import { createMetrics } from '../../src/metrics.js';
import { CallRegistry } from '../../src/call-registry.js';
import { closeAfterEach } from '../helpers/close-after-each.js';

const CALL_SID = 'CAaaaabbbbccccddddeeeeffff00001111';
const PUBLIC_URL = 'https://voice.example.com';

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

function sign(path: string, params: Record<string, string>, token = TEST_AUTH_TOKEN, base = PUBLIC_URL): string {
  return twilio.getExpectedTwilioSignature(token, base + path, params);
}

const track = closeAfterEach();

async function makeApp(env: Record<string, string | undefined> = {}, registry?: CallRegistry) {
  const config = testConfig(env);
  const logs = captureLogs(config);
  const app = track(await buildApp(config, { logger: logs.logger, metrics: createMetrics({ processDefaults: false }), registry }));
  return { app, logs, config };
}

function streamFrom(xml: string) {
  const url = /<Stream url="([^"]+)"/.exec(xml)?.[1];
  const tokenParam = /<Parameter name="token" value="([^"]+)"\/>/.exec(xml)?.[1];
  return { url, tokenParam };
}

describe.each([
  ['/twilio/voice', 'inbound', 'From', '+15550001111'],
  ['/twilio/outbound', 'outbound', 'To', '+15552223333'],
])('POST %s', (path, direction, partyField, party) => {
  const params = { CallSid: CALL_SID, AccountSid: 'AC' + '0'.repeat(32), [partyField]: party };

  it('answers a signed webhook with Connect/Stream TwiML and a token bound to the CallSid', async () => {
    const { app, logs } = await makeApp();
    const res = await app.inject({
      method: 'POST',
      url: path,
      ...signedWebhook(path, params),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    const { url, tokenParam } = streamFrom(res.body);
    expect(url).toMatch(/^wss:\/\/voice\.example\.com\/twilio\/stream\/[A-Za-z0-9_-]+$/);
    expect(url).not.toContain('?');
    const pathToken = url!.split('/').pop();
    expect(tokenParam).toBe(pathToken);
    expect(verifyStreamToken(TEST_SECRET, pathToken, Date.now())).toMatchObject({ ok: true, callSid: CALL_SID });
    expect(res.body).toContain(`<Parameter name="direction" value="${direction}"/>`);
    expect(res.body).toContain(`<Parameter name="caller" value="${party}"/>`);
    expect(res.body).toContain('statusCallback="https://voice.example.com/twilio/stream-status"');
    // After <Connect>: spoken apology, reached only when we end the stream.
    expect(res.body).toMatch(/<\/Connect><Say>[^<]+<\/Say><Hangup\/><\/Response>$/);
    for (const secret of [TEST_SECRET, TEST_AUTH_TOKEN, TEST_OPENAI_KEY]) {
      expect(res.body).not.toContain(secret);
      expect(logs.text()).not.toContain(secret);
    }
    expect(logs.text()).not.toContain(pathToken);
    expect(logs.records().some((r) => r.callSid === CALL_SID && r.msg === 'serving stream TwiML')).toBe(true);
  });

  it('refuses a missing signature with 403 and no TwiML', async () => {
    const { app } = await makeApp();
    const res = await app.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form(params),
    });
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain('<Response');
  });

  it.each([
    ['another URL', () => sign('/twilio/other', params)],
    ['other params', () => sign(path, { ...params, CallSid: 'CAffff' })],
    ['another auth token', () => sign(path, params, 'not-the-token')],
    ['the Host header instead of PUBLIC_URL', () => sign(path, params, TEST_AUTH_TOKEN, 'https://evil.example.com')],
  ])('refuses a signature for %s with 403', async (_name, signature) => {
    const { app } = await makeApp();
    const res = await app.inject({
      method: 'POST',
      url: path,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signature(),
        host: 'evil.example.com',
      },
      payload: form(params),
    });
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain('<Response');
  });

  it('answers 400 when CallSid is missing', async () => {
    const { app } = await makeApp();
    const bare = { [partyField]: party };
    const res = await app.inject({
      method: 'POST',
      url: path,
      ...signedWebhook(path, bare),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ reason: 'missing_call_sid' });
  });

  it('answers 409 call_live, with no TwiML and no token, for a CallSid that is already streaming (a replay)', async () => {
    const config = testConfig();
    const registry = new CallRegistry(config);
    const slot = registry.tryAcquire('127.0.0.1', CALL_SID);
    expect(typeof slot).toBe('object');
    const { app } = await makeApp({}, registry);
    const res = await app.inject({ method: 'POST', url: path, ...signedWebhook(path, params) });
    expect([res.statusCode, res.json()]).toEqual([409, { error: 'Conflict', reason: 'call_live' }]);
    if (typeof slot === 'object') slot.release();
    const after = await app.inject({ method: 'POST', url: path, ...signedWebhook(path, params) });
    expect(after.statusCode).toBe(200);
    expect(after.body).toContain('<Stream');
  });

  it('speaks and hangs up when the call cannot be served', async () => {
    const config = testConfig({ MAX_CALLS: '1' });
    const registry = new CallRegistry(config);
    const slot = registry.tryAcquire('127.0.0.1');
    expect(typeof slot).toBe('object');
    const { app } = await makeApp({ MAX_CALLS: '1' }, registry);
    const res = await app.inject({
      method: 'POST',
      url: path,
      ...signedWebhook(path, params),
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/<Response><Say>[^<]*busy[^<]*<\/Say><Hangup\/><\/Response>$/);
    expect(res.body).not.toContain('<Stream');
  });
});

describe('POST /twilio/stream-status', () => {
  it('logs a stream error with its Twilio code', async () => {
    const { app, logs } = await makeApp();
    const params = {
      CallSid: CALL_SID,
      StreamSid: 'MZ' + '1'.repeat(32),
      StreamEvent: 'stream-error',
      StreamError: '31920 Stream - WebSocket - Handshake Error',
    };
    const res = await app.inject({
      method: 'POST',
      url: '/twilio/stream-status',
      ...signedWebhook('/twilio/stream-status', params),
    });
    expect(res.statusCode).toBe(204);
    const line = logs.records().find((r) => r.msg === 'twilio reported a stream error');
    expect(line).toMatchObject({ level: 40, callSid: CALL_SID, twilioErrorCode: '31920', event: 'stream-error' });
  });

  it('refuses an unsigned status callback', async () => {
    const { app } = await makeApp();
    const res = await app.inject({
      method: 'POST',
      url: '/twilio/stream-status',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ CallSid: CALL_SID, StreamEvent: 'stream-started' }),
    });
    expect(res.statusCode).toBe(403);
  });
});

describe('without TWILIO_AUTH_TOKEN (development)', () => {
  it('serves TwiML without checking signatures', async () => {
    const { app } = await makeApp({ TWILIO_AUTH_TOKEN: undefined });
    const res = await app.inject({
      method: 'POST',
      url: '/twilio/voice',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ CallSid: CALL_SID }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<Stream');
  });
});

describe('health', () => {
  it('/healthz is 200 ok, /readyz is 200 until draining', async () => {
    const { app } = await makeApp();
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    app.registry.startDrain();
    const res = await app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'draining' });
  });
});
