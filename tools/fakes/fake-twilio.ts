/**
 * A fake Twilio Media Streams caller over a real WebSocket: connects the way Twilio's media servers
 * do (`connected`, `start`, then 20 ms `media` frames at real-time pace), and plays back what the
 * bridge sends the way a phone would — 8 bytes per ms, echoing each `mark` only once the audio queued
 * before it has played, and echoing all pending marks at once on `clear` (Twilio: "empties the audio
 * buffer and sends back mark messages matching any remaining mark messages").
 * Plain TypeScript, no test-runner imports.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WebSocket, type RawData } from 'ws';
import { bytesToMs, chunkBuffer, decodeBase64, TWILIO_FRAME_BYTES, ULAW_BYTES_PER_MS } from './audio.js';
import { monotonicNow, rawToText, Recorder, Sleeper } from './fake-realtime.js';

// ---------------------------------------------------------------------------------------------
// Playback model (pure: time is passed in, in ms on a monotonic clock).

type QueueEntry = { kind: 'audio'; bytes: Buffer } | { kind: 'mark'; name: string };

/**
 * What a phone plays: audio in arrival order at 8 bytes/ms, marks reached when all audio queued
 * before them has played. A run of playback starts when audio arrives at an idle queue; idle time
 * between runs is not played.
 */
export class PlaybackQueue {
  private readonly queue: QueueEntry[] = [];
  private readonly played: Buffer[] = [];
  private playedTotal = 0;
  private queuedAudio = 0;
  /** Start of the current uninterrupted run (ms), or null while idle. */
  private runStartedAt: number | null = null;
  /** Bytes played since runStartedAt. */
  private runBytes = 0;
  /** Bytes dropped by clear(). */
  discardedBytes = 0;

  /** Queues received audio; returns the marks that became due up to `now` (in order). */
  enqueueAudio(bytes: Buffer, now: number): string[] {
    const due = this.advance(now);
    if (bytes.length === 0) return due;
    this.queue.push({ kind: 'audio', bytes });
    this.queuedAudio += bytes.length;
    if (this.runStartedAt === null) {
      this.runStartedAt = now;
      this.runBytes = 0;
    }
    return due;
  }

  /** Queues a mark; it is due at once when nothing is left to play before it. */
  enqueueMark(name: string, now: number): string[] {
    const due = this.advance(now);
    this.queue.push({ kind: 'mark', name });
    return due.concat(this.advance(now));
  }

  /** Plays what is due by `now`; returns the marks reached. */
  advance(now: number): string[] {
    const due: string[] = [];
    // +1e-6 keeps a timer that fires exactly at a mark's deadline from rounding to one byte short.
    let budget = this.runStartedAt === null ? 0 : Math.floor((now - this.runStartedAt) * ULAW_BYTES_PER_MS + 1e-6) - this.runBytes;
    while (this.queue.length > 0) {
      const head = this.queue[0] as QueueEntry;
      if (head.kind === 'mark') {
        due.push(head.name);
        this.queue.shift();
        continue;
      }
      if (budget <= 0) break;
      const take = Math.min(budget, head.bytes.length);
      this.played.push(head.bytes.subarray(0, take));
      this.playedTotal += take;
      this.runBytes += take;
      this.queuedAudio -= take;
      budget -= take;
      if (take === head.bytes.length) this.queue.shift();
      else this.queue[0] = { kind: 'audio', bytes: head.bytes.subarray(take) };
    }
    if (this.queuedAudio === 0) this.runStartedAt = null;
    return due;
  }

  /** Twilio `clear`: plays what was due, drops the rest; returns due then pending marks, in order. */
  clear(now: number): string[] {
    const due = this.advance(now);
    for (const entry of this.queue) {
      if (entry.kind === 'mark') due.push(entry.name);
      else this.discardedBytes += entry.bytes.length;
    }
    this.queue.length = 0;
    this.queuedAudio = 0;
    this.runStartedAt = null;
    return due;
  }

  /** When the first queued mark becomes due (ms), or null. */
  nextMarkDueAt(): number | null {
    if (this.runStartedAt === null) return null;
    let before = 0;
    for (const entry of this.queue) {
      if (entry.kind === 'mark') return this.runStartedAt + (this.runBytes + before) / ULAW_BYTES_PER_MS;
      before += entry.bytes.length;
    }
    return null;
  }

  /** When the queued audio will have played out (ms), or null when nothing is queued. */
  drainsAt(): number | null {
    return this.runStartedAt === null ? null : this.runStartedAt + (this.runBytes + this.queuedAudio) / ULAW_BYTES_PER_MS;
  }

