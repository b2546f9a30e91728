import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { chunkBuffer, readFixture, silence } from '../../tools/fakes/audio.js';
import { answerEachTurn } from '../../tools/fakes/turn-script.js';
import { monotonicNow } from '../../tools/fakes/clock.js';
import { startFakeRealtime, type FakeRealtime } from '../../tools/fakes/fake-realtime.js';
import { connectFakeTwilio, UpgradeRejectedError } from '../../tools/fakes/fake-twilio.js';
import { PlaybackQueue } from '../../tools/fakes/playback-queue.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { closeAfterEach } from '../helpers/close-after-each.js';

const caller = readFixture('caller-8k.ulaw');
const agent = readFixture('agent-8k.ulaw');

type Json = Record<string, unknown>;
interface Received {
  json: Json[];
  /** Text frames that are not JSON. */
  text: string[];
  binary: Buffer[];
}

// Everything a test opens is registered here and closed after it, even when the test fails.
const track = closeAfterEach();

const text = (data: RawData): string => (Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)).toString('utf8');

/** A bare ws server standing in for the bridge; records what each client sends. */
async function startPlainServer(): Promise<{ url: string; wss: WebSocketServer; next: () => Promise<{ ws: WebSocket; received: Received }> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const pending: { ws: WebSocket; received: Received }[] = [];
  const waiting: ((c: { ws: WebSocket; received: Received }) => void)[] = [];
  wss.on('connection', (ws) => {
    const received: Received = { json: [], text: [], binary: [] };
    ws.on('message', (data, isBinary) => {
      if (isBinary) return void received.binary.push(data as Buffer);
      try {
        received.json.push(JSON.parse(text(data)) as Json);
      } catch {
        received.text.push(text(data));
      }
    });
    const entry = { ws, received };
    const waiter = waiting.shift();
    if (waiter) waiter(entry);
    else pending.push(entry);
  });
  track(() => closeServer(wss));
  const { port } = wss.address() as AddressInfo;
  const next = (): Promise<{ ws: WebSocket; received: Received }> => {
    const ready = pending.shift();
    return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
  };
  return { url: `ws://127.0.0.1:${port}/twilio/stream/tok`, wss, next };
}

/** Terminates every client and waits until each has closed, so no ws close timer outlives the test. */
async function closeServer(wss: WebSocketServer): Promise<void> {
  await Promise.all(
    [...wss.clients].map(async (client) => {
      if (client.readyState === WebSocket.CLOSED) return;
      const closed = once(client, 'close');
      client.terminate();
      await closed;
    }),
  );
  await new Promise((resolve) => wss.close(resolve));
}

async function twilio(url: string, extra: Partial<Parameters<typeof connectFakeTwilio>[0]> = {}): Promise<FakeTwilioCall> {
  const call = await connectFakeTwilio({ url, token: 'tok', ...extra });
  track(() => call.close());
  return call;
}

async function realtime(opts: Parameters<typeof startFakeRealtime>[0] = {}): Promise<FakeRealtime> {
  const fake = await startFakeRealtime(opts);
  track(() => fake.close());
  return fake;
}

async function client(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; events: Json[]; closed: Promise<number> }> {
  const ws = new WebSocket(url, { headers });
  const events: Json[] = [];
  ws.on('message', (data) => events.push(JSON.parse(text(data)) as Json));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  track(async () => {
    ws.terminate();
    await closed;
  });
  await once(ws, 'open');
  return { ws, events, closed };
}

/** Resolves when `check` holds, re-checking on every incoming message of `ws`. */
function until(ws: WebSocket, check: () => boolean, timeoutMs = 5000): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error('condition not met in time')), timeoutMs);
    const onMessage = (): void => {
      if (check()) done();
    };
    const done = (err?: Error): void => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      if (err) reject(err);
      else resolve();
    };
    // Registered after the recording listener, so `check` sees the message that triggered it.
    ws.on('message', onMessage);
  });
}

