/**
 * A simulated Twilio Media Stream built for load: connects like Twilio's media servers
 * (`connected`, `start` with the TwiML's parameters), streams 20 ms µ-law frames at real-time pace
 * off a shared ticker, plays back what the bridge sends at 8 bytes/ms to echo each `mark` when its
 * audio has played (all pending marks at once on `clear`), and counts everything. Memory per call
 * is constant: nothing received is kept.
 *
 * (tools/fakes/fake-twilio.ts is the recording fake for assertions; this is its load twin.)
 */
import { randomBytes } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';
import type { PhaseTicker, TickTask } from './ticker.js';
import { GapMeter } from './stats.js';
import { PIECE_BYTES, type LatencyProbe } from './latency.js';

/** A caller's audio, split once into 20 ms frames shared by every call that plays it. */
export interface CallerAudio {
  readonly frames: readonly Buffer[];
  /** base64 of each frame. */
  readonly payloads: readonly string[];
  /** Ms of audio in one loop. */
  readonly loopMs: number;
}

/** Splits `audio` into 160-byte frames (the last padded with µ-law silence). The call loops it. */
export function callerAudio(audio: Buffer): CallerAudio {
  const frames: Buffer[] = [];
  for (let o = 0; o < audio.length; o += PIECE_BYTES) {
    const frame = Buffer.alloc(PIECE_BYTES, 0xff);
    audio.copy(frame, 0, o, Math.min(o + PIECE_BYTES, audio.length));
    frames.push(frame);
  }
  return { frames, payloads: frames.map((f) => f.toString('base64')), loopMs: frames.length * 20 };
}

export interface SimCallOptions {
  /** ws(s)://…/twilio/stream/<token> */
  readonly url: string;
  readonly callSid: string;
  /** The `<Parameter>`s of the TwiML (token, direction, caller). */
  readonly customParameters: Readonly<Record<string, string>>;
  readonly audio: CallerAudio;
  /** Hang up after this much audio, ms. */
  readonly durationMs: number;
  readonly ticker: PhaseTicker;
  readonly probe?: LatencyProbe;
  /** This call's number in the run (latency association). */
  readonly callId?: number;
  readonly localAddress?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** @default 10000 */
  readonly handshakeTimeoutMs?: number;
  /** Called when the call has ended (any way). */
  readonly onEnd?: (call: SimCall) => void;
}

export interface SimCallStats {
  /** Media frames sent / their µ-law bytes. */
  framesSent: number;
  bytesSent: number;
  /** Every message sent (connected, start, media, mark echoes, stop). */
  messagesSent: number;
  /** Every message received from the bridge. */
  messagesReceived: number;
  mediaReceived: number;
  bytesReceived: number;
  marksReceived: number;
  marksEchoed: number;
  clears: number;
  /** Messages Twilio would reject (bad JSON, unknown event, wrong streamSid). */
  protocolErrors: number;
  /** WebSocket handshake time, ms. */
  connectMs: number | null;
  /** `start` sent → first media received, ms. */
  firstAudioMs: number | null;
  /** Worst gap between media messages within an answer (gaps of 2 s or more are pauses between answers), ms. */
  maxMediaGapMs: number;
}

export type CallOutcome = 'completed' | 'closed_by_bridge' | 'refused' | 'failed';

/** Gaps this long between media are a pause between answers, not a stall. */
const PAUSE_MS = 2000;
/** How long hangUp waits for the bridge's close frame before cutting the TCP connection, ms. */
const CLOSE_GRACE_MS = 1000;

const sid = (prefix: string): string => prefix + randomBytes(16).toString('hex');

