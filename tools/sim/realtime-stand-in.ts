/**
 * A local stand-in for the OpenAI Realtime API (GA WebSocket protocol), built for load: it plays a
 * model with server VAD — `speech_started` when the caller starts talking (cancelling an answer in
 * progress: barge-in), `speech_stopped` after 500 ms of quiet, then an answer (the agent fixture)
 * streamed at real-time pace in 20 ms deltas. It keeps counts, not recordings, so a thousand calls
 * cost O(1) memory per message; every answer of every call is driven by one shared timer.
 *
 * (tools/fakes/fake-realtime.ts is the recording fake for assertions; this is its load twin.)
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { readFixture } from '../fakes/audio.js';
import { PhaseTicker, type TickTask } from './ticker.js';
import { TurnDetector, type TurnDetectorOptions } from './turn-detector.js';
import { meanAmplitude } from './ulaw.js';
import { GapMeter } from './stats.js';
import { PIECE_BYTES, type LatencyProbe } from './latency.js';


/** The Realtime API's maximum session duration, in seconds (expires_at in session.created). */
const SESSION_MAX_SECONDS = 60 * 60;
export interface StandInOptions {
  /** The model's answer to every turn (µ-law). @default the agent fixture */
  readonly reply?: Buffer;
  /** Bytes per `response.output_audio.delta`; the answer streams at 8 bytes/ms. @default 160 (20 ms) */
  readonly deltaBytes?: number;
  readonly turns?: TurnDetectorOptions;
  /** Shared timer for all answers (pass the caller's to run everything off one). */
  readonly ticker?: PhaseTicker;
  /** Stamps answer deltas and reads caller stamps (latency runs). */
  readonly probe?: LatencyProbe;
  /** @default 0 (any free port) */
  readonly port?: number;
  /**
   * Share `port` with other processes' stand-ins (SO_REUSEPORT, Linux): the kernel spreads the
   * bridge's upstream connections over them (the benchmark's load spread over several cores).
   * @default false
   */
  readonly reusePort?: boolean;
  /** Largest client message accepted, bytes. Appends are ~1.1 KB; session.update a few KB. @default 1 MiB */
  readonly maxPayload?: number;
  /** Told about each connection's events as they happen (the demo's timeline). */
  readonly onEvent?: (event: StandInEvent) => void;
  /** The words of `reply`, sent as the answer's transcript. @default AGENT_FIXTURE_WORDS */
  readonly replyTranscript?: string;
  /**
   * Send a plausible `usage` with each completed response (the console shows a call's tokens):
   * audio tokens at 10 a second of audio each way, text tokens from the transcript's words.
   * @default false
   */
  readonly usage?: boolean;
}

/** What the agent fixture says (test/fixtures/README.md). */
export const AGENT_FIXTURE_WORDS = 'Of course. I can book a table for two tomorrow at seven in the evening. May I have your name, please?';
/** Audio tokens per second of audio in `usage` (an estimate of the model's rate; only shown, never billed). */
const AUDIO_TOKENS_PER_SECOND = 10;

export type StandInEvent =
  | { readonly type: 'connected'; readonly connection: number }
  | { readonly type: 'client_event'; readonly connection: number; readonly event: string; readonly detail?: Record<string, unknown> }
  | { readonly type: 'speech_started' | 'speech_stopped'; readonly connection: number; readonly audioMs: number; readonly interrupted: boolean }
  | { readonly type: 'answer_started'; readonly connection: number; readonly responseId: string }
  | { readonly type: 'answer_ended'; readonly connection: number; readonly responseId: string; readonly status: 'completed' | 'cancelled'; readonly bytes: number }
  | { readonly type: 'closed'; readonly connection: number; readonly code: number };

/** Totals over every connection. */
export interface StandInCounts {
  connections: number;
  open: number;
  /** Client events received, by type (what the bridge sent upstream). */
  received: Record<string, number>;
  /** Server events sent, by type. */
  sent: Record<string, number>;
  appendedBytes: number;
  answerBytes: number;
  answers: number;
  cancelled: number;
  protocolErrors: number;
}

const PATH = '/v1/realtime';

/** The stand-in server. Create with `startRealtimeStandIn()`. */
export class RealtimeStandIn {
  url = '';
  port = 0;
  readonly counts: StandInCounts = {
    connections: 0,
    open: 0,
    received: {},
    sent: {},
    appendedBytes: 0,
    answerBytes: 0,
    answers: 0,
    cancelled: 0,
    protocolErrors: 0,
  };
  /** Worst gap between consecutive appends on any one connection since `resetWindow()` (ms). */
  get maxAppendGapMs(): number {
    let max = 0;
    for (const c of this.live) max = Math.max(max, c.appendGap.max);
    return Math.max(max, this.closedGapMax);
  }

