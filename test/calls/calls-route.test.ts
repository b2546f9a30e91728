import { beforeEach, describe, expect, it } from 'vitest';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { createServer } from 'node:net';
import { buildApp } from '../../src/app.js';
import { createMetrics } from '../../src/metrics.js';
import { CallRegistry } from '../../src/call-registry.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { TEST_AUTH_TOKEN, testConfig } from '../helpers/config.js';
import { startFakeTwilioRest, type FakeTwilioRest, type Misbehaviour } from '../../tools/fakes/fake-twilio-rest.js';
import { MAX_REPLY_BYTES } from '../../src/calls/twilio-rest.js';
import Fastify from 'fastify';
import { CALLS_BODY_LIMIT_BYTES, PLACED_UNREADABLE_DETAIL, registerCallsRoute } from '../../src/calls/calls-route.js';
import { PendingCalls } from '../../src/calls/pending-calls.js';
import { profilesFromConfig } from '../../src/assistants/from-config.js';
import { expectNoUnhandledRejections } from '../helpers/unhandled.js';

const ACCOUNT_SID = 'AC' + '1'.repeat(32);
const API_TOKEN = 'calls-api-token-for-tests-0123456789';
const FROM = '+15550001111';

const track = closeAfterEach();
let rest: FakeTwilioRest;
let logs: LogCapture;

beforeEach(async () => {
  rest = track(await startFakeTwilioRest({ accountSid: ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }));
});

async function makeApp(env: Record<string, string | undefined> = {}, registry?: CallRegistry): Promise<FastifyInstance> {
  const config = testConfig({
    API_TOKEN,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_PHONE_NUMBER: FROM,
    TWILIO_API_BASE_URL: rest.url,
    ...env,
  });
  logs = captureLogs(config);
  return track(await buildApp(config, { logger: logs.logger, metrics: createMetrics({ processDefaults: false }), registry }));
}

