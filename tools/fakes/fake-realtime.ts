/**
 * A fake OpenAI Realtime API (GA protocol) over a real WebSocket server on 127.0.0.1:<random port>.
 * It records what the bridge sends, validated the way the real API validates it, and lets a test or
 * a script play the model: stream `response.output_audio.delta` at any size and cadence, signal
 * barge-in, drop the TCP connection. Plain TypeScript, no test-runner imports.
 */
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { bytesToMs, chunkBuffer, decodeBase64, TWILIO_FRAME_BYTES } from './audio.js';

type JsonObject = Record<string, unknown>;

/** Any client event as received (JSON object with a string `type`). */
export interface ClientEventBase {
  type: string;
  event_id?: string;
  [key: string]: unknown;
}
export interface SessionUpdateEvent extends ClientEventBase {
  type: 'session.update';
  session: { type: 'realtime' | 'transcription' } & JsonObject;
}
export interface InputAudioBufferAppendEvent extends ClientEventBase {
  type: 'input_audio_buffer.append';
  /** base64 audio, µ-law here (session audio format `audio/pcmu`). */
  audio: string;
}
export interface ConversationItemTruncateEvent extends ClientEventBase {
  type: 'conversation.item.truncate';
  item_id: string;
  content_index: number;
  /** Audio the user heard, in ms from the start of the item's audio. */
  audio_end_ms: number;
}
interface KnownClientEvents {
  'session.update': SessionUpdateEvent;
  'input_audio_buffer.append': InputAudioBufferAppendEvent;
  'conversation.item.truncate': ConversationItemTruncateEvent;
}
/** The recorded type of a client event: precise for validated kinds, loose otherwise. */
export type ClientEventOf<T extends string> = T extends keyof KnownClientEvents ? KnownClientEvents[T] : ClientEventBase;
export type RealtimeClientEvent = ClientEventBase;

/** Client event types of the GA WebSocket API; anything else gets an `error` back, as upstream. */
export const GA_CLIENT_EVENT_TYPES: ReadonlySet<string> = new Set([
  'session.update',
  'input_audio_buffer.append',
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
  'conversation.item.create',
  'conversation.item.retrieve',
  'conversation.item.truncate',
  'conversation.item.delete',
  'response.create',
  'response.cancel',
  'output_audio_buffer.clear',
]);

/** A server event to send; `event_id` is filled in when missing. */
export interface ServerEvent {
  type: string;
  [key: string]: unknown;
}

export interface SendAudioOptions {
  /** Bytes of µ-law per delta. @default 160 (20 ms) */
  chunkBytes?: number;
  /** Gap between deltas in ms, on a drift-free schedule; 0 sends all deltas in one burst. @default 20 */
  intervalMs?: number;
  itemId?: string;
  responseId?: string;
  outputIndex?: number;
  contentIndex?: number;
  /** Send `response.created` before the first delta. @default true */
  created?: boolean;
  /** Send `response.output_audio.done` and `response.done` after the last delta. @default true */
  done?: boolean;
  signal?: AbortSignal;
}
export interface SendAudioResult {
  responseId: string;
  itemId: string;
  deltas: number;
  bytes: number;
  /** completed: all sent; cancelled: response.cancel / barge-in / cancelResponses(); aborted: signal or socket closed. */
  status: 'completed' | 'cancelled' | 'aborted';
}

export interface SpeechStartedOptions {
  /** @default ms of audio appended so far on this connection (what the real server reports) */
  audioStartMs?: number;
  itemId?: string;
  /** Cancel responses still streaming, as server VAD does with `interrupt_response`. @default true */
  interrupt?: boolean;
}

export type EventHook = (event: RealtimeClientEvent, connection: FakeRealtimeConnection) => void | Promise<void>;

export interface FakeRealtimeOptions {
  /** Delay before completing each upgrade, in ms (first-audio latency benchmarks). @default 0 */
  handshakeDelayMs?: number;
  /** Send `session.created` on connect. @default true */
  autoSessionCreated?: boolean;
  /** Answer session.update → session.updated, truncate → conversation.item.truncated, response.cancel. @default true */
  autoReply?: boolean;
  /** Called as each upgrade request arrives, before the handshake delay and any refusal. */
  onUpgrade?: (req: IncomingMessage) => void;
  /** Called for every valid client event, after recording and auto replies. */
  onEvent?: EventHook;
  /** When set, upgrades without `Authorization: Bearer <apiKey>` are refused with 401. */
  apiKey?: string;
  /** @default '/v1/realtime' */
  path?: string;
}