export class SimCall implements TickTask {
  readonly callSid: string;
  readonly streamSid = sid('MZ');
  readonly stats: SimCallStats = {
    framesSent: 0,
    bytesSent: 0,
    messagesSent: 0,
    messagesReceived: 0,
    mediaReceived: 0,
    bytesReceived: 0,
    marksReceived: 0,
    marksEchoed: 0,
    clears: 0,
    protocolErrors: 0,
    connectMs: null,
    firstAudioMs: null,
    maxMediaGapMs: 0,
  };
  outcome: CallOutcome | null = null;
  /** Why the call failed or was refused (status and body of a refused upgrade, or the error). */
  error: string | null = null;
  closeCode: number | null = null;
  closeReason = '';
  /** performance.now() when start was sent / when the call ended. */
  startedAt: number | null = null;
  endedAt: number | null = null;
  readonly ended: Promise<SimCall>;

  private readonly opts: SimCallOptions;
  private socket: WebSocket | null = null;
  private seq = 0;
  private frame = 0;
  private readonly mediaGap = new GapMeter(PAUSE_MS);
  /** When the audio queued so far will have played (ms); marks wait for it. */
  private playsUntil = 0;
  private readonly pendingMarks: { name: string; due: number }[] = [];
  private hangingUp = false;
  private closeTimer: NodeJS.Timeout | null = null;
  private resolveEnded!: (call: SimCall) => void;