function post(a: FastifyInstance, body: unknown, headers: Record<string, string> = {}, remoteAddress = '127.0.0.1') {
  return a.inject({
    method: 'POST',
    url: '/calls',
    remoteAddress,
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('POST /calls', () => {
  it('places the call through the REST API with the exact form fields and auth, and returns the CallSid', async () => {
    const a = await makeApp();
    const res = await post(a, { to: '+15557654321' });
    expect(res.statusCode).toBe(200);
    const { callSid } = res.json<{ callSid: string }>();
    expect(callSid).toMatch(/^CA[0-9a-f]{32}$/);

    expect(rest.requests).toHaveLength(1);
    const request = rest.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Calls.json`);
    expect(request.headers.authorization).toBe('Basic ' + Buffer.from(`${ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64'));
    expect(request.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(request.form).toMatchObject({
      To: '+15557654321',
      From: FROM,
      Url: 'https://voice.example.com/twilio/outbound',
      Method: 'POST',
      StatusCallback: 'https://voice.example.com/twilio/call-status',
      StatusCallbackMethod: 'POST',
    });
    expect(request.formAll.StatusCallbackEvent).toEqual(['initiated', 'ringing', 'answered', 'completed']);
    expect(request.callSid).toBe(callSid);

    const placed = logs.records().find((r) => r.msg === 'outbound call placed');
    expect(placed).toMatchObject({ callSid, to: '+1555***4321' });
    expect(logs.text()).not.toContain(API_TOKEN);
    expect(logs.text()).not.toContain(TEST_AUTH_TOKEN);
  });

  it('is not there (404) while API_TOKEN is unset', async () => {
    const a = await makeApp({ API_TOKEN: undefined });
    const res = await post(a, { to: '+15557654321' });
    expect(res.statusCode).toBe(404);
    expect(rest.requests).toHaveLength(0);
  });

  it('refuses a missing or wrong token with 401 before reading the body', async () => {
    const a = await makeApp();
    const missing = await post(a, { to: '+15557654321' }, { authorization: '' });
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(missing.json()).toMatchObject({ reason: 'missing_token', message: expect.stringContaining('Bearer') });

    // Each from its own address: a wrong token puts its source in a cooldown (the guard's 403).
    for (const [i, wrong] of [API_TOKEN.slice(0, -1) + 'x', 'short', API_TOKEN + 'longer'].entries()) {
      const res = await post(a, '{not json', { authorization: `Bearer ${wrong}` }, `127.0.0.${50 + i}`);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ reason: 'bad_token', message: 'the API token is wrong' });
    }
    const basic = await post(a, { to: '+15557654321' }, { authorization: `Basic ${API_TOKEN}` }, '127.0.0.60');
    expect(basic.json()).toMatchObject({ reason: 'missing_token' });
    expect(rest.requests).toHaveLength(0);
    expect(logs.text()).not.toContain(API_TOKEN);
  });

  it('answers bad JSON, a non-JSON body and bad fields with 400/415 and a clear message', async () => {
    const a = await makeApp();
    const cases: [unknown, number, string, RegExp][] = [
      ['{"to": "+1555', 400, 'invalid_json', /not valid JSON/],
      ['[1,2]', 400, 'invalid_body', /JSON object/],
      [{}, 400, 'invalid_body', /"to" is required/],
      [{ to: '5557654321' }, 400, 'invalid_body', /E\.164/],
      [{ to: '+0123456789' }, 400, 'invalid_body', /E\.164/],
      [{ to: '+1 555 765 4321' }, 400, 'invalid_body', /E\.164/],
      [{ to: '+1234567890123456' }, 400, 'invalid_body', /E\.164/],
      [{ to: 15557654321 }, 400, 'invalid_body', /E\.164/],
      [{ to: '+15557654321', greeting: 42 }, 400, 'invalid_body', /"greeting" must be a string/],
      [{ to: '+15557654321', greeting: '  ' }, 400, 'invalid_body', /must not be empty/],
      [{ to: '+15557654321', greeting: 'x'.repeat(501) }, 400, 'invalid_body', /at most 500 characters \(got 501\)/],
      [{ to: '+15557654321', greeting: 'hi\nthere' }, 400, 'invalid_body', /control characters/],
      [{ to: '+15557654321', from: '+15550000000' }, 400, 'invalid_body', /unknown field: from/],
    ];
    for (const [body, status, reason, message] of cases) {
      const res = await post(a, body);
      expect({ body, status: res.statusCode }).toEqual({ body, status });
      expect(res.json()).toMatchObject({ reason, message: expect.stringMatching(message) });
    }
    const form = await post(a, 'to=%2B15557654321', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.statusCode).toBe(415);
    expect(form.json()).toMatchObject({ reason: 'not_json' });
    const big = await post(a, { to: '+15557654321', greeting: 'x'.repeat(CALLS_BODY_LIMIT_BYTES) });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ reason: 'body_too_large', message: `the body must be at most ${CALLS_BODY_LIMIT_BYTES} bytes` });
    expect(rest.requests).toHaveLength(0);
  });

  it("passes a Twilio 4xx on as 502 with Twilio's code and message", async () => {
    const a = await makeApp();
    rest.failNext({ status: 400, code: 21211, message: "The 'To' number +15005550001 is not a valid phone number." });
    const res = await post(a, { to: '+15005550001' });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toEqual({
      error: 'Bad Gateway',
      reason: 'twilio_error',
      twilioStatus: 400,
      code: 21211,
      message: "The 'To' number +15005550001 is not a valid phone number.",
    });
    const warn = logs.records().find((r) => r.msg === 'Twilio refused to place the call');
    expect(warn).toMatchObject({ level: 40, twilioCode: 21211, twilioStatus: 400 });
  });

  it('answers 502 when Twilio rejects our credentials, and when it cannot be reached', async () => {
    const a = await makeApp({ TWILIO_AUTH_TOKEN: 'not-the-right-token-0123456789' });
    const res = await post(a, { to: '+15557654321' });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ twilioStatus: 401, code: 20003, message: 'Authenticate' });
    await a.close();

    const closedPort = await freePort();
    const b = await makeApp({ TWILIO_API_BASE_URL: `http://127.0.0.1:${closedPort}` });
    const down = await post(b, { to: '+15557654321' });
    expect(down.statusCode).toBe(502);
    expect(down.json()).toEqual({
      error: 'Bad Gateway',
      reason: 'twilio_unreachable',
      twilioStatus: null,
      code: null,
      message: 'Twilio API unreachable (ECONNREFUSED); no call was placed',
    });
  });

  it('answers 503 naming what is missing when Twilio REST settings are not set', async () => {
    const a = await makeApp({ TWILIO_ACCOUNT_SID: undefined, TWILIO_PHONE_NUMBER: undefined });
    const res = await post(a, { to: '+15557654321' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ reason: 'not_configured', message: 'set TWILIO_ACCOUNT_SID, TWILIO_PHONE_NUMBER to place calls' });
  });

  it('places no call while every call slot is taken or the server drains', async () => {
    const registry = new CallRegistry({ maxCalls: 1, maxStreamsPerIp: 1 });
    const a = await makeApp({}, registry);
    const held = registry.reserve();
    const full = await post(a, { to: '+15557654321' });
    expect(full.statusCode).toBe(503);
    expect(full.headers['retry-after']).toBe('30');
    expect(full.json()).toMatchObject({ reason: 'capacity' });
    if (typeof held === 'object') held.release();
    registry.startDrain();
    const draining = await post(a, { to: '+15557654321' });
    expect(draining.json()).toMatchObject({ reason: 'draining' });
    expect(rest.requests).toHaveLength(0);
  });
});

