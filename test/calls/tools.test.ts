import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { TEST_AUTH_TOKEN } from '../helpers/config.js';
import { startFakeTwilioRest, type FakeTwilioRest, type Misbehaviour } from '../../tools/fakes/fake-twilio-rest.js';
import type { RestFailure } from '../../src/calls/twilio-rest.js';
import type { FakeRealtimeConnection } from '../../tools/fakes/fake-realtime-connection.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { until } from '../helpers/until.js';
import { expectNoUnhandledRejections } from '../helpers/unhandled.js';

const ACCOUNT_SID = 'AC' + '2'.repeat(32);
const TRANSFER_NUMBER = '+15557654321';
/** 1.5 s of the agent fixture: the goodbye. */
const goodbye = readFixture('agent-8k.ulaw').subarray(0, 12_000);

const track = closeAfterEach();

async function setUp(env: Record<string, string | undefined> = {}): Promise<{ bridge: Bridge; rest: FakeTwilioRest }> {
  const rest = track(await startFakeTwilioRest({ accountSid: ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }));
  const bridge = track(await startBridge({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_API_BASE_URL: rest.url, TRANSFER_NUMBER, ...env }));
  return { bridge, rest };
}

async function connected(b: Bridge): Promise<{ call: FakeTwilioCall; conn: FakeRealtimeConnection }> {
  const call = await b.call();
  const conn = await b.realtime.waitForConnection();
  await conn.waitForEvent('session.update');
  return { call, conn };
}

function functionCall(conn: FakeRealtimeConnection, name: string, args: string, callId = 'call_' + name): void {
  conn.send({ type: 'response.function_call_arguments.done', response_id: 'resp_tool', item_id: 'item_tool', output_index: 1, call_id: callId, name, arguments: args });
}

function endReasons(b: Bridge): unknown[] {
  return b.logs.records().filter((r) => r.msg === 'call ended').map((r) => r.reason);
}

describe('tool declarations', () => {
  it('declares end_call and transfer_call when REST and TRANSFER_NUMBER are set', async () => {
    const { bridge: b } = await setUp();
    const { call, conn } = await connected(b);
    const update = await conn.waitForEvent('session.update');
    const tools = (update.session as { tools?: { name: string; type: string }[] }).tools ?? [];
    expect(tools.map((t) => [t.type, t.name])).toEqual([
      ['function', 'end_call'],
      ['function', 'transfer_call'],
    ]);
    expect(update.session).toMatchObject({ tool_choice: 'auto' });
    await call.hangUp();
  });

  it('declares only end_call without TRANSFER_NUMBER, and no tools without REST credentials', async () => {
    const { bridge: b } = await setUp({ TRANSFER_NUMBER: undefined });
    const first = await connected(b);
    const names = ((await first.conn.waitForEvent('session.update')).session as { tools?: { name: string }[] }).tools?.map((t) => t.name);
    expect(names).toEqual(['end_call']);
    await first.call.hangUp();
    await b.close();

    const second = await connected(track(await startBridge({ TWILIO_ACCOUNT_SID: undefined })));
    expect((await second.conn.waitForEvent('session.update')).session).not.toHaveProperty('tools');
    await second.call.hangUp();
  });
});

describe('a browser call (the console softphone)', () => {
  it('declares end_call but not transfer_call, and end_call closes the stream without asking Twilio', async () => {
    const { bridge: b, rest: r } = await setUp();
    const call = await b.call({ callSid: 'BR' + randomBytes(16).toString('hex'), customParameters: { direction: 'browser' } });
    const conn = await b.realtime.waitForConnection();
    const update = await conn.waitForEvent('session.update');
    expect(((update.session as { tools?: { name: string }[] }).tools ?? []).map((t) => t.name)).toEqual(['end_call']);
    functionCall(conn, 'end_call', '{"reason":"caller said goodbye"}');
    expect(await call.closed).toEqual({ code: 1000, reason: 'call ended' });
    expect(r.requests).toHaveLength(0); // there is no Twilio call to complete
    await until(() => endReasons(b).includes('ended_by_assistant'), 5000, 'the end reported');
  });
});