  get playedBytes(): number {
    return this.playedTotal;
  }
  get queuedBytes(): number {
    return this.queuedAudio;
  }
  get pendingMarks(): number {
    return this.queue.filter((e) => e.kind === 'mark').length;
  }
  playedAudio(): Buffer {
    return Buffer.concat(this.played, this.playedTotal);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages.

export interface TwilioMediaFormat {
  encoding: string;
  sampleRate: number;
  channels: number;
}
/** `start.*` of Twilio's start message. */
export interface TwilioStartPayload {
  accountSid: string;
  streamSid: string;
  callSid: string;
  tracks: string[];
  customParameters: Record<string, string>;
  mediaFormat: TwilioMediaFormat;
}

/** Messages a bidirectional stream may send to Twilio, as validated on receipt. */
export interface BridgeMediaMessage {
  event: 'media';
  streamSid: string;
  media: { payload: string };
}
export interface BridgeMarkMessage {
  event: 'mark';
  streamSid: string;
  mark: { name: string };
}
export interface BridgeClearMessage {
  event: 'clear';
  streamSid: string;
}
export type BridgeMessage = BridgeMediaMessage | BridgeMarkMessage | BridgeClearMessage;
export type BridgeEvent = BridgeMessage['event'];
export type BridgeMessageOf<E extends BridgeEvent> = Extract<BridgeMessage, { event: E }>;

export interface EchoedMark {
  name: string;
  /** Bytes played when it was echoed. */
  playedBytes: number;
  /** Echoed because of `clear` rather than because its audio played. */
  cleared: boolean;
}

export interface StreamAudioOptions {
  /** @default 160 (20 ms) */
  frameBytes?: number;
  /** Pace frames at real time (frame i due at its media timestamp); false sends a burst. @default true */
  realTime?: boolean;
  signal?: AbortSignal;
}
export interface StreamAudioResult {
  frames: number;
  bytes: number;
  /** Stopped early: signal aborted or socket closed. */
  aborted: boolean;
}

export interface FakeTwilioOptions {
  /** The stream URL, e.g. ws://127.0.0.1:PORT/twilio/stream/<token>. */
  url: string;
  /** Sent as start.customParameters.token (omitted when undefined). */
  token?: string;
  /** @default random CA… */
  callSid?: string;
  /** @default random MZ… */
  streamSid?: string;
  /** @default random AC… */
  accountSid?: string;
  /** Other `<Parameter>`s; `token`, when given, is added to them (and wins). */
  customParameters?: Record<string, string>;
  /** Source address to connect from (any 127.x.y.z on Linux loopback). */
  localAddress?: string;
  /** Upgrade request headers (X-Twilio-Signature, User-Agent, …). */
  headers?: Record<string, string>;
  /** Send `connected` and `start` on open. @default true */
  autoStart?: boolean;
  /** Changes to the default start payload (negative tests); keys in `omitStart` are deleted. */
  start?: Partial<TwilioStartPayload>;
  omitStart?: (keyof TwilioStartPayload)[];
  /** @default 5000 */
  handshakeTimeoutMs?: number;
}

/** The bridge refused the upgrade with a plain HTTP response. */
export class UpgradeRejectedError extends Error {
  readonly statusCode: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  constructor(statusCode: number, headers: IncomingMessage['headers'], body: string) {
    super(`upgrade refused with HTTP ${statusCode}`);
    this.name = 'UpgradeRejectedError';
    this.statusCode = statusCode;
    this.headers = headers;
    this.body = body;
  }
}

const sid = (prefix: string): string => prefix + randomBytes(16).toString('hex');
const BRIDGE_EVENTS: ReadonlySet<string> = new Set(['media', 'mark', 'clear']);
/** How long close() waits for the peer's close frame before cutting the TCP connection (ms). ws waits 30 s. */
const CLOSE_GRACE_MS = 1000;
/** Cap on a refusal body we keep for assertions (bytes). */
const REFUSAL_BODY_LIMIT = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// The call.

/** One simulated Twilio stream. Create with `connectFakeTwilio()`. */
export class FakeTwilioCall {
  readonly socket: WebSocket;
  readonly callSid: string;
  readonly streamSid: string;
  readonly accountSid: string;
  /** Valid messages from the bridge, in arrival order (see `protocolErrors` for the rest). */
  readonly messages: BridgeMessage[];
  /** Arrival time (monotonicNow ms) of each entry of `messages`. */
  readonly messageTimes: number[];
  /** Frames Twilio would reject: bad JSON, binary, unknown event, wrong streamSid, bad payload. */
  readonly protocolErrors: string[] = [];
  readonly echoedMarks: EchoedMark[] = [];
  closeCode: number | null = null;
  closeReason = '';
  readonly closed: Promise<{ code: number; reason: string }>;
  /** When `start` was sent (monotonicNow ms): media timestamps count from here. */
  streamStartedAt: number | null = null;

  private readonly opts: FakeTwilioOptions;
  private readonly recorder: Recorder<BridgeMessage>;
  private readonly playback = new PlaybackQueue();
  private readonly received: Buffer[] = [];
  private receivedLength = 0;
  private readonly sleeper = new Sleeper();
  private playbackTimer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];
  private sequenceNumber = 0;
  private chunk = 0;
  /** Media time (ms since start) of the next frame to send. */
  private nextMediaMs = 0;
  private streaming = false;
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(socket: WebSocket, opts: FakeTwilioOptions) {
    this.socket = socket;
    this.opts = opts;
    this.callSid = opts.callSid ?? sid('CA');
    this.streamSid = opts.streamSid ?? sid('MZ');
    this.accountSid = opts.accountSid ?? sid('AC');
    this.recorder = new Recorder<BridgeMessage>(`fake twilio ${this.callSid}`, (m) => m.event);
    this.messages = this.recorder.items;
    this.messageTimes = this.recorder.times;
    this.closed = new Promise((resolve) => {
      socket.once('close', (code: number, reason: Buffer) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.shutdown();
        resolve({ code, reason: this.closeReason });
      });
    });
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }
  /** Bytes this side has queued but not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  // --- sending, as Twilio -------------------------------------------------------------------

  sendJson(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Anything at all, for invalid-frame tests. */
  sendRaw(data: string | Buffer, opts: { binary?: boolean } = {}): void {
    this.socket.send(data, { binary: opts.binary ?? typeof data !== 'string' });
  }