interface ActiveResponse {
  responseId: string;
  cancelled: boolean;
}

let idCounter = 0;
const nextId = (prefix: string): string => `${prefix}_fake${(++idCounter).toString(36).padStart(6, '0')}`;

/** One upstream connection opened by the bridge. */
export class FakeRealtimeConnection {
  readonly index: number;
  readonly socket: WebSocket;
  readonly headers: IncomingHttpHeaders;
  readonly url: string;
  readonly query: Readonly<Record<string, string>>;
  /** Valid client events in arrival order. */
  readonly events: RealtimeClientEvent[];
  /** Why an incoming frame was rejected (bad JSON, unknown type, bad fields, truncate past the audio). */
  readonly protocolErrors: string[] = [];
  /** The session as configured by session.update (shallow merge over the defaults). */
  session: JsonObject;
  closeCode: number | null = null;
  closeReason = '';
  readonly closed: Promise<{ code: number; reason: string }>;

  private readonly recorder: Recorder<RealtimeClientEvent>;
  private readonly appended: Buffer[] = [];
  private appendedLength = 0;
  private readonly itemAudioBytes = new Map<string, number>();
  private readonly active = new Set<ActiveResponse>();
  private readonly sleeper = new Sleeper();
  private readonly server: FakeRealtime;

  constructor(server: FakeRealtime, index: number, socket: WebSocket, req: IncomingMessage) {
    this.server = server;
    this.index = index;
    this.socket = socket;
    this.headers = req.headers;
    this.url = req.url ?? '';
    this.query = Object.fromEntries(new URL(this.url, 'http://fake').searchParams);
    this.recorder = new Recorder<RealtimeClientEvent>(`realtime connection #${index}`, (e) => e.type);
    this.events = this.recorder.items;
    this.session = defaultSession(this.query['model'] ?? 'gpt-realtime');
    this.closed = new Promise((resolve) => {
      socket.once('close', (code: number, reason: Buffer) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.stopAll('socket closed');
        resolve({ code, reason: this.closeReason });
      });
    });
    socket.on('error', () => undefined); // 'close' follows; errors are visible through closeCode
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }
  /** Everything received in `input_audio_buffer.append`, concatenated. */
  appendedAudio(): Buffer {
    return Buffer.concat(this.appended, this.appendedLength);
  }
  get appendedBytes(): number {
    return this.appendedLength;
  }
  /** µ-law bytes sent so far in deltas for `itemId`. */
  itemAudio(itemId: string): number {
    return this.itemAudioBytes.get(itemId) ?? 0;
  }
  count(type: string): number {
    return this.recorder.count((e) => e.type === type);
  }

  /** Resolves with the first event of `type` (already received or future) that matches. */
  waitForEvent<T extends string>(type: T, predicate?: (event: ClientEventOf<T>) => boolean, timeoutMs = 5000): Promise<ClientEventOf<T>> {
    return this.recorder.waitFor(
      (e) => e.type === type && (predicate === undefined || predicate(e as ClientEventOf<T>)),
      `client event ${type}`,
      timeoutMs,
    ) as Promise<ClientEventOf<T>>;
  }

  /** Resolves with the n-th client event of `type` (1-based count), already received or future. */
  waitForCount<T extends string>(type: T, n: number, timeoutMs = 5000): Promise<ClientEventOf<T>> {
    let seen = 0;
    return this.recorder.waitFor((e) => e.type === type && ++seen === n, `${n} × client event ${type}`, timeoutMs) as Promise<ClientEventOf<T>>;
  }

  /** Sends one server event; returns false when the socket is not open. */
  send(event: ServerEvent): boolean {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify({ event_id: nextId('event'), ...event }));
    return true;
  }

  /** Anything at all (malformed JSON, binary frames), for fuzzing the bridge; false when not open. */
  sendRaw(data: string | Buffer, opts: { binary?: boolean } = {}): boolean {
    if (!this.isOpen) return false;
    this.socket.send(data, { binary: opts.binary ?? typeof data !== 'string' });
    return true;
  }

  /**
   * Streams `audio` as `response.output_audio.delta` events (base64 µ-law), `chunkBytes` each,
   * `intervalMs` apart (deadline i × intervalMs after the first, so no drift), then the done events.
   */
  async sendAudio(audio: Buffer, opts: SendAudioOptions = {}): Promise<SendAudioResult> {
    const chunkBytes = opts.chunkBytes ?? TWILIO_FRAME_BYTES;
    const intervalMs = opts.intervalMs ?? 20;
    const responseId = opts.responseId ?? nextId('resp');
    const itemId = opts.itemId ?? nextId('item');
    const ids = { response_id: responseId, item_id: itemId, output_index: opts.outputIndex ?? 0, content_index: opts.contentIndex ?? 0 };
    const state: ActiveResponse = { responseId, cancelled: false };
    const result: SendAudioResult = { responseId, itemId, deltas: 0, bytes: 0, status: 'completed' };
    this.active.add(state);
    try {
      if (opts.created ?? true) this.send({ type: 'response.created', response: responseObject(responseId, 'in_progress') });
      const startedAt = monotonicNow();
      const chunks = chunkBuffer(audio, chunkBytes);
      for (let i = 0; i < chunks.length; i++) {
        if (i > 0 && intervalMs > 0) await this.sleeper.sleepUntil(startedAt + i * intervalMs);
        if (state.cancelled) return { ...result, status: 'cancelled' };
        if (opts.signal?.aborted === true || !this.isOpen) return { ...result, status: 'aborted' };
        const chunk = chunks[i] as Buffer;
        this.send({ type: 'response.output_audio.delta', ...ids, delta: chunk.toString('base64') });
        this.itemAudioBytes.set(itemId, this.itemAudio(itemId) + chunk.length);
        result.deltas++;
        result.bytes += chunk.length;
      }
      if (opts.done ?? true) {
        this.send({ type: 'response.output_audio.done', ...ids });
        this.send({ type: 'response.done', response: responseObject(responseId, 'completed') });
      }
      return result;
    } finally {
      this.active.delete(state);
    }
  }

  /** Cancels every response still streaming: each sends `response.done` with status `cancelled`. */
  cancelResponses(): number {
    let n = 0;
    for (const state of this.active) {
      if (state.cancelled) continue;
      state.cancelled = true;
      n++;
      this.send({ type: 'response.done', response: responseObject(state.responseId, 'cancelled') });
    }
    this.sleeper.wakeAll();
    return n;
  }

  /** `input_audio_buffer.speech_started` (barge-in); returns the item_id it announced. */
  speechStarted(opts: number | SpeechStartedOptions = {}): string {
    const o: SpeechStartedOptions = typeof opts === 'number' ? { audioStartMs: opts } : opts;
    const itemId = o.itemId ?? nextId('item');
    this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: o.audioStartMs ?? Math.floor(bytesToMs(this.appendedLength)), item_id: itemId });
    if (o.interrupt ?? true) this.cancelResponses();
    return itemId;
  }

  speechStopped(itemId: string, audioEndMs = Math.floor(bytesToMs(this.appendedLength))): void {
    this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: audioEndMs, item_id: itemId });
  }

  /** The caller's words, as `conversation.item.input_audio_transcription.completed`. */
  userTranscript(itemId: string, transcript: string): void {
    this.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: itemId, content_index: 0, transcript });
  }

  /** The model's words, as `response.output_audio_transcript.done`. */
  agentTranscript(responseId: string, itemId: string, transcript: string): void {
    this.send({ type: 'response.output_audio_transcript.done', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0, transcript });
  }

  /** An `error` server event (the socket stays open, as upstream does for request errors). */
  error(message: string, code = 'invalid_request_error', clientEventId: string | null = null): void {
    this.send({ type: 'error', error: { type: 'invalid_request_error', code, message, param: null, event_id: clientEventId } });
  }

  /** Kills the TCP connection without a close frame (the bridge sees 1006). */
  drop(): void {
    this.socket.terminate();
  }

  close(code = 1000, reason = ''): void {
    this.socket.close(code, reason);
  }

  private stopAll(reason: string): void {
    this.sleeper.wakeAll(); // streaming loops wake, see the closed socket and end as 'aborted'
    this.recorder.end(reason);
  }

  private reject(problem: string, clientEventId: string | null): void {
    this.protocolErrors.push(problem);
    this.error(problem, 'invalid_value', clientEventId);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) return this.reject('binary frame', null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawToText(data));
    } catch {
      return this.reject('invalid JSON', null);
    }
    const problem = validateClientEvent(parsed);
    const eventId = isObject(parsed) && typeof parsed['event_id'] === 'string' ? parsed['event_id'] : null;
    if (problem !== null) return this.reject(problem, eventId);
    const event = parsed as RealtimeClientEvent;
    if (event.type === 'conversation.item.truncate') {
      const truncate = event as ConversationItemTruncateEvent;
      const sentMs = bytesToMs(this.itemAudio(truncate.item_id));
      if (!this.itemAudioBytes.has(truncate.item_id)) return this.reject(`truncate of unknown item ${truncate.item_id}`, eventId);
      if (truncate.audio_end_ms > sentMs) return this.reject(`truncate at ${truncate.audio_end_ms} ms past the ${sentMs} ms of audio of ${truncate.item_id}`, eventId);
    }
    if (event.type === 'input_audio_buffer.append') {
      const audio = decodeBase64((event as InputAudioBufferAppendEvent).audio) as Buffer;
      this.appended.push(audio);
      this.appendedLength += audio.length;
    }
    this.recorder.push(event);
    this.server.recordEvent(this, event);
    if (this.server.autoReply) this.autoReply(event);
    this.server.runHook(event, this);
  }

  private autoReply(event: RealtimeClientEvent): void {
    switch (event.type) {
      case 'session.update':
        this.session = { ...this.session, ...(event as SessionUpdateEvent).session };
        this.send({ type: 'session.updated', session: this.session });
        break;
      case 'conversation.item.truncate': {
        const { item_id, content_index, audio_end_ms } = event as ConversationItemTruncateEvent;
        this.send({ type: 'conversation.item.truncated', item_id, content_index, audio_end_ms });
        break;
      }
      case 'response.cancel':
        this.cancelResponses();
        break;
    }
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const isNonNegInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Returns why `parsed` is not a valid GA client event, or null. */
export function validateClientEvent(parsed: unknown): string | null {
  if (!isObject(parsed) || typeof parsed['type'] !== 'string') return 'not an object with a string type';
  const type = parsed['type'];
  if (!GA_CLIENT_EVENT_TYPES.has(type)) return `unknown client event type ${type}`;
  switch (type) {
    case 'session.update': {
      const session = parsed['session'];
      if (!isObject(session) || (session['type'] !== 'realtime' && session['type'] !== 'transcription')) return 'session.update needs session.type "realtime" (GA)';
      return null;
    }
    case 'input_audio_buffer.append': {
      const audio = parsed['audio'];
      if (typeof audio !== 'string' || decodeBase64(audio) === null) return 'input_audio_buffer.append.audio is not base64';
      return null;
    }
    case 'conversation.item.truncate':
      if (typeof parsed['item_id'] !== 'string' || !isNonNegInt(parsed['content_index']) || !isNonNegInt(parsed['audio_end_ms'])) {
        return 'conversation.item.truncate needs item_id, integer content_index and audio_end_ms';
      }
      return null;
    default:
      return null;
  }
}

function defaultSession(model: string): JsonObject {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id: nextId('sess'),
    model,
    output_modalities: ['audio'],
    audio: {
      input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { type: 'server_vad' } },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy' },
    },
  };
}