  readonly reply: Buffer;
  readonly deltaBytes: number;
  /** base64 of each unstamped delta, computed once for every call. */
  readonly replyDeltas: readonly string[];
  readonly opts: StandInOptions;
  readonly ticker: PhaseTicker;
  private readonly ownTicker: boolean;
  private readonly wss: WebSocketServer;
  /** Our own HTTP server when listening with reusePort (ws owns it otherwise). */
  private readonly httpServer: Server | null = null;
  private readonly live = new Set<StandInConnection>();
  private closedGapMax = 0;
  private eventId = 0;

  constructor(opts: StandInOptions = {}) {
    this.opts = opts;
    this.deltaBytes = opts.deltaBytes ?? PIECE_BYTES;
    const reply = opts.reply ?? readFixture('agent-8k.ulaw');
    // Latency runs need every delta to start on a piece boundary: trim the answer to whole pieces.
    this.reply = opts.probe ? reply.subarray(0, reply.length - (reply.length % PIECE_BYTES)) : reply;
    this.replyDeltas = [];
    for (let o = 0; o < this.reply.length; o += this.deltaBytes) {
      (this.replyDeltas as string[]).push(this.reply.subarray(o, o + this.deltaBytes).toString('base64'));
    }
    this.ownTicker = opts.ticker === undefined;
    this.ticker = opts.ticker ?? new PhaseTicker();
    const common = { path: PATH, perMessageDeflate: false, maxPayload: opts.maxPayload ?? 1024 * 1024 };
    if (opts.reusePort) {
      // ws listens without SO_REUSEPORT: bring our own server and listen with it.
      this.httpServer = createServer((_req, res) => res.writeHead(426).end());
      this.wss = new WebSocketServer({ ...common, server: this.httpServer });
    } else {
      this.wss = new WebSocketServer({ ...common, host: '127.0.0.1', port: opts.port ?? 0 });
    }
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  async listen(): Promise<void> {
    const server = this.httpServer;
    if (server !== null) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: this.opts.port ?? 0, reusePort: true }, resolve);
      });
    } else {
      await new Promise<void>((resolve, reject) => {
        this.wss.once('listening', resolve);
        this.wss.once('error', reject);
      });
    }
    this.port = ((server ?? this.wss).address() as AddressInfo).port;
    this.url = `ws://127.0.0.1:${this.port}${PATH}`;
  }

  /** Starts a new measurement window for `maxAppendGapMs`. */
  resetWindow(): void {
    for (const c of this.live) c.appendGap.resetMax();
    this.closedGapMax = 0;
  }

  /** Terminates every connection and closes the server. */
  async close(): Promise<void> {
    for (const c of this.live) c.socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    const server = this.httpServer;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.ownTicker) this.ticker.stop();
  }

  /** @internal */
  nextEventId(): string {
    this.eventId += 1;
    return `event_si${this.eventId.toString(36)}`;
  }

  /** @internal */
  count(table: Record<string, number>, type: string): void {
    table[type] = (table[type] ?? 0) + 1;
  }

  /** @internal */
  emit(event: StandInEvent): void {
    this.opts.onEvent?.(event);
  }

  /** @internal */
  forget(connection: StandInConnection): void {
    this.live.delete(connection);
    this.counts.open -= 1;
    this.closedGapMax = Math.max(this.closedGapMax, connection.appendGap.max);
  }

  private onConnection(ws: WebSocket): void {
    const connection = new StandInConnection(this, this.counts.connections, ws);
    this.counts.connections += 1;
    this.counts.open += 1;
    this.live.add(connection);
    this.emit({ type: 'connected', connection: connection.index });
    // As the API does: the session's maximum duration (60 min) as expires_at, in seconds.
    const expiresAt = Math.floor(Date.now() / 1000) + SESSION_MAX_SECONDS;
    connection.sendEvent({ type: 'session.created', session: { type: 'realtime', object: 'realtime.session', id: `sess_si${connection.index}`, expires_at: expiresAt } });
  }
}

interface Answer {
  readonly responseId: string;
  readonly itemId: string;
  next: number;
  bytes: number;
  startedAt: number;
}