describe('end_call', () => {
  it('lets the goodbye play out, completes the call through REST, then closes the stream', async () => {
    const { bridge: b, rest: r } = await setUp();
    const { call, conn } = await connected(b);
    // The model says goodbye (faster than real time, as it does) and then calls end_call.
    const sent = await conn.sendAudio(goodbye, { chunkBytes: 1600, intervalMs: 0 });
    functionCall(conn, 'end_call', '{"reason":"caller said goodbye"}');

    const hangUp = await r.waitFor((req) => req.callSid === call.callSid && req.form.Status === 'completed');
    // Every goodbye byte reached the phone and had played before the hang-up request.
    expect(call.receivedAudio().equals(goodbye)).toBe(true);
    const playoutMark = call.echoedMarks.find((m) => m.name.startsWith('vb-playout-'));
    expect(playoutMark).toMatchObject({ playedBytes: sent.bytes, cleared: false });
    expect(hangUp.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${call.callSid}.json`);
    expect(hangUp.form).toEqual({ Status: 'completed' });

    const closed = await call.closed;
    expect(closed).toEqual({ code: 1000, reason: 'call ended' });
    await conn.closed;
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(endReasons(b)).toEqual(['ended_by_assistant']);
    expect(r.updatesOf(call.callSid)).toHaveLength(1);
    // Nothing answered the model: the call is over.
    expect(conn.count('conversation.item.create')).toBe(0);
    expect(b.logs.records().filter((l) => (l.level as number) >= 50)).toEqual([]);
  });

  it('treats a call Twilio already ended (404 / 20404) as done', async () => {
    const { bridge: b, rest: r } = await setUp();
    const { call, conn } = await connected(b);
    r.endedCalls.add(call.callSid);
    functionCall(conn, 'end_call', '{}');
    await call.closed;
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(endReasons(b)).toEqual(['ended_by_assistant']);
    expect(b.logs.records().find((l) => l.msg === 'call completed through the REST API')).toMatchObject({ outcome: 'already_ended' });
  });

  it('reports the end as ended_by_assistant even when Twilio stops the stream first', async () => {
    const { bridge: b, rest: r } = await setUp();
    const { call, conn } = await connected(b);
    functionCall(conn, 'end_call', '{}');
    // Twilio, told to complete the call, stops the stream on its own.
    await r.waitFor((req) => req.callSid === call.callSid);
    call.stop();
    await call.closed;
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(endReasons(b)).toEqual(['ended_by_assistant']);
  });

  it('runs once when the model calls it twice, and answers the second with an error', async () => {
    const { bridge: b, rest: r } = await setUp();
    const { call, conn } = await connected(b);
    await conn.sendAudio(goodbye, { chunkBytes: 1600, intervalMs: 0 });
    functionCall(conn, 'end_call', '{}', 'call_a');
    functionCall(conn, 'end_call', '{}', 'call_b');
    const output = await conn.waitForEvent('conversation.item.create');
    expect(output).toMatchObject({ item: { type: 'function_call_output', call_id: 'call_b' } });
    expect(JSON.parse((output.item as { output: string }).output)).toEqual({ ok: false, error: 'The call is already ending.' });
    await call.closed;
    expect(r.updatesOf(call.callSid)).toHaveLength(1);
    expect(conn.count('response.create')).toBe(0);
  });
});

describe('transfer_call', () => {
  it('plays the handoff, then redirects the live call to <Dial>TRANSFER_NUMBER</Dial>', async () => {
    const { bridge: b, rest: r } = await setUp();
    const { call, conn } = await connected(b);
    const sent = await conn.sendAudio(goodbye, { chunkBytes: 800, intervalMs: 0 });
    functionCall(conn, 'transfer_call', '{"reason":"wants a human"}');
    const redirect = await r.waitFor((req) => req.callSid === call.callSid);
    expect(redirect.form).toEqual({
      Twiml: `<?xml version="1.0" encoding="UTF-8"?><Response><Dial>${TRANSFER_NUMBER}</Dial></Response>`,
    });
    expect(call.echoedMarks.find((m) => m.name.startsWith('vb-playout-'))).toMatchObject({ playedBytes: sent.bytes });
    expect(await call.closed).toEqual({ code: 1000, reason: 'call transferred' });
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(endReasons(b)).toEqual(['transferred']);
  });

  it('tells the model when Twilio refuses the transfer, and the call goes on', async () => {
    const { bridge: b, rest: r } = await setUp();
    const { call, conn } = await connected(b);
    r.failNext({ status: 400, code: 21220, message: 'Call is not in-progress. Cannot redirect.' });
    functionCall(conn, 'transfer_call', '{}', 'call_transfer');
    const output = await conn.waitForEvent('conversation.item.create');
    expect(output).toMatchObject({ item: { type: 'function_call_output', call_id: 'call_transfer' } });
    expect(JSON.parse((output.item as { output: string }).output)).toMatchObject({ ok: false });
    await conn.waitForEvent('response.create');
    // Still a live call: the model's next words reach the phone.
    await conn.sendAudio(goodbye.subarray(0, 1600), { intervalMs: 0 });
    await call.waitForCount('media', 1);
    expect(call.isOpen).toBe(true);
    expect(b.app.sessions.size).toBe(1);
    await call.hangUp();
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(endReasons(b)).toEqual(['twilio_stop']);
  });
});

describe('other tool calls', () => {
  it('answers an unknown tool with an error output and a new response, and the call goes on', async () => {
    const { bridge: b, rest: r } = await setUp();
    const { call, conn } = await connected(b);
    functionCall(conn, 'launch_rockets', '{"count":3}', 'call_x');
    const output = await conn.waitForEvent('conversation.item.create');
    expect(output.item).toMatchObject({ type: 'function_call_output', call_id: 'call_x' });
    const parsed = JSON.parse((output.item as { output: string }).output) as { ok: boolean; error: string };
    expect(parsed.ok).toBe(false);
    expect(parsed.error).toContain('Unknown tool "launch_rockets"');
    expect(parsed.error).toContain('end_call, transfer_call');
    await conn.waitForEvent('response.create');
    const ids = conn.events.map((e) => e.type);
    expect(ids.indexOf('response.create')).toBeGreaterThan(ids.indexOf('conversation.item.create'));

    // Malformed arguments for a real tool: an error, no hang-up.
    functionCall(conn, 'end_call', '{"reason":', 'call_bad');
    const second = await conn.waitForCount('conversation.item.create', 2);
    expect(JSON.parse((second.item as { output: string }).output)).toEqual({ ok: false, error: 'arguments are not valid JSON' });
    functionCall(conn, 'end_call', '{"reason":5}', 'call_bad_type');
    const third = await conn.waitForCount('conversation.item.create', 3);
    expect(JSON.parse((third.item as { output: string }).output)).toEqual({ ok: false, error: '"reason" must be a string' });
    await conn.waitForCount('response.create', 3);

    await conn.sendAudio(goodbye.subarray(0, 1600), { intervalMs: 0 });
    await call.waitForCount('media', 1);
    expect(call.isOpen).toBe(true);
    expect(r.requests).toHaveLength(0);
    await call.hangUp();
  });
});

describe('when Twilio misbehaves', () => {
  expectNoUnhandledRejections();

  const failures: [string, Misbehaviour, RestFailure][] = [
    ['a 500 HTML page', { kind: 'raw', status: 500, body: '<html>oops</html>', contentType: 'text/html' }, 'refused'],
    ['a 503 with invalid JSON', { kind: 'raw', status: 503, body: '{"code":' }, 'refused'],
    ['a connection reset', { kind: 'reset' }, 'connection_lost'],
    ['no answer within TWILIO_REST_TIMEOUT_MS', { kind: 'hang' }, 'timeout'],
  ];

  it.each(failures)('end_call with %s: the stream still closes and the call ends as ended_by_assistant', async (_name, misbehaviour, failure) => {
    const { bridge: b, rest: r } = await setUp({ TWILIO_REST_TIMEOUT_MS: '500' });
    const { call, conn } = await connected(b);
    r.misbehaveNext(misbehaviour);
    functionCall(conn, 'end_call', '{}');
    expect(await call.closed).toEqual({ code: 1000, reason: 'call ended' });
    await conn.closed;
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(endReasons(b)).toEqual(['ended_by_assistant']);
    expect(r.updatesOf(call.callSid)).toHaveLength(1);
    const warning = b.logs.records().find((l) => l.msg === 'could not complete the call through the REST API; closing the stream');
    expect(warning).toMatchObject({ level: 40, err: { type: 'TwilioApiError', failure } });
    expect(b.logs.records().filter((l) => (l.level as number) >= 50)).toEqual([]);
  });

  it('end_call with a 200 whose body is not JSON: Twilio acted, so the call is completed', async () => {
    const { bridge: b, rest: r } = await setUp();
    const { call, conn } = await connected(b);
    r.misbehaveNext({ kind: 'raw', status: 200, body: 'OK' });
    functionCall(conn, 'end_call', '{}');
    await call.closed;
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(b.logs.records().find((l) => l.msg === 'call completed through the REST API')).toMatchObject({ outcome: 'completed' });
    expect(b.logs.records().filter((l) => (l.level as number) >= 40)).toEqual([]);
  });

  it.each(failures)('transfer_call with %s: the model is told, and audio flows both ways meanwhile and after', async (_name, misbehaviour, failure) => {
    const { bridge: b, rest: r } = await setUp({ TWILIO_REST_TIMEOUT_MS: '1000' });
    const { call, conn } = await connected(b);
    r.misbehaveNext(misbehaviour);
    functionCall(conn, 'transfer_call', '{}', 'call_transfer');
    await r.waitFor((req) => req.callSid === call.callSid);

    // While the request is out (or failing): caller audio goes up, model audio comes down.
    for (let i = 0; i < 5; i++) call.sendMedia(Buffer.alloc(160, 0x7f));
    await until(() => conn.appendedBytes >= 800, 5000, 'caller audio upstream');
    await conn.sendAudio(goodbye.subarray(0, 1600), { intervalMs: 0 });
    await call.waitForCount('media', 1);

    const output = await conn.waitForEvent('conversation.item.create');
    expect(output).toMatchObject({ item: { type: 'function_call_output', call_id: 'call_transfer' } });
    expect(JSON.parse((output.item as { output: string }).output)).toEqual({
      ok: false,
      error: 'The transfer could not be started. Apologise and offer to help another way.',
    });
    await conn.waitForEvent('response.create');
    const logged = b.logs.records().find((l) => String(l.msg).startsWith('transfer'));
    expect(logged).toMatchObject({ level: 50, err: { failure } });

    // Still a live call, in both directions.
    for (let i = 0; i < 5; i++) call.sendMedia(Buffer.alloc(160, 0x7f));
    await until(() => conn.appendedBytes >= 1600, 5000, 'more caller audio upstream');
    await conn.sendAudio(goodbye.subarray(1600, 3200), { intervalMs: 0 });
    await until(() => call.receivedAudio().length >= 3200, 5000, 'more model audio on the phone');
    expect(call.isOpen).toBe(true);
    await call.hangUp();
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(endReasons(b)).toEqual(['twilio_stop']);
  });

  it('transfer_call with a 200 whose body is cut off: Twilio acted, so the call is transferred', async () => {
    const { bridge: b, rest: r } = await setUp();
    const { call, conn } = await connected(b);
    r.misbehaveNext({ kind: 'cut', status: 200 });
    functionCall(conn, 'transfer_call', '{}');
    expect(await call.closed).toEqual({ code: 1000, reason: 'call transferred' });
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(endReasons(b)).toEqual(['transferred']);
    expect(conn.count('conversation.item.create')).toBe(0);
  });
});

describe('malformed tool calls from the model', () => {
  it('answers a function call without arguments with an error output, and the call goes on', async () => {
    // Before validation at the boundary this reached Buffer.byteLength(undefined) inside ws's
    // message listener: an uncaught TypeError that took the process and every call down.
    const { bridge: b, rest: r } = await setUp();
    const { call, conn } = await connected(b);
    conn.send({ type: 'response.function_call_arguments.done', response_id: 'resp_tool', item_id: 'item_tool', call_id: 'call_noargs', name: 'end_call' });
    const output = await conn.waitForEvent('conversation.item.create');
    expect(output.item).toMatchObject({ type: 'function_call_output', call_id: 'call_noargs' });
    expect(JSON.parse((output.item as { output: string }).output)).toEqual({ ok: false, error: 'arguments are missing' });
    await conn.waitForEvent('response.create');

    // Arguments of the wrong type or shape: an error each, no hang-up.
    const bad: [unknown, string][] = [
      [42, 'arguments must be a JSON string'],
      [null, 'arguments must be a JSON string'],
      [{ reason: 'x' }, 'arguments must be a JSON string'],
      ['[1,2]', 'arguments must be a JSON object'],
      ['"text"', 'arguments must be a JSON object'],
    ];
    for (const [i, [args, error]] of bad.entries()) {
      conn.send({ type: 'response.function_call_arguments.done', call_id: `call_bad_${i}`, name: 'end_call', arguments: args });
      const answer = await conn.waitForEvent('conversation.item.create', (e) => (e.item as { call_id?: string }).call_id === `call_bad_${i}`);
      expect(JSON.parse((answer.item as { output: string }).output)).toEqual({ ok: false, error });
    }
    await conn.sendAudio(goodbye.subarray(0, 1600), { intervalMs: 0 });
    await call.waitForCount('media', 1);
    expect(call.isOpen).toBe(true);
    expect(r.requests).toHaveLength(0);
    await call.hangUp();
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(endReasons(b)).toEqual(['twilio_stop']);
  });
});