  sendConnected(): void {
    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  }

  /** The start payload this call sends, with `changes` applied and `omit` keys deleted. */
  buildStart(changes: Partial<TwilioStartPayload> = {}, omit: (keyof TwilioStartPayload)[] = []): Partial<TwilioStartPayload> {
    const customParameters: Record<string, string> = { ...this.opts.customParameters };
    if (this.opts.token !== undefined) customParameters['token'] = this.opts.token;
    const start: Partial<TwilioStartPayload> = {
      accountSid: this.accountSid,
      streamSid: this.streamSid,
      callSid: this.callSid,
      tracks: ['inbound'],
      customParameters,
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      ...changes,
    };
    for (const key of omit) delete start[key];
    return start;
  }

  sendStart(changes?: Partial<TwilioStartPayload>, omit?: (keyof TwilioStartPayload)[]): void {
    this.sendJson({ event: 'start', sequenceNumber: this.nextSeq(), start: this.buildStart(changes, omit), streamSid: this.streamSid });
    this.streamStartedAt = monotonicNow();
    this.nextMediaMs = 0;
  }

  /** One media frame; `timestampMs` defaults to the media clock. Works before start (negative tests). */
  sendMedia(payload: Buffer, timestampMs?: number): void {
    const timestamp = timestampMs ?? this.nextMediaMs;
    this.nextMediaMs = timestamp + bytesToMs(payload.length);
    this.sendJson({
      event: 'media',
      sequenceNumber: this.nextSeq(),
      media: { track: 'inbound', chunk: String(++this.chunk), timestamp: String(Math.round(timestamp)), payload: payload.toString('base64') },
      streamSid: this.streamSid,
    });
  }

  /**
   * Sends `audio` as media frames. Real time: frame i leaves at start + its media timestamp
   * (deadlines from one origin, so no drift accumulates); the media clock resumes at wall time
   * after a pause, as Twilio's would. One stream at a time.
   */
  async streamAudio(audio: Buffer, opts: StreamAudioOptions = {}): Promise<StreamAudioResult> {
    if (this.streamStartedAt === null) throw new Error('streamAudio before start: use sendMedia for that negative test');
    if (this.streaming) throw new Error('streamAudio already in progress on this call');
    const startedAt = this.streamStartedAt;
    const realTime = opts.realTime ?? true;
    const result: StreamAudioResult = { frames: 0, bytes: 0, aborted: false };
    this.streaming = true;
    try {
      this.nextMediaMs = Math.max(this.nextMediaMs, monotonicNow() - startedAt);
      for (const frame of chunkBuffer(audio, opts.frameBytes ?? TWILIO_FRAME_BYTES)) {
        if (realTime) await this.sleeper.sleepUntil(startedAt + this.nextMediaMs);
        if (opts.signal?.aborted === true || !this.isOpen) return { ...result, aborted: true };
        this.sendMedia(frame);
        result.frames++;
        result.bytes += frame.length;
      }
      return result;
    } finally {
      this.streaming = false;
    }
  }

