/**
 * One upstream connection the bridge opened to the fake Realtime server (fake-realtime.ts): what
 * the bridge sent on it, validated as the real API validates it, and the model's side of it —
 * audio deltas at any size and cadence, barge-in, transcripts, errors, a dropped TCP connection.
 * Plain TypeScript, no test-runner imports.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { WebSocket, type RawData } from 'ws';
import { bytesToMs, chunkBuffer, TWILIO_FRAME_BYTES } from './audio.js';
import { decodeBase64 } from './base64.js';
import { monotonicNow } from './clock.js';
import type { FakeRealtime } from './fake-realtime.js';
import { rawToText } from './raw-text.js';
import {
  defaultSession,
  isObject,
  nextId,
  responseObject,
  validateClientEvent,
  type ClientEventOf,
  type ConversationItemTruncateEvent,
  type InputAudioBufferAppendEvent,
  type JsonObject,
  type RealtimeClientEvent,
  type ServerEvent,
  type SessionUpdateEvent,
} from './realtime-events.js';
import { Recorder } from './recorder.js';
import { Sleeper } from './sleeper.js';

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

interface ActiveResponse {
  responseId: string;
  cancelled: boolean;
}

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
