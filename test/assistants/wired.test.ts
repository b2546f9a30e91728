/**
 * Assistant profiles in the running bridge (real sockets: the app, the Realtime stand-in, a fake
 * Twilio media stream and Twilio REST): which profile a call gets, what its upstream is configured
 * with, and that a live call keeps its profile across a reload.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { startBridge, type Bridge } from '../helpers/bridge.js';
import { TEST_AUTH_TOKEN } from '../helpers/config.js';
import { connectFakeTwilio } from '../../tools/fakes/fake-twilio.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import type { FakeRealtimeConnection } from '../../tools/fakes/fake-realtime-connection.js';
import { signedWebhook } from '../helpers/webhook.js';
import { until } from '../helpers/until.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { useTempFiles } from './files.js';
import { reloadAssistants, RELOAD_REFUSED_MSG, RELOADED_MSG } from '../../src/ops/reload-assistants.js';
import { MAX_OVERRIDE_INSTRUCTIONS_CHARS } from '../../src/assistants/limits.js';

const ACCOUNT_SID = 'AC' + '4'.repeat(32);
const API_TOKEN = 'calls-api-token-for-tests-0123456789';
const SALES_LINE = '+15005550006';
const QUIET_LINE = '+15005550007';
const SALES_TRANSFER = '+15005550009';

/** Three profiles: the default (desk), one per mapped number. */
const PROFILES = {
  default: 'desk',
  assistants: {
    desk: { instructions: 'You answer for the front desk.', voice: 'marin', greeting: 'Front desk, how can I help?', tools: ['end_call'] },
    sales: {
      instructions: 'You sell plumbing.',
      voice: 'cedar',
      model: 'gpt-realtime-mini',
      greeting: 'Sales here.',
      tools: ['end_call', 'transfer_call'],
      transferNumber: SALES_TRANSFER,
      language: 'en',
    },
    quiet: { instructions: 'You listen first.', voice: 'sage', tools: [] },
  },
  numbers: { [SALES_LINE]: 'sales', [QUIET_LINE]: 'quiet' },
};

const temp = useTempFiles();
const track = closeAfterEach();

async function setUp(file: unknown = PROFILES): Promise<{ b: Bridge; path: string; rest: FakeTwilioRest }> {
  const path = temp().write('assistants.json', file);
  const rest = track(await startFakeTwilioRest({ accountSid: ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }));
  const bridge = track(
    await startBridge({
      ASSISTANTS_FILE: path,
      API_TOKEN,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_PHONE_NUMBER: '+15550001111',
      TWILIO_API_BASE_URL: rest.url,
    }),
  );
  return { b: bridge, path, rest };
}

const newCallSid = () => 'CA' + randomBytes(16).toString('hex');

/** The `<Parameter>`s of stream TwiML, as Twilio hands them to the stream's `start`. */
function twimlParameters(xml: string): Record<string, string> {
  return Object.fromEntries([...xml.matchAll(/<Parameter name="([^"]+)" value="([^"]*)"\/>/g)].map((m) => [m[1]!, m[2]!]));
}

/** A call as Twilio makes it: the signed webhook, then the stream its TwiML names. */
async function twilioCall(b: Bridge, path: '/twilio/voice' | '/twilio/outbound', params: Record<string, string>) {
  const { headers, payload } = signedWebhook(path, params);
  const res = await b.app.inject({ method: 'POST', url: path, headers, payload });
  expect(res.statusCode).toBe(200);
  const parameters = twimlParameters(res.body);
  const call = await connectFakeTwilio({ url: b.streamUrl(parameters.token!), callSid: params.CallSid, customParameters: parameters });
  track(() => call.socket.terminate());
  return { call, parameters };
}

/** The session.update fields these tests read. */
interface SentSession {
  instructions: string;
  audio: { input: { transcription: { language?: string } }; output: { voice: string } };
  tools?: { name: string }[];
}

async function sessionUpdate(conn: FakeRealtimeConnection): Promise<SentSession> {
  return (await conn.waitForEvent('session.update')).session as unknown as SentSession;
}
const toolNames = (session: SentSession): string[] | undefined => session.tools?.map((t) => t.name);