const payloads = (msgs: Json[]): Buffer =>
  Buffer.concat(msgs.map((m) => Buffer.from(((m['media'] as Json)['payload'] as string) ?? '', 'base64')));
const media = (streamSid: string, bytes: Buffer): string => JSON.stringify({ event: 'media', streamSid, media: { payload: bytes.toString('base64') } });
const mark = (streamSid: string, name: string): string => JSON.stringify({ event: 'mark', streamSid, mark: { name } });

describe('PlaybackQueue (time passed in, ms)', () => {
  it('plays 8 bytes per ms and reaches a mark only when the audio before it has played', () => {
    const q = new PlaybackQueue();
    expect(q.enqueueAudio(Buffer.alloc(400, 1), 0)).toEqual([]);
    expect(q.enqueueMark('a', 0)).toEqual([]);
    expect(q.nextMarkDueAt()).toBe(50);
    expect(q.advance(49.9)).toEqual([]);
    expect(q.playedBytes).toBe(399);
    expect(q.advance(50)).toEqual(['a']);
    expect(q.playedBytes).toBe(400);
    expect(q.drainsAt()).toBeNull();
  });

  it('does not count idle time between runs as playback', () => {
    const q = new PlaybackQueue();
    q.enqueueAudio(Buffer.alloc(80), 0); // 10 ms
    q.advance(100);
    q.enqueueAudio(Buffer.alloc(80), 100);
    q.enqueueMark('m', 100);
    expect(q.nextMarkDueAt()).toBe(110);
    expect(q.advance(105)).toEqual([]);
    expect(q.playedBytes).toBe(120);
  });

  it('echoes a mark with nothing queued before it at once', () => {
    const q = new PlaybackQueue();
    expect(q.enqueueMark('now', 7)).toEqual(['now']);
  });

  it('clear plays what was due, drops the rest and returns every pending mark in order', () => {
    const q = new PlaybackQueue();
    const audio = Buffer.from(Array.from({ length: 800 }, (_, i) => i % 256));
    q.enqueueAudio(audio.subarray(0, 400), 0);
    q.enqueueMark('a', 0);
    q.enqueueAudio(audio.subarray(400), 0);
    q.enqueueMark('b', 0);
    expect(q.clear(25)).toEqual(['a', 'b']);
    expect(q.playedAudio()).toEqual(audio.subarray(0, 200));
    expect(q.discardedBytes).toBe(600);
    expect(q.queuedBytes).toBe(0);
    expect(q.nextMarkDueAt()).toBeNull();
  });
});