/** One upstream connection opened by the bridge. */
class StandInConnection implements TickTask {
  readonly index: number;
  readonly socket: WebSocket;
  /** Appends arrive every 100 ms while the caller streams: a longer gap is a stall. */
  readonly appendGap = new GapMeter();
  private readonly server: RealtimeStandIn;
  private readonly turns: TurnDetector;
  private answer: Answer | null = null;
  private turn = 0;
  private ids = 0;
  /** The call this connection serves, learnt from the caller's stamps (latency runs). */
  private callId: number | null = null;

  constructor(server: RealtimeStandIn, index: number, socket: WebSocket) {
    this.server = server;
    this.index = index;
    this.socket = socket;
    this.turns = new TurnDetector(server.opts.turns);
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('error', () => undefined); // 'close' follows
    socket.once('close', (code) => {
      this.stopAnswer();
      server.forget(this);
      server.emit({ type: 'closed', connection: index, code });
    });
  }

  sendEvent(event: Record<string, unknown> & { type: string }): void {
    if (this.socket.readyState !== 1) return;
    this.socket.send(JSON.stringify({ event_id: this.server.nextEventId(), ...event }));
    this.server.count(this.server.counts.sent, event.type);
  }

  private id(prefix: string): string {
    this.ids += 1;
    return `${prefix}_si${this.index.toString(36)}x${this.ids.toString(36)}`;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const { counts } = this.server;
    let event: { type?: unknown; [key: string]: unknown };
    try {
      if (isBinary) throw new Error('binary');
      event = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8')) as typeof event;
    } catch {
      counts.protocolErrors += 1;
      return;
    }
    const type = typeof event.type === 'string' ? event.type : 'invalid';
    this.server.count(counts.received, type);
    switch (type) {
      case 'input_audio_buffer.append':
        if (typeof event['audio'] === 'string') this.onAudio(Buffer.from(event['audio'], 'base64'));
        else counts.protocolErrors += 1;
        return;
      case 'session.update':
        this.server.emit({ type: 'client_event', connection: this.index, event: type });
        this.sendEvent({ type: 'session.updated', session: (event['session'] ?? {}) as Record<string, unknown> });
        return;
      case 'conversation.item.truncate':
        this.server.emit({ type: 'client_event', connection: this.index, event: type, detail: { audio_end_ms: event['audio_end_ms'] } });
        this.sendEvent({ type: 'conversation.item.truncated', item_id: event['item_id'], content_index: event['content_index'], audio_end_ms: event['audio_end_ms'] });
        return;
      case 'response.create':
        this.server.emit({ type: 'client_event', connection: this.index, event: type });
        this.startAnswer();
        return;
      case 'response.cancel':
        this.stopAnswer('cancelled');
        return;
      default:
        this.server.emit({ type: 'client_event', connection: this.index, event: type });
        return;
    }
  }

  private onAudio(audio: Buffer): void {
    const now = performance.now();
    this.server.counts.appendedBytes += audio.length;
    this.appendGap.note(now);
    const probe = this.server.opts.probe;
    if (probe) {
      const owner = probe.onAppend(audio, now);
      if (owner !== null) this.callId = owner;
    }
    const verdict = this.turns.push(audio.length / 8, meanAmplitude(audio));
    if (verdict === null) return;
    const itemId = this.id('item');
    if (verdict.type === 'speech_started') {
      const interrupted = this.answer !== null && this.answer.bytes > 0;
      if (interrupted && probe && this.callId !== null) probe.onSpeechStarted(this.callId, now);
      this.sendEvent({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.round(verdict.audioMs), item_id: itemId });
      this.server.emit({ type: 'speech_started', connection: this.index, audioMs: verdict.audioMs, interrupted });
      // Server VAD with interrupt_response: the answer in progress is cancelled.
      this.stopAnswer('cancelled');
      return;
    }
    this.turn += 1;
    this.sendEvent({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round(verdict.audioMs), item_id: itemId });
    this.sendEvent({ type: 'input_audio_buffer.committed', item_id: itemId, previous_item_id: null });
    this.sendEvent({
      type: 'conversation.item.input_audio_transcription.completed',
      item_id: itemId,
      content_index: 0,
      transcript: `(caller turn ${this.turn})`,
    });
    this.server.emit({ type: 'speech_stopped', connection: this.index, audioMs: verdict.audioMs, interrupted: false });
    this.startAnswer();
  }