describe('which profile a call gets, and what its upstream is configured with', () => {
  it('inbound: the profile mapped to To (model, instructions, voice, tools, language, greeting), else the default', async () => {
    const { b } = await setUp();
    const cases = [
      { to: SALES_LINE, name: 'sales', model: 'gpt-realtime-mini', voice: 'cedar', tools: ['end_call', 'transfer_call'], greeting: 'Sales here.' },
      { to: QUIET_LINE, name: 'quiet', model: 'gpt-realtime', voice: 'sage', tools: undefined, greeting: undefined },
      { to: '+15550009999', name: 'desk', model: 'gpt-realtime', voice: 'marin', tools: ['end_call'], greeting: 'Front desk, how can I help?' },
    ] as const;
    for (const [i, want] of cases.entries()) {
      const { call, parameters } = await twilioCall(b, '/twilio/voice', { CallSid: newCallSid(), To: want.to, From: '+15551230000' });
      expect(parameters.assistant).toBe(want.name);
      const conn = await b.realtime.waitForConnection(i);
      expect(conn.query.model).toBe(want.model);
      const session = await sessionUpdate(conn);
      const profile = PROFILES.assistants[want.name];
      expect(session.instructions).toBe(profile.instructions);
      expect(session.audio.output.voice).toBe(want.voice);
      expect(toolNames(session)).toEqual(want.tools);
      expect(session.audio.input.transcription.language).toBe(want.name === 'sales' ? 'en' : undefined);
      if (want.greeting) expect(JSON.stringify(await conn.waitForEvent('response.create'))).toContain(want.greeting);
      await call.hangUp();
      await conn.closed;
      expect(conn.count('response.create')).toBe(want.greeting ? 1 : 0);
    }
    // One upstream per call: each pre-warm (configured for its profile) was adopted.
    expect(b.realtime.upgradeAttempts).toBe(3);
    await until(() => b.logs.records().filter((r) => r.msg === 'call ended').length === 3, 5000, 'three call ended lines');
    const ended = b.logs.records().filter((r) => r.msg === 'call ended');
    expect(ended.map((r) => r.assistant)).toEqual(['sales', 'quiet', 'desk']);
    const started = (await b.app.metrics.assistantCalls.get()).values.map((v) => [v.labels.assistant, v.value]);
    expect(Object.fromEntries(started)).toEqual({ sales: 1, quiet: 1, desk: 1 });
  });

  it('POST /calls: "assistant" picks the profile (unknown: 400), "instructions" replaces its instructions for that call only', async () => {
    const { b, rest } = await setUp();
    const post = (body: unknown, raw?: string) =>
      b.app.inject({
        method: 'POST',
        url: '/calls',
        headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
        payload: raw ?? JSON.stringify(body),
      });
    const unknown = await post({ to: '+15557654321', assistant: 'salse' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ reason: 'invalid_body', message: '"assistant" names no configured assistant: "salse" (configured: desk, sales, quiet)' });
    expect(rest.requests).toHaveLength(0);

    const placed = await post({ to: '+15557654321', assistant: 'sales', instructions: 'Remind Ana of her 3 pm visit.' });
    expect(placed.statusCode).toBe(200);
    const { callSid } = placed.json<{ callSid: string }>();
    expect(b.logs.records().find((r) => r.msg === 'outbound call placed')).toMatchObject({ callSid, assistant: 'sales', instructions: true });
    const { call } = await twilioCall(b, '/twilio/outbound', { CallSid: callSid, To: '+15557654321' });
    const conn = await b.realtime.waitForConnection(0);
    expect(conn.query.model).toBe('gpt-realtime-mini');
    const session = await sessionUpdate(conn);
    expect(session.instructions).toBe('Remind Ana of her 3 pm visit.');
    expect(session.audio.output.voice).toBe('cedar');
    expect(toolNames(session)).toEqual(['end_call', 'transfer_call']);
    expect(JSON.stringify(await conn.waitForEvent('response.create'))).toContain('Sales here.');
    await call.hangUp();

    // The next call without "assistant" gets the default, with its own instructions and greeting;
    // a per-call greeting wins over the profile's.
    const second = await post({ to: '+15557654321', greeting: 'Hi, it is the clinic.' });
    const next = await twilioCall(b, '/twilio/outbound', { CallSid: second.json<{ callSid: string }>().callSid, To: '+15557654321' });
    const conn2 = await b.realtime.waitForConnection(1);
    expect((await sessionUpdate(conn2)).instructions).toBe('You answer for the front desk.');
    const greeting = JSON.stringify(await conn2.waitForEvent('response.create'));
    expect(greeting).toContain('Hi, it is the clinic.');
    expect(greeting).not.toContain('Front desk');
    await next.call.hangUp();

    // A longest override written with every character escaped (\uXXXX: 6 bytes each) fits the body limit.
    const longest = 'é'.repeat(MAX_OVERRIDE_INSTRUCTIONS_CHARS);
    const escaped = JSON.stringify({ to: '+15557654321', assistant: 'quiet', instructions: longest }).replace(/é/g, '\\u00e9');
    expect(escaped.length).toBeGreaterThan(6 * MAX_OVERRIDE_INSTRUCTIONS_CHARS);
    expect((await post(undefined, escaped)).statusCode).toBe(200);
    const tooLong = await post({ to: '+15557654321', instructions: longest + 'é' });
    expect(tooLong.json()).toMatchObject({ reason: 'invalid_body', message: expect.stringContaining(`at most ${MAX_OVERRIDE_INSTRUCTIONS_CHARS} characters`) });
  });

  it('a stream whose webhook this instance never saw gets the profile its TwiML names, else the default', async () => {
    const { b } = await setUp();
    const named = await b.call({ customParameters: { direction: 'inbound', assistant: 'sales' } });
    track(() => named.socket.terminate());
    const conn = await b.realtime.waitForConnection(0);
    expect(conn.query.model).toBe('gpt-realtime-mini');
    expect((await sessionUpdate(conn)).instructions).toBe('You sell plumbing.');
    await named.hangUp();

    const unknown = await b.call({ customParameters: { assistant: 'gone' } });
    track(() => unknown.socket.terminate());
    const conn2 = await b.realtime.waitForConnection(1);
    expect((await sessionUpdate(conn2)).instructions).toBe('You answer for the front desk.');
    await unknown.hangUp();
  });
});