describe('POST /calls when Twilio misbehaves', () => {
  expectNoUnhandledRejections();

  const placedUnread = { status: 'placed', callSid: null, detail: PLACED_UNREADABLE_DETAIL };
  const cases: [string, Misbehaviour, number, Record<string, unknown>][] = [
    ['201 with a null body', { kind: 'raw', status: 201, body: 'null' }, 202, placedUnread],
    ['201 with a body that is not JSON', { kind: 'raw', status: 201, body: '{"sid": "CA' }, 202, placedUnread],
    ['201 with no sid', { kind: 'raw', status: 201, body: '{"status":"queued"}' }, 202, placedUnread],
    ['201 with a sid that is not one', { kind: 'raw', status: 201, body: '{"sid":"../../x"}' }, 202, placedUnread],
    ['201 with an empty body', { kind: 'raw', status: 201, body: '' }, 202, placedUnread],
    ['201 larger than the reply limit', { kind: 'raw', status: 201, body: JSON.stringify({ pad: 'x'.repeat(MAX_REPLY_BYTES) }) }, 202, placedUnread],
    ['201 cut off mid-body', { kind: 'cut', status: 201 }, 202, placedUnread],
    [
      '500 with an HTML page',
      { kind: 'raw', status: 500, body: '<html>Internal Server Error</html>', contentType: 'text/html' },
      502,
      { error: 'Bad Gateway', reason: 'twilio_error', twilioStatus: 500, code: null, message: 'Twilio answered HTTP 500' },
    ],
    [
      '503 with invalid JSON',
      { kind: 'raw', status: 503, body: '{"code": 2' },
      502,
      { error: 'Bad Gateway', reason: 'twilio_error', twilioStatus: 503, code: null, message: 'Twilio answered HTTP 503' },
    ],
    [
      '400 with a null body',
      { kind: 'raw', status: 400, body: 'null' },
      502,
      { error: 'Bad Gateway', reason: 'twilio_error', twilioStatus: 400, code: null, message: 'Twilio answered HTTP 400' },
    ],
    [
      'a connection reset before any answer',
      { kind: 'reset' },
      502,
      { error: 'Bad Gateway', reason: 'twilio_no_answer', twilioStatus: null, code: null, message: expect.stringMatching(/^Twilio API connection lost before an answer \(.+\); the call may have been placed: check before retrying$/) },
    ],
    [
      'no answer within TWILIO_REST_TIMEOUT_MS',
      { kind: 'hang' },
      502,
      { error: 'Bad Gateway', reason: 'twilio_no_answer', twilioStatus: null, code: null, message: 'Twilio API did not answer within 500 ms; the call may have been placed: check before retrying' },
    ],
  ];

  /** Why each unreadable 201 was unreadable, as logged (the client only learns "placed"). */
  const PROBLEMS: Record<string, string> = {
    '201 with a null body': 'the reply is not a JSON object',
    '201 with a body that is not JSON': 'the reply is not JSON',
    '201 with no sid': 'the reply has no valid "sid"',
    '201 with a sid that is not one': 'the reply has no valid "sid"',
    '201 with an empty body': 'the reply is empty',
    '201 larger than the reply limit': `the reply is larger than ${MAX_REPLY_BYTES} bytes`,
    '201 cut off mid-body': expect.stringMatching(/^the connection broke mid-reply \(.+\)$/) as unknown as string,
  };

  it.each(cases)('%s: a clear answer, one request, no internal text', async (_name, misbehaviour, status, body) => {
    const a = await makeApp({ TWILIO_REST_TIMEOUT_MS: '500' });
    rest.misbehaveNext(misbehaviour);
    const res = await post(a, { to: '+15557654321', greeting: 'Hello from the test' });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual(body);
    expect(res.body).not.toMatch(/Cannot read|TypeError|SyntaxError|undefined/);
    // Never retried: a retried create is a second phone call.
    expect(rest.requests).toHaveLength(1);
    const records = logs.records();
    if (status === 202) {
      expect(records.find((r) => String(r.msg).startsWith('outbound call placed, but'))).toMatchObject({
        level: 40,
        twilioStatus: 201,
        greetingDropped: true,
        problem: PROBLEMS[_name],
      });
    } else {
      expect(records.filter((r) => String(r.msg).startsWith('Twilio')).map((r) => r.level)).toEqual([
        body.reason === 'twilio_error' ? 40 : 50,
      ]);
    }
    expect(logs.text()).not.toContain(TEST_AUTH_TOKEN);
  });

  it('answers an internal error with 500 and a generic message; the detail goes to the log only', async () => {
    const config = testConfig({ API_TOKEN, TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_PHONE_NUMBER: FROM });
    const capture = captureLogs(config);
    const broken = track(Fastify({ loggerInstance: capture.logger as FastifyBaseLogger }));
    registerCallsRoute(broken, {
      config,
      registry: new CallRegistry({ maxCalls: 1, maxStreamsPerIp: 1 }),
      rest: {
        placeCall: () => Promise.reject(new TypeError("Cannot read properties of null (reading 'sid')")),
        completeCall: () => Promise.resolve('completed'),
        redirectCall: () => Promise.resolve(),
      },
      pending: new PendingCalls(),
      profiles: () => profilesFromConfig(config),
      now: Date.now,
    });
    const res = await post(broken, { to: '+15557654321' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'Internal Server Error', reason: 'internal', message: 'internal error; the details are in the server log' });
    expect(res.body).not.toContain('Cannot read');
    const logged = capture.records().find((r) => r.msg === 'POST /calls failed');
    expect(logged).toMatchObject({ level: 50, err: { message: "Cannot read properties of null (reading 'sid')" } });
  });
});

describe('registerCallsRoute hooks', () => {
  it('tells the guard about a wrong API token, not about a missing one', async () => {
    const bad: string[] = [];
    const bare = track(Fastify());
    const config = testConfig({ API_TOKEN });
    registerCallsRoute(bare, {
      config,
      registry: new CallRegistry({ maxCalls: 1, maxStreamsPerIp: 1 }),
      rest: null,
      pending: new PendingCalls(),
      profiles: () => profilesFromConfig(config),
      now: Date.now,
      onBadToken: (request) => bad.push(request.url),
    });
    expect((await post(bare, { to: '+15557654321' }, { authorization: 'Bearer wrong' })).statusCode).toBe(401);
    expect((await post(bare, { to: '+15557654321' }, { authorization: '' })).statusCode).toBe(401);
    expect(bad).toEqual(['/calls']);
  });
});

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