describe('fake Twilio caller', () => {
  it('sends connected, start and the caller fixture as exact 20 ms media frames, then stop', async () => {
    const server = await startPlainServer();
    const call = await twilio(server.url, { customParameters: { from: '+15550001111' } });
    const { ws, received } = await server.next();
    const result = await call.streamAudio(caller, { realTime: false });
    call.stop();
    await until(ws, () => received.json.at(-1)?.['event'] === 'stop');

    const frames = Math.ceil(caller.length / 160);
    expect(result).toEqual({ frames, bytes: caller.length, aborted: false });
    const [connected, start, ...rest] = received.json;
    expect(connected).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(start).toEqual({
      event: 'start',
      sequenceNumber: '1',
      streamSid: call.streamSid,
      start: {
        accountSid: call.accountSid,
        streamSid: call.streamSid,
        callSid: call.callSid,
        tracks: ['inbound'],
        customParameters: { from: '+15550001111', token: 'tok' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    expect(call.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(call.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
    const mediaMsgs = rest.slice(0, -1);
    expect(mediaMsgs).toHaveLength(frames);
    expect(payloads(mediaMsgs)).toEqual(caller);
    mediaMsgs.forEach((m, i) => {
      expect(m['sequenceNumber']).toBe(String(i + 2));
      expect(m['streamSid']).toBe(call.streamSid);
      const body = m['media'] as Json;
      expect(body['track']).toBe('inbound');
      expect(body['chunk']).toBe(String(i + 1));
      const first = Number((mediaMsgs[0]?.['media'] as Json)['timestamp']);
      expect(Number(body['timestamp'])).toBe(first + 20 * i);
    });
    expect(rest.at(-1)).toEqual({
      event: 'stop',
      sequenceNumber: String(frames + 2),
      streamSid: call.streamSid,
      stop: { accountSid: call.accountSid, callSid: call.callSid },
    });
  });

  it('paces frames at real time on a drift-free schedule', async () => {
    const server = await startPlainServer();
    const call = await twilio(server.url);
    const { ws, received } = await server.next();
    const arrivals: number[] = [];
    ws.on('message', () => arrivals.push(monotonicNow()));
    await call.streamAudio(silence(200)); // 10 frames
    await until(ws, () => received.json.length === 12);
    const stamps = received.json.slice(2).map((m) => Number((m['media'] as Json)['timestamp']));
    expect(stamps.map((t) => t - (stamps[0] as number))).toEqual([0, 20, 40, 60, 80, 100, 120, 140, 160, 180]);
    // Lower bound only: a burst would arrive within a few ms; real time needs ≥ 180 ms.
    expect((arrivals.at(-1) as number) - (arrivals[0] as number)).toBeGreaterThanOrEqual(170);
  });

  it('can hold back start, send an altered one, and send invalid frames as given', async () => {
    const server = await startPlainServer();
    const call = await twilio(server.url, { autoStart: false });
    const { ws, received } = await server.next();
    call.sendRaw('not json');
    call.sendRaw(Buffer.from([1, 2, 3]), { binary: true });
    call.sendStart({ callSid: 'CAother' }, ['customParameters']);
    await until(ws, () => received.json.length === 1 && received.binary.length === 1);
    expect(received.text).toEqual(['not json']);
    expect(received.binary[0]).toEqual(Buffer.from([1, 2, 3]));
    expect(received.json[0]?.['event']).toBe('start');
    const start = received.json[0]?.['start'] as Json;
    expect(start['callSid']).toBe('CAother');
    expect(start).not.toHaveProperty('customParameters');
  });

  it('rejects with the HTTP status and headers when the upgrade is refused', async () => {
    const http: Server = createServer();
    http.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow');
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    track(() => new Promise((resolve) => http.close(resolve)));
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/twilio/stream/x`;
    const err = await connectFakeTwilio({ url, localAddress: '127.0.0.2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpgradeRejectedError);
    expect(err).toMatchObject({ statusCode: 429, body: 'slow', headers: { 'retry-after': '30' } });
  });

  it('echoes each mark only after the audio queued before it has played', async () => {
    const server = await startPlainServer();
    const call = await twilio(server.url);
    const { ws, received } = await server.next();
    const first = agent.subarray(0, 8000); // 1 s
    const second = agent.subarray(8000, 8800); // 100 ms
    ws.send(media(call.streamSid, first));
    ws.send(mark(call.streamSid, 'a'));
    ws.send(media(call.streamSid, second));
    ws.send(mark(call.streamSid, 'b'));
    await call.waitFor('mark', (m) => m.mark.name === 'b');
    expect(call.echoedMarks).toEqual([]); // 1 s of audio is still playing
    await until(ws, () => received.json.filter((m) => m['event'] === 'mark').length === 2);

    const echoes = received.json.filter((m) => m['event'] === 'mark');
    expect(echoes.map((m) => m['mark'])).toEqual([{ name: 'a' }, { name: 'b' }]);
    expect(echoes[0]).toMatchObject({ streamSid: call.streamSid, sequenceNumber: expect.stringMatching(/^\d+$/) });
    expect(call.echoedMarks[0]?.playedBytes).toBeGreaterThanOrEqual(8000);
    expect(call.echoedMarks[1]).toEqual({ name: 'b', playedBytes: 8800, cleared: false });
    expect(call.playedAudio()).toEqual(agent.subarray(0, 8800));
    expect(call.receivedAudio()).toEqual(agent.subarray(0, 8800));
    expect(call.protocolErrors).toEqual([]);

    ws.send(mark(call.streamSid, 'idle')); // nothing queued: echoed at once
    await until(ws, () => received.json.filter((m) => m['event'] === 'mark').length === 3);
    expect(call.echoedMarks[2]).toEqual({ name: 'idle', playedBytes: 8800, cleared: false });
  });

  it('clear drops unplayed audio and echoes every pending mark at once', async () => {
    const server = await startPlainServer();
    const call = await twilio(server.url);
    const { ws, received } = await server.next();
    const sent = agent.subarray(0, 24000); // 3 s
    ws.send(media(call.streamSid, sent.subarray(0, 16000)));
    ws.send(mark(call.streamSid, 'x'));
    ws.send(media(call.streamSid, sent.subarray(16000)));
    ws.send(mark(call.streamSid, 'y'));
    await call.waitFor('mark', (m) => m.mark.name === 'y');
    ws.send(JSON.stringify({ event: 'clear', streamSid: call.streamSid }));
    await until(ws, () => received.json.filter((m) => m['event'] === 'mark').length === 2);

    expect(received.json.filter((m) => m['event'] === 'mark').map((m) => m['mark'])).toEqual([{ name: 'x' }, { name: 'y' }]);
    expect(call.echoedMarks.map((m) => [m.name, m.cleared])).toEqual([['x', true], ['y', true]]);
    expect(call.queuedBytes).toBe(0);
    const played = call.playedAudio();
    expect(played.length).toBeLessThan(16000);
    expect(played).toEqual(sent.subarray(0, played.length));
    expect(call.clearedBytes + played.length).toBe(24000);
    expect(call.receivedAudio()).toEqual(sent);
    expect(call.counts).toEqual({ media: 2, mark: 2, clear: 1 });

    // Playback carries on normally after a clear.
    ws.send(media(call.streamSid, agent.subarray(0, 160)));
    ws.send(mark(call.streamSid, 'z'));
    await until(ws, () => received.json.filter((m) => m['event'] === 'mark').length === 3);
    expect(call.echoedMarks[2]).toEqual({ name: 'z', playedBytes: played.length + 160, cleared: false });
  });

  it('records frames Twilio would reject as protocol errors, not messages', async () => {
    const server = await startPlainServer();
    const call = await twilio(server.url);
    const { ws } = await server.next();
    ws.send(Buffer.from([0xff]), { binary: true });
    ws.send('{oops');
    ws.send(JSON.stringify({ event: 'media', streamSid: 'MZwrong', media: { payload: 'AAAA' } }));
    ws.send(JSON.stringify({ event: 'media', streamSid: call.streamSid, media: { payload: '@@@' } }));
    ws.send(JSON.stringify({ event: 'bogus', streamSid: call.streamSid }));
    ws.send(mark(call.streamSid, 'last'));
    await call.waitFor('mark');
    expect(call.protocolErrors).toEqual([
      'binary frame',
      'invalid JSON',
      'media with streamSid MZwrong',
      'media.payload is not base64 audio',
      'unknown event bogus',
    ]);
    expect(call.messages).toHaveLength(1);
  });

  it('pauseReading makes the sender buffer grow; resumeReading delivers every byte', async () => {
    const server = await startPlainServer();
    const call = await twilio(server.url);
    const { ws } = await server.next();
    call.pauseReading();
    const payload = Buffer.alloc(48 * 1024, 0x7f);
    let sent = 0;
    // Kernel socket buffers absorb a few MiB first; stop once 1 MiB waits in user space (cap 64 MiB).
    while (ws.bufferedAmount < 1024 * 1024 && sent < 1365) {
      ws.send(media(call.streamSid, payload));
      sent++;
      await nextTurn();
    }
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(1024 * 1024);
    expect(call.count('media')).toBeLessThan(sent);
    call.resumeReading();
    await call.waitForCount('media', sent, 15_000);
    expect(call.receivedBytes).toBe(sent * payload.length);
    expect(ws.bufferedAmount).toBe(0);
  });

  it('clears its timers when the bridge closes mid-stream and mid-playback', async () => {
    const server = await startPlainServer();
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const call = await twilio(server.url);
    const { ws } = await server.next();
    const streaming = call.streamAudio(caller); // real time: sleeping between frames
    ws.send(media(call.streamSid, agent));
    ws.send(mark(call.streamSid, 'end')); // playback timer armed ~6 s ahead
    await call.waitFor('mark');
    const serverClosed = once(ws, 'close'); // ws arms a close timer until its own side is done too
    ws.close(1011, 'upstream gone');
    expect(await call.closed).toEqual({ code: 1011, reason: 'upstream gone' });
    await serverClosed;
    // Counted before awaiting anything else: a frame sleep (20 ms) or the playback timer (~6 s) left
    // armed would still be here. At most as many as before, not exactly: a timer left by an
    // earlier test in this worker (e.g. ws's close timeout) may expire meanwhile.
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(timersBefore);
    expect((await streaming).aborted).toBe(true);
    await expect(call.waitFor('clear', undefined, 60_000)).rejects.toThrow(/socket closed \(1011\)/);
  });
});

describe('fake Realtime server', () => {
  it('records the upgrade (auth header, no OpenAI-Beta, model) and sends session.created', async () => {
    const fake = await realtime();
    const c = await client(`${fake.url}?model=gpt-realtime`, { Authorization: 'Bearer sk-test' });
    const conn = await fake.waitForConnection();
    expect(fake.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1\/realtime$/);
    expect(conn.headers['authorization']).toBe('Bearer sk-test');
    expect(conn.headers['openai-beta']).toBeUndefined();
    expect(conn.query).toEqual({ model: 'gpt-realtime' });
    await until(c.ws, () => c.events.length === 1);
    expect(c.events[0]).toMatchObject({ type: 'session.created', session: { type: 'realtime', model: 'gpt-realtime' } });
    expect([fake.openCount, fake.totalConnections]).toEqual([1, 1]);
  });

  it('streams the agent fixture as 20 ms deltas, byte-exact, then the done events', async () => {
    const fake = await realtime({ autoSessionCreated: false });
    const c = await client(fake.url);
    const conn = await fake.waitForConnection();
    const result = await conn.sendAudio(agent, { intervalMs: 0, itemId: 'item_1', responseId: 'resp_1' });
    await until(c.ws, () => c.events.at(-1)?.['type'] === 'response.done');

    const deltas = c.events.filter((e) => e['type'] === 'response.output_audio.delta');
    expect(result).toEqual({ responseId: 'resp_1', itemId: 'item_1', deltas: Math.ceil(agent.length / 160), bytes: agent.length, status: 'completed' });
    expect(deltas).toHaveLength(result.deltas);
    expect(Buffer.concat(deltas.map((d) => Buffer.from(d['delta'] as string, 'base64')))).toEqual(agent);
    for (const d of deltas) expect(d).toMatchObject({ response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0, event_id: expect.any(String) });
    expect(c.events.map((e) => e['type']).filter((t) => t !== 'response.output_audio.delta')).toEqual([
      'response.created',
      'response.output_audio.done',
      'response.done',
    ]);
    expect(c.events.at(-1)).toMatchObject({ response: { id: 'resp_1', status: 'completed' } });
    expect(conn.itemAudio('item_1')).toBe(agent.length);
  });

  it('paces deltas at intervalMs on a drift-free schedule', async () => {
    const fake = await realtime({ autoSessionCreated: false });
    const c = await client(fake.url);
    const conn = await fake.waitForConnection();
    const arrivals: number[] = [];
    c.ws.on('message', () => arrivals.push(monotonicNow()));
    await conn.sendAudio(agent.subarray(0, 1600), { intervalMs: 20, created: false, done: false }); // 10 deltas
    await until(c.ws, () => c.events.length === 10);
    expect((arrivals.at(-1) as number) - (arrivals[0] as number)).toBeGreaterThanOrEqual(170);
  });

  it('records appended audio byte-exact and answers invalid client events with error', async () => {
    const fake = await realtime({ autoSessionCreated: false });
    const c = await client(fake.url);
    const conn = await fake.waitForConnection();
    c.ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' } } } } }));
    for (const piece of chunkBuffer(caller, 800)) c.ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: piece.toString('base64') }));
    await conn.waitForCount('input_audio_buffer.append', Math.ceil(caller.length / 800));
    expect(fake.appendedAudio(conn)).toEqual(caller);
    expect(conn.session).toMatchObject({ type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' } } } });
    const update = await fake.waitForEvent('session.update');
    expect(update.session.type).toBe('realtime');

    c.ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: '%%%', event_id: 'bad1' }));
    c.ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'beta shape' } }));
    c.ws.send(JSON.stringify({ type: 'response.audio.delta' }));
    c.ws.send('nope');
    await until(c.ws, () => c.events.filter((e) => e['type'] === 'error').length === 4);
    expect(c.events[0]).toMatchObject({ type: 'session.updated', session: { type: 'realtime' } });
    expect(c.events.find((e) => e['type'] === 'error')).toMatchObject({ error: { event_id: 'bad1', type: 'invalid_request_error' } });
    expect(conn.protocolErrors).toHaveLength(4);
    expect(conn.appendedBytes).toBe(caller.length);
  });

  it('barge-in: speechStarted cancels a paced response; truncate is checked against audio sent', async () => {
    const fake = await realtime({ autoSessionCreated: false });
    const c = await client(fake.url);
    const conn = await fake.waitForConnection();
    c.ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: caller.subarray(0, 1600).toString('base64') }));
    await conn.waitForEvent('input_audio_buffer.append');
    const speaking = conn.sendAudio(agent, { itemId: 'item_a', responseId: 'resp_a' });
    await until(c.ws, () => c.events.filter((e) => e['type'] === 'response.output_audio.delta').length >= 5);
    const userItem = conn.speechStarted();
    const result = await speaking;
    expect(result.status).toBe('cancelled');
    expect(result.bytes).toBeLessThan(agent.length);
    await until(c.ws, () => c.events.at(-1)?.['type'] === 'response.done');
    expect(c.events.at(-2)).toEqual({ type: 'input_audio_buffer.speech_started', audio_start_ms: 200, item_id: userItem, event_id: expect.any(String) });
    expect(c.events.at(-1)).toMatchObject({ response: { id: 'resp_a', status: 'cancelled' } });

    c.ws.send(JSON.stringify({ type: 'conversation.item.truncate', item_id: 'item_a', content_index: 0, audio_end_ms: 40 }));
    c.ws.send(JSON.stringify({ type: 'conversation.item.truncate', item_id: 'item_a', content_index: 0, audio_end_ms: 60_000 }));
    await until(c.ws, () => c.events.at(-1)?.['type'] === 'error');
    expect(c.events.at(-2)).toMatchObject({ type: 'conversation.item.truncated', item_id: 'item_a', content_index: 0, audio_end_ms: 40 });
    expect(conn.protocolErrors).toEqual([`truncate at 60000 ms past the ${result.bytes / 8} ms of audio of item_a`]);
    expect(conn.count('conversation.item.truncate')).toBe(1);
  });

  it('drop() kills TCP (1006), close(code) sends that code, close() of the server ends the rest', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    let upgradeArrived = (): void => undefined;
    const arrived = new Promise<void>((resolve) => (upgradeArrived = resolve));
    const fake = await realtime({ handshakeDelayMs: 10_000, onUpgrade: () => upgradeArrived() });
    const pendingUpgrade = new WebSocket(fake.url); // still inside the handshake delay at close()
    pendingUpgrade.on('error', () => undefined);
    const pendingClosed = new Promise((resolve) => pendingUpgrade.once('close', resolve)); // events.once would reject on 'error'
    await arrived;
    expect([fake.upgradeAttempts, fake.totalConnections]).toEqual([1, 0]);
    await fake.close();
    await pendingClosed;
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(timersBefore); // an earlier test's timer may expire meanwhile

    const live = await realtime();
    const a = await client(live.url);
    const b = await client(live.url);
    const c = await client(live.url);
    const [ca, cb, cc] = [await live.waitForConnection(0), await live.waitForConnection(1), await live.waitForConnection(2)];
    ca.drop();
    cb.close(4000, 'bye');
    expect(await a.closed).toBe(1006);
    expect(await b.closed).toBe(4000);
    expect(live.openCount).toBe(1);
    const streaming = cc.sendAudio(agent); // paced: asleep between deltas when the server closes
    await live.close();
    expect(await c.closed).toBe(1006);
    expect((await streaming).status).toBe('aborted');
    expect([live.openCount, live.totalConnections]).toEqual([0, 3]);
  });

  it('refuses upgrades on demand: wrong API key 401, failUpgrades(status), and delays the handshake', async () => {
    const fake = await realtime({ apiKey: 'sk-right', handshakeDelayMs: 100 });
    const upgrade = async (key: string): Promise<number | 'open'> => {
      const ws = new WebSocket(fake.url, { headers: { Authorization: `Bearer ${key}` } });
      ws.on('error', () => undefined); // terminate() during a refused handshake reports an error
      const outcome = await new Promise<number | 'open'>((resolve) => {
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => resolve('open'));
      });
      ws.terminate();
      return outcome;
    };
    const t0 = monotonicNow();
    expect(await upgrade('sk-right')).toBe('open');
    expect(monotonicNow() - t0).toBeGreaterThanOrEqual(95);
    expect(await upgrade('sk-wrong')).toBe(401);
    fake.failUpgrades(503);
    expect(await upgrade('sk-right')).toBe(503);
    expect(fake.totalConnections).toBe(1);
  });
});

describe('both peers through a trivial relay', () => {
  it('caller audio reaches the model and the answer reaches the caller, byte-exact', async () => {
    const fake = await realtime({ onEvent: answerEachTurn({ turnBytes: caller.length, reply: agent, send: { intervalMs: 0 } }) });
    // The relay: Twilio media → input_audio_buffer.append; output_audio.delta → media + a mark per response.
    const relay = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(relay, 'listening');
    track(() => closeServer(relay));
    relay.on('connection', (tw) => {
      const up = new WebSocket(fake.url);
      const early: string[] = []; // appends made before the upstream socket is open
      up.once('open', () => early.splice(0).forEach((e) => up.send(e)));
      let streamSid = '';
      tw.on('message', (data) => {
        const msg = JSON.parse(text(data)) as Json;
        if (msg['event'] === 'start') streamSid = msg['streamSid'] as string;
        if (msg['event'] !== 'media') return;
        const append = JSON.stringify({ type: 'input_audio_buffer.append', audio: (msg['media'] as Json)['payload'] });
        if (up.readyState === WebSocket.OPEN) up.send(append);
        else early.push(append);
      });
      up.on('message', (data) => {
        const ev = JSON.parse(text(data)) as Json;
        if (ev['type'] === 'response.output_audio.delta') tw.send(JSON.stringify({ event: 'media', streamSid, media: { payload: ev['delta'] } }));
        if (ev['type'] === 'response.output_audio.done') tw.send(mark(streamSid, ev['response_id'] as string));
      });
      tw.on('close', () => up.close());
    });
    const { port } = relay.address() as AddressInfo;
    const call = await twilio(`ws://127.0.0.1:${port}/twilio/stream/tok`);
    const conn = await fake.waitForConnection();
    await call.streamAudio(caller, { realTime: false });
    await call.waitForCount('media', Math.ceil(agent.length / 160));
    const responseMark = await call.waitFor('mark');

    expect(fake.appendedAudio(conn)).toEqual(caller);
    expect(call.receivedAudio()).toEqual(agent);
    expect(responseMark.mark.name).toMatch(/^resp_/);
    expect(call.protocolErrors).toEqual([]);
    expect(conn.protocolErrors).toEqual([]);
    expect(fake.hookErrors).toEqual([]);

    await call.hangUp();
    await conn.closed;
    expect(fake.openCount).toBe(0);
  });
});