describe('reloading the profiles (SIGHUP calls reloadAssistants)', () => {
  it('new calls get the new profiles; a live call keeps its own, tools included', async () => {
    const { b, path, rest } = await setUp();
    const live = await twilioCall(b, '/twilio/voice', { CallSid: newCallSid(), To: SALES_LINE });
    const liveConn = await b.realtime.waitForConnection(0);
    await sessionUpdate(liveConn);

    const edited = structuredClone(PROFILES);
    edited.assistants.sales.instructions = 'You sell plumbing, politely.';
    edited.assistants.sales.transferNumber = '+15005550001';
    writeFileSync(path, JSON.stringify(edited));
    expect(reloadAssistants(b.app.assistants, b.app.log, b.app.metrics).ok).toBe(true);
    expect(b.logs.records().find((r) => r.msg === RELOADED_MSG)).toMatchObject({
      level: 30,
      file: path,
      assistants: ['desk', 'sales', 'quiet'],
      default: 'desk',
      numbers: 2,
    });

    const fresh = await twilioCall(b, '/twilio/voice', { CallSid: newCallSid(), To: SALES_LINE });
    const freshConn = await b.realtime.waitForConnection(1);
    expect((await sessionUpdate(freshConn)).instructions).toBe('You sell plumbing, politely.');
    await fresh.call.hangUp();

    // The live call's transfer still dials the number of the profile it started with.
    liveConn.send({ type: 'response.function_call_arguments.done', call_id: 'call_t', name: 'transfer_call', arguments: '{}' });
    const redirect = await rest.waitFor((req) => req.callSid === live.call.callSid);
    expect(redirect.form.Twiml).toContain(`<Dial>${SALES_TRANSFER}</Dial>`);
    expect(await live.call.closed).toEqual({ code: 1000, reason: 'call transferred' });
  });

  it('a bad file is refused with one error line naming each problem; the profiles in force stay', async () => {
    const { b, path } = await setUp();
    const broken = structuredClone(PROFILES) as { assistants: Record<string, Record<string, unknown>>; numbers: Record<string, string> };
    broken.assistants.sales!.tools = ['end_call', 'fax'];
    broken.numbers['5005550008'] = 'desk';
    writeFileSync(path, JSON.stringify(broken));
    const result = reloadAssistants(b.app.assistants, b.app.log, b.app.metrics);
    expect(result.ok).toBe(false);
    expect((await b.app.metrics.assistantReloads.get()).values.map((v) => [v.labels.outcome, v.value])).toEqual([['refused', 1]]);
    const refused = b.logs.records().filter((r) => r.msg === RELOAD_REFUSED_MSG);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      level: 50,
      file: path,
      problems: [
        'assistants.sales.tools[1]: unknown tool "fax" (the bridge has: end_call, transfer_call)',
        'numbers["5005550008"]: not E.164 (a plus, then 2 to 15 digits, such as +15551234567)',
      ],
    });

    const { call } = await twilioCall(b, '/twilio/voice', { CallSid: newCallSid(), To: SALES_LINE });
    const conn = await b.realtime.waitForConnection(0);
    const session = await sessionUpdate(conn);
    expect(session.instructions).toBe('You sell plumbing.');
    expect(toolNames(session)).toEqual(['end_call', 'transfer_call']);
    await call.hangUp();
  });
});