  dtmf(digit: string): void {
    this.sendJson({ event: 'dtmf', streamSid: this.streamSid, sequenceNumber: this.nextSeq(), dtmf: { track: 'inbound_track', digit } });
  }

  /** Twilio's `stop` (the caller hung up); the socket stays open until close(). */
  stop(): void {
    this.sendJson({ event: 'stop', sequenceNumber: this.nextSeq(), streamSid: this.streamSid, stop: { accountSid: this.accountSid, callSid: this.callSid } });
  }

  /** Closes with `code`; a peer that does not answer the close frame within 1 s is cut off. */
  close(code = 1000, reason = ''): Promise<{ code: number; reason: string }> {
    if (this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate();
    else if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.close(code, reason);
      this.closeTimer = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS);
    }
    return this.closed;
  }

  /** `stop`, then close 1000, as Twilio ends a stream. */
  hangUp(): Promise<{ code: number; reason: string }> {
    if (this.isOpen) this.stop();
    return this.close(1000);
  }

  /** Kills the TCP connection without a close frame. */
  drop(): Promise<{ code: number; reason: string }> {
    this.socket.terminate();
    return this.closed;
  }

  /** Stops reading the socket, so the bridge's sends pile up in its bufferedAmount. */
  pauseReading(): void {
    this.socket.pause();
  }
  resumeReading(): void {
    this.socket.resume();
  }

  // --- what the bridge sent, and what was played ----------------------------------------------

  /** Every media byte received, including audio later cleared. */
  receivedAudio(): Buffer {
    return Buffer.concat(this.received, this.receivedLength);
  }
  get receivedBytes(): number {
    return this.receivedLength;
  }
  /** What the caller actually heard so far. */
  playedAudio(): Buffer {
    this.tick();
    return this.playback.playedAudio();
  }
  get playedBytes(): number {
    this.tick();
    return this.playback.playedBytes;
  }
  get playedMs(): number {
    return bytesToMs(this.playedBytes);
  }
  /** Received, not yet played (µ-law bytes). */
  get queuedBytes(): number {
    this.tick();
    return this.playback.queuedBytes;
  }
  /** Bytes dropped from the playback queue by `clear`. */
  get clearedBytes(): number {
    return this.playback.discardedBytes;
  }

  count(event: BridgeEvent): number {
    return this.recorder.count((m) => m.event === event);
  }
  get counts(): Record<BridgeEvent, number> {
    return { media: this.count('media'), mark: this.count('mark'), clear: this.count('clear') };
  }

  /** First message of `event` from the bridge (already received or future) that matches. */
  waitFor<E extends BridgeEvent>(event: E, predicate?: (message: BridgeMessageOf<E>) => boolean, timeoutMs = 5000): Promise<BridgeMessageOf<E>> {
    return this.recorder.waitFor(
      (m) => m.event === event && (predicate === undefined || predicate(m as BridgeMessageOf<E>)),
      `bridge ${event}`,
      timeoutMs,
    ) as Promise<BridgeMessageOf<E>>;
  }

  /** Resolves with the n-th message of `event` (1-based count), already received or future. */
  waitForCount<E extends BridgeEvent>(event: E, n: number, timeoutMs = 5000): Promise<BridgeMessageOf<E>> {
    let seen = 0;
    return this.recorder.waitFor((m) => m.event === event && ++seen === n, `${n} × bridge ${event}`, timeoutMs) as Promise<BridgeMessageOf<E>>;
  }

  /** Resolves once all received audio has played (at once if nothing is queued). */
  waitForPlaybackIdle(): Promise<void> {
    if (this.queuedBytes === 0 || !this.isOpen) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.schedulePlayback();
    });
  }

  // --- internals ----------------------------------------------------------------------------

  private nextSeq(): string {
    return String(++this.sequenceNumber);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) return void this.protocolErrors.push('binary frame');
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawToText(data));
    } catch {
      return void this.protocolErrors.push('invalid JSON');
    }
    const problem = this.validate(parsed);
    if (problem !== null) return void this.protocolErrors.push(problem);
    const message = parsed as BridgeMessage;
    const now = monotonicNow();
    let due: string[];
    if (message.event === 'media') {
      const audio = decodeBase64(message.media.payload) as Buffer;
      this.received.push(audio);
      this.receivedLength += audio.length;
      due = this.playback.enqueueAudio(audio, now);
    } else if (message.event === 'mark') {
      due = this.playback.enqueueMark(message.mark.name, now);
    } else {
      due = this.playback.clear(now);
    }
    this.recorder.push(message);
    this.echo(due, message.event === 'clear');
    this.schedulePlayback();
  }

  private validate(parsed: unknown): string | null {
    if (typeof parsed !== 'object' || parsed === null) return 'not a JSON object';
    const m = parsed as Record<string, unknown>;
    if (typeof m['event'] !== 'string' || !BRIDGE_EVENTS.has(m['event'])) return `unknown event ${String(m['event'])}`;
    if (this.streamStartedAt === null) return `${m['event']} before start`;
    if (m['streamSid'] !== this.streamSid) return `${m['event']} with streamSid ${String(m['streamSid'])}`;
    if (m['event'] === 'media') {
      const media = m['media'] as Record<string, unknown> | undefined;
      const payload = media?.['payload'];
      if (typeof payload !== 'string' || payload.length === 0 || decodeBase64(payload) === null) return 'media.payload is not base64 audio';
    }
    if (m['event'] === 'mark') {
      const mark = m['mark'] as Record<string, unknown> | undefined;
      if (typeof mark?.['name'] !== 'string') return 'mark.name is not a string';
    }
    return null;
  }

  /** Advances playback to now and echoes the marks that became due. */
  private tick(): void {
    this.echo(this.playback.advance(monotonicNow()), false);
  }

  private echo(names: string[], cleared: boolean): void {
    for (const name of names) {
      this.echoedMarks.push({ name, playedBytes: this.playback.playedBytes, cleared });
      if (this.isOpen) this.sendJson({ event: 'mark', sequenceNumber: this.nextSeq(), streamSid: this.streamSid, mark: { name } });
    }
    if (this.playback.queuedBytes === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /**
   * One timer, due at the next mark (or at drain when someone waits for it); none when idle.
   * Not unref'd: shutdown() clears it, and a ref'd timer shows up in leak checks.
   */
  private schedulePlayback(): void {
    if (this.playbackTimer !== null) clearTimeout(this.playbackTimer);
    this.playbackTimer = null;
    if (!this.isOpen) return;
    const markAt = this.playback.nextMarkDueAt();
    const drainAt = this.idleWaiters.length > 0 ? this.playback.drainsAt() : null;
    const at = markAt === null ? drainAt : drainAt === null ? markAt : Math.min(markAt, drainAt);
    if (at === null) return;
    this.playbackTimer = setTimeout(() => {
      this.playbackTimer = null;
      this.tick();
      this.schedulePlayback();
    }, Math.max(0, at - monotonicNow()));
  }

  private shutdown(): void {
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    if (this.playbackTimer !== null) clearTimeout(this.playbackTimer);
    this.playbackTimer = null;
    this.sleeper.wakeAll();
    this.recorder.end(`socket closed (${this.closeCode ?? '?'})`);
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * Opens a stream like Twilio's media servers: resolves once open (and, unless autoStart is false,
 * after `connected` and `start` were sent). A refused upgrade rejects with UpgradeRejectedError.
 */
export function connectFakeTwilio(opts: FakeTwilioOptions): Promise<FakeTwilioCall> {
  const socket = new WebSocket(opts.url, {
    headers: opts.headers,
    localAddress: opts.localAddress,
    handshakeTimeout: opts.handshakeTimeoutMs ?? 5000,
    perMessageDeflate: false,
  });
  const call = new FakeTwilioCall(socket, opts);
  return new Promise<FakeTwilioCall>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    socket.on('error', (err) => fail(err));
    socket.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < REFUSAL_BODY_LIMIT) chunks.push(chunk);
        size += chunk.length;
      });
      const done = (): void => {
        fail(new UpgradeRejectedError(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8')));
        // With this listener ws leaves the handshake to us; terminate() aborts it and emits 'close'.
        socket.terminate();
      };
      res.once('end', done);
      res.once('error', done);
      res.once('close', done);
    });
    socket.once('open', () => {
      if (opts.autoStart ?? true) {
        call.sendConnected();
        call.sendStart(opts.start, opts.omitStart);
      }
      settled = true;
      resolve(call);
    });
  });
}
