/**
 * The Twilio side of one call: the Media Stream socket.
 *
 * In: every message is parsed and judged here (src/stream/twilio-protocol.ts), and only what the
 * call can use goes on — the start (once it matches the stream token), caller audio at no more
 * than real time (media-pacer.ts), echoed marks, and keypresses at a person's pace. Junk is
 * counted; a run of it, a start that never comes, or audio far ahead of real time ends the call.
 * Out: assistant audio under the backpressure rule, and the few control messages (mark, clear).
 */
import type { RawData, WebSocket } from 'ws';
import type { CallContext } from './call-context.js';
import type { EndReason } from './end-reason.js';
import { parseTwilioFrame, type TwilioInbound, type TwilioStart } from './twilio-protocol.js';
import { clearMessage, markMessage, mediaMessage } from './twilio-outbound.js';
import { InvalidFrameRun } from './invalid-frame-run.js';
import { sendAudioFrame } from './backpressure.js';
import { MEDIA_TOO_FAST_CLOSE_MS, MediaPacer } from './media-pacer.js';
import { MULAW_BYTES_PER_MS } from './frame-aggregator.js';
import { rawBuffer } from './peer-input.js';
import { takeToken, type BucketLimits, type BucketState } from '../guard/bucket.js';
import { closeWithin, SOCKET_CLOSE_GRACE_MS } from './socket-close.js';

/**
 * Keypresses relayed to the model: 20 at once (a long number typed quickly), then 5 a second —
 * faster than a person presses keys, slow enough that keypresses cannot buy responses in bulk.
 */
export const KEYPRESS_LIMITS: BucketLimits = { burst: 20, ratePerMinute: 300 };

/** What the Twilio side hands on to the call. */
export interface TwilioLegEvents {
  /** A valid start for this call's token and CallSid (once). */
  started(start: TwilioStart['start']): void;
  /** Caller µ-law audio, admitted at real time. */
  audio(payload: Buffer): void;
  /** Twilio echoed a mark: everything sent before it has played. */
  markEchoed(name: string): void;
  /** A keypad key (0-9, *, #), admitted at a person's pace. */
  keypress(digit: string): void;
  /** The stream ended, or must end, for `reason`. */
  end(reason: EndReason): void;
}

export class TwilioLeg {
  /** Set by a valid start. */
  streamSid: string | undefined;

  readonly #ctx: CallContext;
  readonly #socket: WebSocket;
  readonly #token: string;
  readonly #events: TwilioLegEvents;
  readonly #invalidRun: InvalidFrameRun;
  readonly #backpressureBytes: number;
  /** Caller audio faster than real time is not relayed (billed input audio). */
  readonly #pacer: MediaPacer;
  /** The caller's keypress budget (KEYPRESS_LIMITS); undefined until the first press. */
  #keypresses: BucketState | undefined;
  #startTimer: NodeJS.Timeout | null;
  #closed = false;