  private startAnswer(): void {
    this.stopAnswer('cancelled');
    const now = performance.now();
    this.answer = { responseId: this.id('resp'), itemId: this.id('item'), next: 0, bytes: 0, startedAt: now };
    this.server.counts.answers += 1;
    this.sendEvent({ type: 'response.created', response: { id: this.answer.responseId, object: 'realtime.response', status: 'in_progress', output: [] } });
    this.server.emit({ type: 'answer_started', connection: this.index, responseId: this.answer.responseId });
    this.tick(now);
    this.server.ticker.add(this, now);
  }

  /** Sends the deltas due by now (real-time pace: one 20 ms delta per 20 ms tick), then the done events. */
  tick(now: number): void {
    const answer = this.answer;
    if (answer === null) return;
    const { replyDeltas, deltaBytes, reply } = this.server;
    const dueBytes = (now - answer.startedAt + this.server.ticker.periodMs) * 8;
    while (answer.next < replyDeltas.length && answer.bytes < dueBytes) {
      const i = answer.next++;
      let delta = replyDeltas[i] as string;
      const length = Math.min(deltaBytes, reply.length - i * deltaBytes);
      const probe = this.server.opts.probe;
      if (probe && this.callId !== null) {
        const piece = Buffer.from(reply.subarray(i * deltaBytes, i * deltaBytes + length));
        for (let o = 0; o + PIECE_BYTES <= piece.length; o += PIECE_BYTES) probe.stampDelta(this.callId, piece.subarray(o, o + PIECE_BYTES), now);
        delta = piece.toString('base64');
      }
      if (this.socket.readyState !== 1) return this.stopAnswer();
      // Built by hand: this is the hottest message of the stand-in (50 per second per call).
      this.socket.send(
        `{"type":"response.output_audio.delta","event_id":"${this.server.nextEventId()}","response_id":"${answer.responseId}",` +
          `"item_id":"${answer.itemId}","output_index":0,"content_index":0,"delta":"${delta}"}`,
      );
      this.server.count(this.server.counts.sent, 'response.output_audio.delta');
      answer.bytes += length;
      this.server.counts.answerBytes += length;
    }
    if (answer.next < replyDeltas.length) return;
    const ids = { response_id: answer.responseId, item_id: answer.itemId, output_index: 0, content_index: 0 };
    this.sendEvent({ type: 'response.output_audio.done', ...ids });
    const transcript = this.server.opts.replyTranscript ?? AGENT_FIXTURE_WORDS;
    this.sendEvent({ type: 'response.output_audio_transcript.done', ...ids, transcript });
    const usage = this.server.opts.usage === true ? this.usage(answer.bytes, transcript) : undefined;
    this.sendEvent({ type: 'response.done', response: { id: answer.responseId, object: 'realtime.response', status: 'completed', output: [], ...(usage ? { usage } : {}) } });
    this.finish('completed');
  }

  /** A response's usage as the API reports it: the caller's audio so far in, this answer out. */
  private usage(answerBytes: number, transcript: string): Record<string, unknown> {
    const audioIn = Math.round((this.turns.position / 1000) * AUDIO_TOKENS_PER_SECOND);
    const audioOut = Math.round((answerBytes / 8000) * AUDIO_TOKENS_PER_SECOND);
    const textIn = 120; // the instructions
    const textOut = transcript.split(/\s+/).length;
    return {
      total_tokens: audioIn + textIn + audioOut + textOut,
      input_tokens: audioIn + textIn,
      output_tokens: audioOut + textOut,
      input_token_details: { text_tokens: textIn, audio_tokens: audioIn, cached_tokens: 0 },
      output_token_details: { text_tokens: textOut, audio_tokens: audioOut },
    };
  }

  private stopAnswer(status?: 'cancelled'): void {
    if (this.answer === null) return;
    if (status === 'cancelled') {
      this.sendEvent({ type: 'response.done', response: { id: this.answer.responseId, object: 'realtime.response', status: 'cancelled', output: [] } });
      this.server.counts.cancelled += 1;
    }
    this.finish(status ?? 'cancelled');
  }

  private finish(status: 'completed' | 'cancelled'): void {
    const answer = this.answer;
    if (answer === null) return;
    this.answer = null;
    this.server.ticker.remove(this);
    this.server.emit({ type: 'answer_ended', connection: this.index, responseId: answer.responseId, status, bytes: answer.bytes });
  }
}

/** Starts a stand-in on 127.0.0.1 (any free port unless `port` is given). */
export async function startRealtimeStandIn(opts: StandInOptions = {}): Promise<RealtimeStandIn> {
  const standIn = new RealtimeStandIn(opts);
  await standIn.listen();
  return standIn;
}