function responseObject(id: string, status: 'in_progress' | 'completed' | 'cancelled'): JsonObject {
  return { id, object: 'realtime.response', status, output: [] };
}

/** The fake upstream server. Create with `startFakeRealtime()`. */
export class FakeRealtime {
  /** ws://127.0.0.1:PORT/v1/realtime */
  url = '';
  port = 0;
  readonly connections: FakeRealtimeConnection[];
  readonly autoReply: boolean;
  /** Errors thrown by the `onEvent` hook: collected, so a script bug cannot crash the process. */
  readonly hookErrors: unknown[] = [];

  private readonly opts: FakeRealtimeOptions;
  private readonly http = createServer((_req, res) => res.writeHead(426, { Connection: 'close' }).end());
  private readonly wss = new WebSocketServer({ noServer: true, clientTracking: false });
  private readonly connRecorder = new Recorder<FakeRealtimeConnection>('fake realtime', () => 'connection');
  private readonly eventRecorder = new Recorder<{ connection: FakeRealtimeConnection; event: RealtimeClientEvent }>(
    'fake realtime',
    (r) => r.event.type,
  );
  /** Upgrades waiting out `handshakeDelayMs`: socket → timer. */
  private readonly pendingUpgrades = new Map<Socket, NodeJS.Timeout>();
  private upgradeFailure: number | null = null;
  private closing = false;

