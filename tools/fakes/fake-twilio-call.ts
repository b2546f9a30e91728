/**
 * One simulated Twilio Media Stream (open it with connectFakeTwilio, fake-twilio.ts): sends as
 * Twilio's media servers do (`connected`, `start`, then 20 ms `media` frames at real-time pace,
 * `dtmf`, `stop`), records what the bridge sends, and plays it back the way a phone would
 * (caller-playback.ts). Plain TypeScript, no test-runner imports.
 */
import { randomBytes } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';
import { bytesToMs, chunkBuffer, TWILIO_FRAME_BYTES } from './audio.js';
import { decodeBase64 } from './base64.js';
import { CallerPlayback, type EchoedMark } from './caller-playback.js';
import { monotonicNow } from './clock.js';
import type { FakeTwilioOptions } from './fake-twilio.js';
import { rawToText } from './raw-text.js';
import { Recorder } from './recorder.js';
import { Sleeper } from './sleeper.js';
import { bridgeMessageProblem, type BridgeEvent, type BridgeMessage, type BridgeMessageOf, type TwilioStartPayload } from './twilio-messages.js';

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

const sid = (prefix: string): string => prefix + randomBytes(16).toString('hex');
/** How long close() waits for the peer's close frame before cutting the TCP connection (ms). ws waits 30 s. */
const CLOSE_GRACE_MS = 1000;

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
  readonly echoedMarks: EchoedMark[];
  closeCode: number | null = null;
  closeReason = '';
  readonly closed: Promise<{ code: number; reason: string }>;
  /** When `start` was sent (monotonicNow ms): media timestamps count from here. */
  streamStartedAt: number | null = null;

  private readonly opts: FakeTwilioOptions;
  private readonly recorder: Recorder<BridgeMessage>;
  private readonly playback = new CallerPlayback({
    echo: (name) => {
      if (this.isOpen) this.sendJson({ event: 'mark', sequenceNumber: this.nextSeq(), streamSid: this.streamSid, mark: { name } });
    },
    isOpen: () => this.isOpen,
  });
  private readonly sleeper = new Sleeper();
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
    this.echoedMarks = this.playback.echoed;
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
    return this.playback.receivedAudio();
  }
  get receivedBytes(): number {
    return this.playback.receivedBytes;
  }
  /** What the caller actually heard so far. */
  playedAudio(): Buffer {
    return this.playback.playedAudio();
  }
  get playedBytes(): number {
    return this.playback.playedBytes;
  }
  get playedMs(): number {
    return bytesToMs(this.playedBytes);
  }
  /** Received, not yet played (µ-law bytes). */
  get queuedBytes(): number {
    return this.playback.queuedBytes;
  }
  /** Bytes dropped from the playback queue by `clear`. */
  get clearedBytes(): number {
    return this.playback.clearedBytes;
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
    return this.playback.waitForIdle();
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
    const problem = bridgeMessageProblem(parsed, this.streamStartedAt === null ? null : this.streamSid);
    if (problem !== null) return void this.protocolErrors.push(problem);
    const message = parsed as BridgeMessage;
    const audio = message.event === 'media' ? decodeBase64(message.media.payload) : null;
    const due = this.playback.take(message, audio, monotonicNow());
    this.recorder.push(message);
    this.playback.settle(due, message.event === 'clear');
  }

  private shutdown(): void {
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.sleeper.wakeAll();
    this.recorder.end(`socket closed (${this.closeCode ?? '?'})`);
    this.playback.stop();
  }
}