  constructor(opts: SimCallOptions) {
    this.opts = opts;
    this.callSid = opts.callSid;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** Opens the stream and sends `connected` + `start`; resolves once streaming (or ended). */
  connect(): Promise<void> {
    const began = performance.now();
    const socket = new WebSocket(this.opts.url, {
      headers: { 'User-Agent': 'Twilio.TmeWs/1.0', ...this.opts.headers },
      localAddress: this.opts.localAddress,
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
      perMessageDeflate: false,
    });
    this.socket = socket;
    return new Promise<void>((resolve) => {
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 500) body += chunk;
        });
        res.once('end', () => {
          this.fail('refused', `upgrade refused: HTTP ${res.statusCode ?? '?'} ${body.trim().slice(0, 300)}`);
          socket.terminate();
          resolve();
        });
      });
      socket.once('error', (err) => {
        this.fail('failed', err.message);
        resolve();
      });
      socket.once('open', () => {
        this.stats.connectMs = performance.now() - began;
        this.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
        this.send({
          event: 'start',
          sequenceNumber: String(++this.seq),
          start: {
            accountSid: sid('AC'),
            streamSid: this.streamSid,
            callSid: this.callSid,
            tracks: ['inbound'],
            customParameters: this.opts.customParameters,
            mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          },
          streamSid: this.streamSid,
        });
        this.startedAt = performance.now();
        this.playsUntil = this.startedAt;
        this.opts.ticker.add(this, this.startedAt);
        resolve();
      });
      socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
      socket.once('close', (code, reason) => this.onClose(code, reason.toString()));
    });
  }

  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Media frames sent so far × 20 ms. */
  get audioMs(): number {
    return this.frame * 20;
  }

  /** Starts a new measurement window for the media gap. */
  resetWindow(): void {
    this.mediaGap.resetMax();
  }

  /** Sends the next frame (real-time pace comes from the ticker) and echoes marks now due. */
  tick(now: number): void {
    if (!this.isOpen || this.hangingUp) return;
    this.echoDue(now);
    if (this.frame * 20 >= this.opts.durationMs) {
      this.hangUp();
      return;
    }
    const { audio, probe } = this.opts;
    const i = this.frame % audio.frames.length;
    let payload = audio.payloads[i] as string;
    if (probe && this.opts.callId !== undefined) {
      const frame = Buffer.from(audio.frames[i] as Buffer);
      probe.stampCallerFrame(this.opts.callId, frame, now);
      payload = frame.toString('base64');
    }
    this.frame += 1;
    // Built by hand: 50 per second per call, the load generator's hottest path.
    this.sendRaw(
      `{"event":"media","sequenceNumber":"${++this.seq}","media":{"track":"inbound","chunk":"${this.frame}",` +
        `"timestamp":"${(this.frame - 1) * 20}","payload":"${payload}"},"streamSid":"${this.streamSid}"}`,
    );
    this.stats.framesSent += 1;
    this.stats.bytesSent += PIECE_BYTES;
  }

  /** Twilio's `stop`, then close 1000 (cut after 1 s without the bridge's close frame). */
  hangUp(): void {
    if (this.hangingUp) return;
    this.hangingUp = true;
    this.opts.ticker.remove(this);
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) {
      socket?.terminate();
      return;
    }
    this.send({ event: 'stop', sequenceNumber: String(++this.seq), streamSid: this.streamSid, stop: { callSid: this.callSid } });
    socket.close(1000, 'hangup');
    this.closeTimer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
  }

  /** Kills the connection without a close frame. */
  terminate(): void {
    this.hangingUp = true;
    this.opts.ticker.remove(this);
    this.socket?.terminate();
  }

  private send(message: Record<string, unknown>): void {
    this.sendRaw(JSON.stringify(message));
  }

  private sendRaw(text: string): void {
    this.socket?.send(text);
    this.stats.messagesSent += 1;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const now = performance.now();
    this.stats.messagesReceived += 1;
    if (isBinary) return void (this.stats.protocolErrors += 1);
    let message: { event?: unknown; streamSid?: unknown; media?: { payload?: unknown }; mark?: { name?: unknown } };
    try {
      message = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8')) as typeof message;
    } catch {
      this.stats.protocolErrors += 1;
      return;
    }
    if (message.streamSid !== this.streamSid) return void (this.stats.protocolErrors += 1);
    switch (message.event) {
      case 'media': {
        const payload = message.media?.payload;
        if (typeof payload !== 'string') return void (this.stats.protocolErrors += 1);
        const bytes = base64Bytes(payload);
        this.stats.mediaReceived += 1;
        this.stats.bytesReceived += bytes;
        if (this.stats.firstAudioMs === null && this.startedAt !== null) this.stats.firstAudioMs = now - this.startedAt;
        this.mediaGap.note(now);
        this.stats.maxMediaGapMs = Math.max(this.stats.maxMediaGapMs, this.mediaGap.max);
        this.playsUntil = Math.max(this.playsUntil, now) + bytes / 8;
        if (this.opts.probe) this.opts.probe.onTwilioMedia(Buffer.from(payload, 'base64'), now);
        return;
      }
      case 'mark': {
        const name = message.mark?.name;
        if (typeof name !== 'string') return void (this.stats.protocolErrors += 1);
        this.stats.marksReceived += 1;
        this.pendingMarks.push({ name, due: this.playsUntil });
        this.echoDue(now);
        return;
      }
      case 'clear':
        this.stats.clears += 1;
        if (this.opts.probe && this.opts.callId !== undefined) this.opts.probe.onClear(this.opts.callId, now);
        // Twilio empties its buffer and echoes every pending mark at once.
        this.playsUntil = now;
        for (const mark of this.pendingMarks) mark.due = now;
        this.echoDue(now);
        this.mediaGap.restart();
        return;
      default:
        this.stats.protocolErrors += 1;
    }
  }

  private echoDue(now: number): void {
    while (this.pendingMarks.length > 0 && (this.pendingMarks[0] as { due: number }).due <= now) {
      const mark = this.pendingMarks.shift() as { name: string };
      if (!this.isOpen) continue;
      this.send({ event: 'mark', sequenceNumber: String(++this.seq), streamSid: this.streamSid, mark: { name: mark.name } });
      this.stats.marksEchoed += 1;
    }
  }

  private fail(outcome: CallOutcome, message: string): void {
    if (this.outcome !== null) return;
    this.outcome = outcome;
    this.error = message;
  }

  private onClose(code: number, reason: string): void {
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.opts.ticker.remove(this);
    this.closeCode = code;
    this.closeReason = reason;
    this.endedAt = performance.now();
    if (this.outcome === null) this.outcome = this.hangingUp ? 'completed' : 'closed_by_bridge';
    this.opts.onEnd?.(this);
    this.resolveEnded(this);
  }
}

/** Decoded size of a base64 string without decoding it. */
export function base64Bytes(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return (b64.length / 4) * 3 - padding;
}