  constructor(opts: FakeRealtimeOptions = {}) {
    this.opts = opts;
    this.autoReply = opts.autoReply ?? true;
    this.connections = this.connRecorder.items;
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.http.address() as AddressInfo).port;
    this.url = `ws://127.0.0.1:${this.port}${this.opts.path ?? '/v1/realtime'}`;
  }

  get openCount(): number {
    return this.connections.filter((c) => c.isOpen).length;
  }
  get totalConnections(): number {
    return this.connections.length;
  }
  /** Upgrade requests received, including refused and still-delayed ones. */
  upgradeAttempts = 0;

  /** Resolves with connection number `index` (0-based) once it is open, including one already open. */
  waitForConnection(index = 0, timeoutMs = 5000): Promise<FakeRealtimeConnection> {
    return this.connRecorder.waitFor((c) => c.index === index, `connection #${index}`, timeoutMs);
  }

  /** First matching client event on any connection, already received or future. */
  async waitForEvent<T extends string>(type: T, predicate?: (event: ClientEventOf<T>) => boolean, timeoutMs = 5000): Promise<ClientEventOf<T>> {
    const { event } = await this.eventRecorder.waitFor(
      (r) => r.event.type === type && (predicate === undefined || predicate(r.event as ClientEventOf<T>)),
      `client event ${type}`,
      timeoutMs,
    );
    return event as ClientEventOf<T>;
  }

  appendedAudio(connection: FakeRealtimeConnection): Buffer {
    return connection.appendedAudio();
  }

  /** From now on refuse upgrades with this HTTP status (upstream down / bad key); null accepts again. */
  failUpgrades(status: number | null): void {
    this.upgradeFailure = status;
  }

  /** Terminates every client and pending upgrade, then closes the server. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const [socket, timer] of this.pendingUpgrades) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.pendingUpgrades.clear();
    for (const connection of this.connections) connection.socket.terminate();
    await Promise.all(this.connections.map((c) => c.closed));
    this.connRecorder.end('fake realtime closed');
    this.eventRecorder.end('fake realtime closed');
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /** @internal called by connections */
  recordEvent(connection: FakeRealtimeConnection, event: RealtimeClientEvent): void {
    this.eventRecorder.push({ connection, event });
  }

  /** @internal called by connections */
  runHook(event: RealtimeClientEvent, connection: FakeRealtimeConnection): void {
    const hook = this.opts.onEvent;
    if (hook === undefined) return;
    try {
      const result = hook(event, connection);
      if (result instanceof Promise) result.catch((err: unknown) => this.hookErrors.push(err));
    } catch (err) {
      this.hookErrors.push(err);
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => undefined); // a client vanishing mid-handshake is not our failure
    this.upgradeAttempts++;
    this.opts.onUpgrade?.(req);
    const proceed = (): void => {
      this.pendingUpgrades.delete(socket);
      if (this.closing || socket.destroyed) return void socket.destroy();
      const pathname = new URL(req.url ?? '/', 'http://fake').pathname;
      if (pathname !== (this.opts.path ?? '/v1/realtime')) return refuse(socket, 404);
      if (this.upgradeFailure !== null) return refuse(socket, this.upgradeFailure);
      if (this.opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.opts.apiKey}`) return refuse(socket, 401);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
    };
    const delay = this.opts.handshakeDelayMs ?? 0;
    if (delay <= 0) return proceed();
    const timer = setTimeout(proceed, delay); // cleared by close()
    this.pendingUpgrades.set(socket, timer);
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    if (this.closing) return void ws.terminate();
    const connection = new FakeRealtimeConnection(this, this.connections.length, ws, req);
    this.connRecorder.push(connection);
    if (this.opts.autoSessionCreated ?? true) connection.send({ type: 'session.created', session: connection.session });
  }
}

function refuse(socket: Socket, status: number): void {
  const body = JSON.stringify({ error: { message: STATUS_CODES[status] ?? 'refused' } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Starts a fake Realtime server on 127.0.0.1 and a random port. */
export async function startFakeRealtime(opts: FakeRealtimeOptions = {}): Promise<FakeRealtime> {
  const fake = new FakeRealtime(opts);
  await fake.listen();
  return fake;
}

export interface TurnScriptOptions {
  /** Appended caller audio that makes one turn, in bytes (e.g. the caller fixture's length). */
  turnBytes: number;
  /** The model's spoken answer to turn n (0-based). */
  reply: Buffer | ((turn: number) => Buffer);
  send?: SendAudioOptions;
  userText?: string;
  agentText?: string;
}

/**
 * An `onEvent` script that plays a model with server VAD: the first audio of a turn gives
 * `speech_started`, `turnBytes` of it give `speech_stopped` and then the reply is streamed.
 */
export function answerEachTurn(opts: TurnScriptOptions): EventHook {
  const turns = new WeakMap<FakeRealtimeConnection, { bytes: number; itemId: string | null; turn: number }>();
  return async (event, connection) => {
    if (event.type !== 'input_audio_buffer.append') return;
    const state = turns.get(connection) ?? { bytes: 0, itemId: null, turn: 0 };
    turns.set(connection, state);
    state.itemId ??= connection.speechStarted();
    state.bytes += Buffer.byteLength((event as InputAudioBufferAppendEvent).audio, 'base64');
    if (state.bytes < opts.turnBytes) return;
    const itemId = state.itemId;
    const turn = state.turn++;
    state.bytes = 0;
    state.itemId = null;
    connection.speechStopped(itemId);
    if (opts.userText !== undefined) connection.userTranscript(itemId, opts.userText);
    const reply = typeof opts.reply === 'function' ? opts.reply(turn) : opts.reply;
    const sent = await connection.sendAudio(reply, opts.send);
    if (opts.agentText !== undefined && sent.status === 'completed') connection.agentTranscript(sent.responseId, sent.itemId, opts.agentText);
  };
}

// ---------------------------------------------------------------------------------------------
// Shared by both fakes (imported by fake-twilio.ts): recording with waiters, cancellable sleeps.

/** Monotonic ms clock used for all schedules (immune to wall-clock steps). */
export const monotonicNow = (): number => performance.now();

export function rawToText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

interface Waiter<T> {
  match: (item: T) => boolean;
  resolve: (item: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** An append-only log (with arrival times) that can be awaited; ended when its socket closes. */
export class Recorder<T> {
  readonly items: T[] = [];
  /** monotonicNow() at each push, parallel to `items`. */
  readonly times: number[] = [];
  private readonly waiters = new Set<Waiter<T>>();
  private endReason: string | null = null;
  private readonly label: string;
  private readonly describe: (item: T) => string;

  constructor(label: string, describe: (item: T) => string) {
    this.label = label;
    this.describe = describe;
  }

  push(item: T): void {
    this.items.push(item);
    this.times.push(monotonicNow());
    for (const waiter of this.waiters) {
      let matched: boolean;
      try {
        matched = waiter.match(item);
      } catch (err) {
        this.settle(waiter);
        waiter.reject(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (matched) {
        this.settle(waiter);
        waiter.resolve(item);
      }
    }
  }

  count(match: (item: T) => boolean): number {
    return this.items.filter(match).length;
  }

  /** First item matching (already recorded or future); rejects on timeout or when ended first. */
  waitFor(match: (item: T) => boolean, description: string, timeoutMs: number): Promise<T> {
    const found = this.items.find(match);
    if (found !== undefined) return Promise.resolve(found);
    if (this.endReason !== null) return Promise.reject(new Error(`${this.label}: no ${description} (${this.endReason}); ${this.summary()}`));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${description}; ${this.summary()}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Rejects every pending waiter now, and later ones that find nothing. */
  end(reason: string): void {
    if (this.endReason !== null) return;
    this.endReason = reason;
    for (const waiter of this.waiters) {
      this.settle(waiter);
      waiter.reject(new Error(`${this.label}: ${reason} while waiting; ${this.summary()}`));
    }
  }

  private settle(waiter: Waiter<T>): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
  }

  private summary(): string {
    const counts = new Map<string, number>();
    for (const item of this.items) {
      const key = this.describe(item);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return `received ${[...counts].map(([k, n]) => `${k}×${n}`).join(', ') || 'nothing'}`;
  }
}

/** Sleeps on a monotonic deadline that can all be cut short at once (on close or cancel). */
export class Sleeper {
  private readonly pending = new Map<NodeJS.Timeout, () => void>();

  sleepUntil(deadline: number): Promise<void> {
    const ms = deadline - monotonicNow();
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve();
      }, ms);
      this.pending.set(timer, resolve);
    });
  }

  wakeAll(): void {
    for (const [timer, resolve] of this.pending) {
      clearTimeout(timer);
      resolve();
    }
    this.pending.clear();
  }

  get sleeping(): number {
    return this.pending.size;
  }
}