  constructor(ctx: CallContext, socket: WebSocket, token: string, events: TwilioLegEvents) {
    this.#ctx = ctx;
    this.#socket = socket;
    this.#token = token;
    this.#events = events;
    const { config } = ctx;
    this.#invalidRun = new InvalidFrameRun(config.invalidFrameLimit);
    this.#backpressureBytes = config.backpressureBytes;
    this.#pacer = new MediaPacer(ctx.now());
    socket.on('message', ctx.contain((data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary)));
    socket.on('close', ctx.contain((code: number) => events.end(code === 1009 ? 'message_too_big' : 'twilio_closed')));
    this.#startTimer = ctx.setTimer(() => {
      this.#startTimer = null;
      ctx.log.warn({ timeoutMs: config.startTimeoutMs }, 'no valid start event in time; closing stream');
      events.end('start_timeout');
    }, config.startTimeoutMs);
  }

  get started(): boolean {
    return this.streamSid !== undefined;
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.#closed) return;
    const { stats } = this.#ctx;
    stats.twilioMessagesIn += 1;
    const parsed = parseTwilioFrame(rawBuffer(data), isBinary, this.started);
    if (!parsed.ok) {
      this.#onInvalid(parsed.reason);
      return;
    }
    const message = parsed.message;
    if (message.event === 'media') {
      // The hot path (50 a second per call): the general checks below, inlined for this event.
      if (message.streamSid !== this.streamSid) {
        this.#onInvalid('stream_mismatch');
        return;
      }
      this.#invalidRun.record(true);
      const payload = message.media.payload;
      stats.callerAudioBytesIn += payload.length;
      if (this.#pacer.admit(payload.length, this.#ctx.now())) this.#events.audio(payload);
      else this.#onTooFast(payload.length);
      return;
    }
    if (this.started && 'streamSid' in message && message.event !== 'start' && message.streamSid !== this.streamSid) {
      // Valid JSON for some other stream: as useless to this call as junk, and counted the same way.
      this.#onInvalid('stream_mismatch');
      return;
    }
    this.#invalidRun.record(true);
    this.#onEvent(message);
  }

  #onEvent(message: Exclude<TwilioInbound, { event: 'media' }>): void {
    switch (message.event) {
      case 'mark':
        this.#events.markEchoed(message.mark.name);
        return;
      case 'start':
        this.#onStart(message);
        return;
      case 'dtmf':
        this.#onKeypress(message.dtmf.digit);
        return;
      case 'stop':
        this.#events.end('twilio_stop');
        return;
      case 'connected':
        return;
    }
  }

  /** Caller audio the pacer refused: dropped and counted; a stream far ahead of real time is closed. */
  #onTooFast(bytes: number): void {
    const { stats, log } = this.#ctx;
    stats.droppedToUpstream.frames += 1;
    stats.droppedToUpstream.bytes += bytes;
    if (stats.tooFastBytes === 0) log.warn('caller audio arrives faster than real time; dropping what is ahead');
    stats.tooFastBytes += bytes;
    if (stats.tooFastBytes > MEDIA_TOO_FAST_CLOSE_MS * MULAW_BYTES_PER_MS) {
      log.warn({ tooFastBytes: stats.tooFastBytes }, 'caller audio stays far ahead of real time; closing stream');
      this.#events.end('media_too_fast');
    }
  }

  #onInvalid(reason: string): void {
    const { stats, metrics, log } = this.#ctx;
    stats.invalidFrames += 1;
    metrics.invalidFrames.labels(reason).inc();
    if (this.#invalidRun.record(false)) {
      log.warn({ reason, limit: this.#invalidRun.limit }, 'too many invalid frames in a row; closing stream');
      this.#events.end('invalid_frames');
    } else {
      log.debug({ reason }, 'invalid frame');
    }
  }

  /**
   * A key the caller pressed goes to the model as words, and each one asks for a response (billed):
   * at a person's pace (KEYPRESS_LIMITS), not at whatever rate a stream holder sends them.
   */
  #onKeypress(digit: string): void {
    const { stats, log } = this.#ctx;
    const { verdict, nextState } = takeToken(this.#keypresses, Math.floor(this.#ctx.now()), KEYPRESS_LIMITS);
    this.#keypresses = nextState;
    if (!verdict.ok) {
      if (stats.keypressesDropped === 0) log.warn('keypresses arrive faster than a person presses keys; dropping the excess');
      stats.keypressesDropped += 1;
      return;
    }
    stats.keypresses += 1;
    this.#events.keypress(digit);
  }

  #onStart(message: TwilioStart): void {
    const { start } = message;
    const { log, callSid } = this.#ctx;
    const format = start.mediaFormat;
    if (format && (format.encoding !== 'audio/x-mulaw' || format.sampleRate !== 8000 || format.channels !== 1)) {
      // We relay bytes untouched as audio/pcmu: any other format would reach the model as noise.
      log.warn({ mediaFormat: format }, 'unsupported media format (need audio/x-mulaw, 8000 Hz, mono); closing stream');
      this.#events.end('bad_start');
      return;
    }
    if (start.customParameters.token !== this.#token || start.callSid !== callSid) {
      log.warn(
        { reason: start.customParameters.token !== this.#token ? 'token_mismatch' : 'call_sid_mismatch' },
        'start does not match the stream token; closing stream',
      );
      this.#events.end('bad_start');
      return;
    }
    this.#clearStartTimer();
    this.streamSid = message.streamSid;
    this.#events.started(start);
  }

  // ---- out ----------------------------------------------------------------------------------

  /** Assistant audio: sent if the socket is open and under BACKPRESSURE_BYTES, else dropped and counted. */
  sendAudio(frame: Buffer): boolean {
    const { stats } = this.#ctx;
    const { streamSid } = this;
    if (streamSid === undefined) return false;
    if (!sendAudioFrame(this.#socket, mediaMessage(streamSid, frame), frame.length, this.#backpressureBytes, stats.droppedToTwilio)) return false;
    stats.framesToTwilio += 1;
    stats.bytesToTwilio += frame.length;
    stats.twilioMessagesOut += 1;
    return true;
  }

  /** A `mark`: Twilio echoes it once all audio sent before it has played. */
  sendMark(name: string): void {
    if (this.streamSid !== undefined) this.#sendControl(markMessage(this.streamSid, name));
  }

  /** A `clear`: Twilio drops the audio it holds (barge-in). */
  sendClear(): void {
    if (this.streamSid !== undefined) this.#sendControl(clearMessage(this.streamSid));
  }

  /** Small control messages: not subject to the audio drop rule. */
  #sendControl(message: string): void {
    if (this.#socket.readyState !== 1) return;
    this.#socket.send(message);
    this.#ctx.stats.twilioMessagesOut += 1;
  }

  #clearStartTimer(): void {
    if (this.#startTimer) clearTimeout(this.#startTimer);
    this.#startTimer = null;
  }

  /** Stops reading and closes the socket with `code` within SOCKET_CLOSE_GRACE_MS. */
  close(code: number, text: string): void {
    this.#closed = true;
    this.#clearStartTimer();
    closeWithin(this.#socket, code, text, SOCKET_CLOSE_GRACE_MS);
  }

  /** Cuts the socket (an orderly close failed). */
  terminate(): void {
    this.#socket.terminate();
  }
}
