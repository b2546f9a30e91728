/**
 * One call: the Twilio Media Stream socket on one side, the OpenAI Realtime socket on the other.
 *
 * Caller audio (Twilio `media`, 20 ms each) is aggregated into 100 ms `input_audio_buffer.append`
 * frames; model audio (`response.output_audio.delta`, any size) into ≥100 ms Twilio `media`
 * frames. Each send checks the receiver's `bufferedAmount` and drops (and counts) over the limit.
 * Barge-in clears Twilio's queue and truncates the model's item at what the caller heard.
 *
 * Every path ends in the one idempotent `close(reason)`, which clears every timer and closes both
 * sockets within 1 s. Nothing here logs per frame.
 */
import type { WebSocket, RawData } from 'ws';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { HotCounters, Metrics } from '../metrics.js';
import { FrameAggregator, MULAW_BYTES_PER_MS } from './frame-aggregator.js';
import { FramePump } from './frame-pump.js';
import { InvalidFrameRun, clearMessage, markMessage, mediaMessage, parseTwilioFrame, type TwilioInbound } from './twilio-protocol.js';
import { PlaybackTracker } from './playback-tracker.js';
import { sendAudioFrame, type DropCounter } from './backpressure.js';
import {
  appendAudio,
  greetingResponse,
  sessionUpdate,
  truncateItem,
  userTextItem,
  RESPONSE_CREATE,
  type ToolDeclaration,
} from './realtime-events.js';
import { parseServerEvent, type RealtimeServerEvent } from './realtime-validate.js';
import { InvalidUpstreamEvents } from './invalid-upstream-events.js';
import { faultBoundary, type Contain } from './fault-boundary.js';
import type { UpstreamHandle, UpstreamProvider } from './upstream.js';
import { HeldAudio } from './held-audio.js';
import { MEDIA_TOO_FAST_CLOSE_MS, MediaPacer } from './media-pacer.js';
import { rawBuffer } from './peer-input.js';
import { LogBudget } from './log-budget.js';
import { takeToken, type BucketLimits, type BucketState } from '../guard/bucket.js';
import { closeWithin, SOCKET_CLOSE_GRACE_MS } from './socket-close.js';

export type EndReason =
  | 'twilio_stop'
  | 'twilio_closed'
  | 'message_too_big'
  | 'start_timeout'
  | 'invalid_frames'
  | 'bad_start'
  | 'media_too_fast'
  | 'upstream_closed'
  | 'upstream_error'
  | 'session_expired'
  | 'ended_by_assistant'
  | 'transferred'
  | 'drain_timeout'
  | 'internal_error';

/** Close code sent to Twilio for each end. 1011 makes Twilio go on to the TwiML after <Connect>. */
const TWILIO_CLOSE: Record<EndReason, [number, string]> = {
  twilio_stop: [1000, 'stream stopped'],
  twilio_closed: [1000, 'stream closed'],
  message_too_big: [1009, 'message too big'],
  start_timeout: [1008, 'no start event in time'],
  invalid_frames: [1008, 'too many invalid frames'],
  bad_start: [1008, 'start does not match the stream token'],
  media_too_fast: [1008, 'media faster than real time'],
  upstream_closed: [1011, 'assistant unavailable'],
  upstream_error: [1011, 'assistant unavailable'],
  session_expired: [1011, 'assistant session ended'],
  ended_by_assistant: [1000, 'call ended'],
  transferred: [1000, 'call transferred'],
  drain_timeout: [1001, 'server shutting down'],
  // A bug met in this call's handlers (see fault-boundary.ts): this call ends, the process goes on.
  internal_error: [1011, 'internal error'],
};

/**
 * Per-call figures, logged once at the end and handed to `onEnd`.
 *
 * Every audio byte is accounted for, each way:
 *   callerAudioBytesIn = bytesToUpstream + droppedToUpstream.bytes + discardedToUpstream
 *   modelAudioBytesIn  = bytesToTwilio + droppedToTwilio.bytes + discardedToTwilio
 * once the call has ended (while it runs, the difference is what the frame pumps hold).
 * `dropped` is audio lost to a problem (backpressure, a full hold buffer, caller audio faster than
 * real time); `discarded` is audio given up by design (cleared at a barge-in, or still held when
 * the call ended), so an alert on drops does not fire on every hang-up mid-sentence.
 */
export interface CallStats {
  twilioMessagesIn: number;
  twilioMessagesOut: number;
  upstreamMessagesIn: number;
  upstreamMessagesOut: number;
  framesToUpstream: number;
  bytesToUpstream: number;
  framesToTwilio: number;
  bytesToTwilio: number;
  droppedToUpstream: DropCounter;
  droppedToTwilio: DropCounter;
  invalidFrames: number;
  bargeIns: number;
  /** µ-law bytes of valid `media` payloads from the caller. */
  callerAudioBytesIn: number;
  /** µ-law bytes of valid audio deltas from the model. */
  modelAudioBytesIn: number;
  /** Caller audio still held when the call ended (bytes). */
  discardedToUpstream: number;
  /** Model audio cleared at a barge-in or still held when the call ended (bytes). */
  discardedToTwilio: number;
  /** Caller audio refused by the pacer (also in droppedToUpstream). */
  tooFastBytes: number;
  /** Keypresses relayed to the model, and those refused as faster than a person presses keys. */
  keypresses: number;
  keypressesDropped: number;
}

export interface CallSummary {
  readonly callSid: string;
  readonly streamSid: string | undefined;
  readonly reason: EndReason;
  readonly durationMs: number;
  readonly stats: CallStats;
}

/** A function call from the model, handed to the tool layer (call control). */
export interface ToolCall {
  readonly callId: string;
  readonly name: string;
  /** As the model sent it (normally JSON text); the tool router checks it. */
  readonly arguments: unknown;
}

export interface SessionOptions {
  readonly config: Config;
  readonly socket: WebSocket;
  /** From the pre-upgrade guard: the CallSid and token the path carried. */
  readonly callSid: string;
  readonly token: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly openUpstream: UpstreamProvider;
  /** Extra tools to declare in session.update (call control). */
  readonly tools?: readonly ToolDeclaration[];
  readonly onToolCall?: (session: StreamSession, call: ToolCall) => void;
  readonly onEnd?: (summary: CallSummary) => void;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
}

export class StreamSession {
  readonly callSid: string;
  streamSid: string | undefined;
  log: Logger;
  readonly stats: CallStats = {
    twilioMessagesIn: 0,
    twilioMessagesOut: 0,
    upstreamMessagesIn: 0,
    upstreamMessagesOut: 0,
    framesToUpstream: 0,
    bytesToUpstream: 0,
    framesToTwilio: 0,
    bytesToTwilio: 0,
    droppedToUpstream: { frames: 0, bytes: 0 },
    droppedToTwilio: { frames: 0, bytes: 0 },
    invalidFrames: 0,
    bargeIns: 0,
    callerAudioBytesIn: 0,
    modelAudioBytesIn: 0,
    discardedToUpstream: 0,
    discardedToTwilio: 0,
    tooFastBytes: 0,
    keypresses: 0,
    keypressesDropped: 0,
  };
  /** Lines written for what a peer sends (tool calls, error events): a few of each kind per call. */
  readonly logBudget = new LogBudget();

  private readonly opts: SessionOptions;
  private readonly twilio: WebSocket;
  private readonly now: () => number;
  private readonly createdAt: number;
  private upstream: WebSocket | null = null;
  private upstreamOpen = false;
  private started = false;
  private closed = false;
  private startTimer: NodeJS.Timeout | null;
  private readonly invalidRun: InvalidFrameRun;
  private readonly inbound: FramePump;
  private readonly outbound: FramePump;
  /** Caller audio that arrived before the upstream socket opened (bounded, oldest dropped). */
  private readonly held: HeldAudio;
  /** Caller audio faster than real time is not relayed (billed input audio). */
  private readonly pacer: MediaPacer;
  /** The caller's keypress budget (KEYPRESS_LIMITS); undefined until the first press. */
  private keypresses: BucketState | undefined;
  private readonly playback = new PlaybackTracker();
  /** The model item whose audio the outbound pump currently holds. */
  private outItem: string | null = null;
  private endReason: EndReason | null = null;
  /** Call control waiting on its marks: name → listener (true: echoed; false: the call ended first). */
  private readonly playoutWatch = new Map<string, (played: boolean) => void>();
  private playoutSeq = 0;
  /** Set when call control ends the call on purpose: Twilio's stop/close that follows is ours. */
  private intendedEnd: EndReason | null = null;
  /** The app's per-message counters (plain numbers; see HotCounters). */
  private readonly hot: HotCounters;
  /** BACKPRESSURE_BYTES, read once: it is checked before every frame. */
  private readonly backpressureBytes: number;
  /** Invalid Realtime events: counted, logged once per type and reason, ignored. */
  private readonly invalidEvents: InvalidUpstreamEvents;
  /**
   * Every entry point into this call (listeners, timers, tool callbacks) runs through this: what
   * it throws ends this call with `internal_error` and never reaches the process.
   */
  readonly contain: Contain = faultBoundary((err) => this.fail(err));

  constructor(opts: SessionOptions) {
    this.opts = opts;
    this.callSid = opts.callSid;
    this.twilio = opts.socket;
    this.log = opts.log;
    this.now = opts.now ?? (() => performance.now());
    this.createdAt = this.now();
    this.hot = opts.metrics.hot;
    const { config } = opts;
    this.backpressureBytes = config.backpressureBytes;
    this.invalidEvents = new InvalidUpstreamEvents(opts.metrics);
    // The pumps' own timers and turns are entry points into this call too: through the boundary.
    const setTimer = (fn: () => void, ms: number) => setTimeout(this.contain(fn), ms);
    const setTurn = (fn: () => void) => setImmediate(this.contain(fn));
    this.invalidRun = new InvalidFrameRun(config.invalidFrameLimit);
    const frameBytes = config.audioFrameMs * MULAW_BYTES_PER_MS;
    this.inbound = new FramePump({
      aggregator: new FrameAggregator({ mode: 'exact', frameBytes, windowMs: config.audioFrameMs }),
      onFrame: (frame) => this.sendToUpstream(frame),
      now: this.now,
      setTimer,
    });
    this.outbound = new FramePump({
      aggregator: new FrameAggregator({ mode: 'coalesce', frameBytes, windowMs: config.audioFrameMs }),
      onFrame: (frame) => this.sendToTwilio(frame),
      now: this.now,
      setTimer,
      setTurn,
      // Deltas read in one burst leave as one frame (up to 1 s) instead of many 100 ms ones.
      perTurn: true,
    });
    this.held = new HeldAudio(HELD_AUDIO_LIMIT_MS * MULAW_BYTES_PER_MS);
    this.pacer = new MediaPacer(this.createdAt);

    this.twilio.on('message', this.contain((data: RawData, isBinary: boolean) => this.onTwilioMessage(data, isBinary)));
    this.twilio.on('close', this.contain((code: number) => this.close(code === 1009 ? 'message_too_big' : 'twilio_closed')));
    this.startTimer = setTimeout(
      this.contain(() => {
        this.startTimer = null;
        this.log.warn({ timeoutMs: config.startTimeoutMs }, 'no valid start event in time; closing stream');
        this.close('start_timeout');
      }),
      config.startTimeoutMs,
    );
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- Twilio → us ---------------------------------------------------------------------------

  private onTwilioMessage(data: RawData, isBinary: boolean): void {
    this.stats.twilioMessagesIn += 1;
    this.hot.twilioIn += 1;
    if (this.closed) return;
    const parsed = parseTwilioFrame(rawBuffer(data), isBinary, this.started);
    if (!parsed.ok) {
      this.onInvalid(parsed.reason);
      return;
    }
    const message = parsed.message;
    if (message.event === 'media') {
      // The hot path (50 a second per call): the general checks below, inlined for this event.
      if (message.streamSid !== this.streamSid) {
        this.onInvalid('stream_mismatch');
        return;
      }
      this.invalidRun.record(true);
      const payload = message.media.payload;
      this.stats.callerAudioBytesIn += payload.length;
      if (this.pacer.admit(payload.length, this.now())) this.inbound.push(payload);
      else this.onTooFast(payload.length);
      return;
    }
    if (this.started && 'streamSid' in message && message.event !== 'start' && message.streamSid !== this.streamSid) {
      // Valid JSON for some other stream: as useless to this call as junk, and counted the same way.
      this.onInvalid('stream_mismatch');
      return;
    }
    this.invalidRun.record(true);
    this.onTwilioEvent(message);
  }

  /** Caller audio the pacer refused: dropped and counted; a stream far ahead of real time is closed. */
  private onTooFast(bytes: number): void {
    const { stats } = this;
    this.countDropToUpstream(1, bytes);
    if (stats.tooFastBytes === 0) this.log.warn('caller audio arrives faster than real time; dropping what is ahead');
    stats.tooFastBytes += bytes;
    if (stats.tooFastBytes > MEDIA_TOO_FAST_CLOSE_MS * MULAW_BYTES_PER_MS) {
      this.log.warn({ tooFastBytes: stats.tooFastBytes }, 'caller audio stays far ahead of real time; closing stream');
      this.close('media_too_fast');
    }
  }

  private onInvalid(reason: string): void {
    this.stats.invalidFrames += 1;
    this.opts.metrics.invalidFrames.labels(reason).inc();
    if (this.invalidRun.record(false)) {
      this.log.warn({ reason, limit: this.invalidRun.limit }, 'too many invalid frames in a row; closing stream');
      this.close('invalid_frames');
    } else {
      this.log.debug({ reason }, 'invalid frame');
    }
  }

  private onTwilioEvent(message: TwilioInbound): void {
    switch (message.event) {
      case 'media':
        return; // taken on the hot path in onTwilioMessage, never here
      case 'mark': {
        this.playback.onMarkEchoed(message.mark.name, this.now());
        const watcher = this.playoutWatch.get(message.mark.name);
        this.playoutWatch.delete(message.mark.name);
        watcher?.(true);
        return;
      }
      case 'start':
        this.onStart(message);
        return;
      case 'dtmf':
        this.onKeypress(message.dtmf.digit);
        return;
      case 'stop':
        this.close('twilio_stop');
        return;
      case 'connected':
        return;
    }
  }

  /**
   * A key the caller pressed goes to the model as words, and each one asks for a response (billed):
   * at a person's pace (KEYPRESS_LIMITS), not at whatever rate a stream holder sends them.
   */
  private onKeypress(digit: string): void {
    const { verdict, nextState } = takeToken(this.keypresses, Math.floor(this.now()), KEYPRESS_LIMITS);
    this.keypresses = nextState;
    if (!verdict.ok) {
      if (this.stats.keypressesDropped === 0) this.log.warn('keypresses arrive faster than a person presses keys; dropping the excess');
      this.stats.keypressesDropped += 1;
      return;
    }
    this.stats.keypresses += 1;
    // Digits can be PINs or card numbers: caller content, logged only with LOG_TRANSCRIPTS.
    this.log.info(this.opts.config.logTranscripts ? { digit } : {}, 'caller pressed a key');
    this.sendUpstream(userTextItem(`The caller pressed ${digit} on the keypad.`));
    this.sendUpstream(RESPONSE_CREATE);
  }

  private onStart(message: Extract<TwilioInbound, { event: 'start' }>): void {
    const { start } = message;
    const format = start.mediaFormat;
    if (format && (format.encoding !== 'audio/x-mulaw' || format.sampleRate !== 8000 || format.channels !== 1)) {
      // We relay bytes untouched as audio/pcmu: any other format would reach the model as noise.
      this.log.warn({ mediaFormat: format }, 'unsupported media format (need audio/x-mulaw, 8000 Hz, mono); closing stream');
      this.close('bad_start');
      return;
    }
    if (start.customParameters.token !== this.opts.token || start.callSid !== this.callSid) {
      this.log.warn(
        { reason: start.customParameters.token !== this.opts.token ? 'token_mismatch' : 'call_sid_mismatch' },
        'start does not match the stream token; closing stream',
      );
      this.close('bad_start');
      return;
    }
    this.started = true;
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = null;
    this.streamSid = message.streamSid;
    this.log = this.log.child({ streamSid: message.streamSid });
    this.opts.metrics.callsStarted.inc();
    this.opts.metrics.liveCalls.inc();
    this.log.info(
      { direction: start.customParameters.direction, tracks: start.tracks, mediaFormat: start.mediaFormat },
      'stream started',
    );
    this.attachUpstream(this.opts.openUpstream(this.callSid));
  }

  // ---- the upstream --------------------------------------------------------------------------

  private attachUpstream(handle: UpstreamHandle): void {
    const socket = handle.socket;
    this.upstream = socket;
    const onOpen = this.contain(() => {
      this.upstreamOpen = true;
      this.opts.metrics.upstreamConnectSeconds.observe((performance.now() - handle.startedAt) / 1000);
      if (!handle.configured) this.configureUpstream();
      // Caller audio held while connecting goes first, in order, through the same backpressure check.
      for (const frame of this.held.takeAll()) this.sendToUpstream(frame);
    });
    if (socket.readyState === 1) onOpen();
    else socket.once('open', onOpen);
    socket.on('message', this.contain((data: RawData, isBinary: boolean) => this.onUpstreamMessage(data, isBinary)));
    socket.on(
      'error',
      this.contain((err: Error) => {
        if (this.closed) return;
        this.log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'upstream socket error');
        this.close('upstream_error');
      }),
    );
    socket.on(
      'close',
      this.contain((code: number) => {
        if (this.closed) return;
        this.log.warn({ code }, 'upstream closed the session');
        this.close('upstream_closed');
      }),
    );
  }

  private configureUpstream(): void {
    const { config } = this.opts;
    this.sendUpstream(sessionUpdate(config, this.opts.tools));
    if (config.greeting) this.sendUpstream(greetingResponse(config.greeting));
  }

  /** Sends a control event upstream (never dropped: they are few and small). */
  sendUpstream(message: string): void {
    if (!this.upstream || !this.upstreamOpen || this.upstream.readyState !== 1) return;
    this.upstream.send(message);
    this.stats.upstreamMessagesOut += 1;
    this.hot.upstreamOut += 1;
  }

  private onUpstreamMessage(data: RawData, isBinary: boolean): void {
    this.stats.upstreamMessagesIn += 1;
    this.hot.upstreamIn += 1;
    if (this.closed) return;
    const verdict = parseServerEvent(rawBuffer(data), isBinary);
    if (verdict.ok) this.onUpstreamEvent(verdict.event);
    else this.invalidEvents.record(this.log, verdict);
  }

  private onUpstreamEvent(event: RealtimeServerEvent): void {
    switch (event.type) {
      case 'response.output_audio.delta': {
        const { audio } = event;
        this.stats.modelAudioBytesIn += audio.length;
        if (event.item_id !== this.outItem) {
          // Frames never mix two items: what is held belongs to the previous one.
          this.outbound.flush();
          this.outItem = event.item_id;
        }
        this.outbound.push(audio);
        return;
      }
      case 'response.output_audio.done': {
        // Send the tail now rather than up to one window later, then mark the end of the answer.
        this.outbound.flush();
        const mark = this.playback.onResponseDone();
        if (mark) this.sendTwilioControl(markMessage(this.streamSid ?? '', mark));
        return;
      }
      case 'input_audio_buffer.speech_started':
        this.bargeIn();
        return;
      case 'conversation.item.input_audio_transcription.completed':
        if (this.opts.config.logTranscripts) this.log.info({ speaker: 'caller', transcript: event.transcript }, 'transcript');
        return;
      case 'response.output_audio_transcript.done':
        if (this.opts.config.logTranscripts) this.log.info({ speaker: 'assistant', transcript: event.transcript }, 'transcript');
        return;
      case 'response.function_call_arguments.done':
        if (this.logBudget.take('tool_call')) this.log.info({ tool: event.name }, 'assistant called a tool');
        this.opts.onToolCall?.(this, { callId: event.call_id, name: event.name, arguments: event.arguments });
        return;
      case 'response.done':
        if (event.response?.status === 'failed') {
          if (this.logBudget.take('response_failed')) {
            this.log.warn({ statusDetails: describeStatusDetails(event.response.status_details) }, 'model response failed');
          }
        }
        return;
      case 'error': {
        const code = event.error.code ?? undefined;
        if (this.logBudget.take('error_event')) this.log.warn({ code, type: event.error.type, message: event.error.message }, 'upstream error event');
        if (code === 'session_expired') {
          this.log.warn('the Realtime session reached its maximum duration; ending the call');
          this.close('session_expired');
        }
        return;
      }
      // The session's expiry is watched by calls/session-expiry.ts, which reads these events
      // itself; event types the bridge does not act on arrive as 'other' (counted nowhere, by
      // design: the API adds events over time). Listed so a new event type must be placed here.
      case 'session.created':
      case 'session.updated':
      case 'other':
        return;
    }
  }

  // ---- audio out -----------------------------------------------------------------------------

  private sendToUpstream(frame: Buffer): void {
    if (this.closed) return;
    const { stats, hot } = this;
    if (!this.upstreamOpen || !this.upstream) {
      // Held while connecting; overflow drops the oldest, counted here like any other drop.
      const dropped = stats.droppedToUpstream;
      const framesBefore = dropped.frames;
      const bytesBefore = dropped.bytes;
      this.held.push(frame, dropped);
      hot.droppedFramesToUpstream += dropped.frames - framesBefore;
      hot.droppedBytesToUpstream += dropped.bytes - bytesBefore;
      return;
    }
    if (sendAudioFrame(this.upstream, appendAudio(frame), frame.length, this.backpressureBytes, stats.droppedToUpstream)) {
      stats.framesToUpstream += 1;
      stats.bytesToUpstream += frame.length;
      stats.upstreamMessagesOut += 1;
      hot.upstreamOut += 1;
      hot.framesToUpstream += 1;
      hot.bytesToUpstream += frame.length;
    } else {
      hot.droppedFramesToUpstream += 1;
      hot.droppedBytesToUpstream += frame.length;
    }
  }

  private countDropToUpstream(frames: number, bytes: number): void {
    this.stats.droppedToUpstream.frames += frames;
    this.stats.droppedToUpstream.bytes += bytes;
    this.hot.droppedFramesToUpstream += frames;
    this.hot.droppedBytesToUpstream += bytes;
  }

  private discardToUpstream(bytes: number): void {
    this.stats.discardedToUpstream += bytes;
    this.hot.discardedBytesToUpstream += bytes;
  }

  private discardToTwilio(bytes: number): void {
    this.stats.discardedToTwilio += bytes;
    this.hot.discardedBytesToTwilio += bytes;
  }

  private sendToTwilio(frame: Buffer): void {
    const { streamSid, outItem, stats, hot } = this;
    if (this.closed || !streamSid || outItem === null) {
      this.discardToTwilio(frame.length);
      return;
    }
    if (!sendAudioFrame(this.twilio, mediaMessage(streamSid, frame), frame.length, this.backpressureBytes, stats.droppedToTwilio)) {
      hot.droppedFramesToTwilio += 1;
      hot.droppedBytesToTwilio += frame.length;
      return;
    }
    stats.framesToTwilio += 1;
    stats.bytesToTwilio += frame.length;
    stats.twilioMessagesOut += 1;
    hot.twilioOut += 1;
    hot.framesToTwilio += 1;
    hot.bytesToTwilio += frame.length;
    const { mark } = this.playback.onAudioSent(outItem, frame.length, this.now());
    if (mark) this.sendTwilioControl(markMessage(streamSid, mark));
  }

  /** Small control messages to Twilio (mark, clear): not subject to the audio drop rule. */
  sendTwilioControl(message: string): void {
    if (this.twilio.readyState !== 1) return;
    this.twilio.send(message);
    this.stats.twilioMessagesOut += 1;
    this.hot.twilioOut += 1;
  }

  /** The caller started speaking: stop the assistant where the caller stopped hearing it. */
  private bargeIn(): void {
    const discarded = this.outbound.discard();
    this.discardToTwilio(discarded);
    if (discarded === 0 && this.playback.playedAll()) {
      // Twilio confirmed (mark echo) that the whole answer has played and nothing is pending: the
      // caller speaks after the assistant, not over it. A clear and a truncate at the full length
      // would change nothing and cost a message each way per turn.
      return;
    }
    const heard = this.playback.heard(this.now());
    if (!heard && discarded === 0) return;
    this.stats.bargeIns += 1;
    if (this.streamSid) this.sendTwilioControl(clearMessage(this.streamSid));
    if (heard) this.sendUpstream(truncateItem(heard.itemId, heard.audioEndMs));
    this.log.debug({ discardedBytes: discarded, audioEndMs: heard?.audioEndMs }, 'barge-in');
    this.playback.reset();
    this.outItem = null;
  }

  /** Lets pending assistant audio leave now (e.g. a goodbye before hanging up). */
  flushOutbound(): void {
    this.outbound.flush();
  }

  /**
   * Call control (a goodbye before hanging up): `listener(true)` once all audio sent so far has
   * played on the phone (Twilio echoes a mark sent after it), `listener(false)` if the call ends
   * first. Returns a function that stops watching (e.g. after the caller's own timeout).
   */
  afterPlayout(listener: (played: boolean) => void): () => void {
    if (this.closed || !this.streamSid) {
      listener(false);
      return () => undefined;
    }
    this.outbound.flush();
    const name = `vb-playout-${++this.playoutSeq}`;
    this.playoutWatch.set(name, listener);
    this.sendTwilioControl(markMessage(this.streamSid, name));
    return () => this.playoutWatch.delete(name);
  }

  /**
   * Call control is ending the call through Twilio's REST API (hang-up, transfer), which makes
   * Twilio stop the stream: that stop/close is then reported as `reason`. null takes it back.
   */
  expectEnd(reason: EndReason | null): void {
    this.intendedEnd = reason;
  }

  // ---- the end -------------------------------------------------------------------------------

  /**
   * A fault inside this call (what `contain` caught, or a tool's unexpected failure): one error
   * line with the stack, then this call ends with `internal_error` (Twilio gets 1011).
   */
  fail(err: unknown): void {
    this.log.error({ err }, 'internal error in this call; ending it');
    try {
      this.close('internal_error');
    } catch (closeErr) {
      // The orderly end failed half-way: cut both sockets so nothing of this call lingers.
      this.log.error({ err: closeErr }, 'ending the call after an internal error failed; terminating its sockets');
      this.twilio.terminate();
      this.upstream?.terminate();
    }
  }

  /** Ends the call once, whatever the path: timers cleared, both sockets closed within 1 s. */
  close(reason: EndReason): void {
    if (this.closed) return;
    // The caller's stream ended normally: its last partial frame (< 100 ms) still goes upstream
    // (or to the held audio, counted there) rather than vanishing.
    if (reason === 'twilio_stop') this.inbound.flush();
    this.closed = true;
    if (this.intendedEnd && (reason === 'twilio_stop' || reason === 'twilio_closed')) reason = this.intendedEnd;
    this.endReason = reason;
    const durationMs = Math.round(this.now() - this.createdAt);
    try {
      if (this.startTimer) clearTimeout(this.startTimer);
      this.startTimer = null;
      // Whatever is still held can no longer leave: counted as discarded, so every byte is accounted for.
      let held = this.inbound.close();
      for (const frame of this.held.takeAll()) held += frame.length;
      this.discardToUpstream(held);
      this.discardToTwilio(this.outbound.close());
      if (this.upstream) closeWithin(this.upstream, 1000, 'call ended', SOCKET_CLOSE_GRACE_MS);
      const [code, text] = TWILIO_CLOSE[reason];
      closeWithin(this.twilio, code, text, SOCKET_CLOSE_GRACE_MS);
      const { metrics } = this.opts;
      metrics.callsEnded.labels(reason).inc();
      if (this.started) {
        metrics.liveCalls.dec();
        metrics.callDurationSeconds.observe(durationMs / 1000);
      }
      const level =
        reason.startsWith('upstream') || reason === 'invalid_frames' || reason === 'start_timeout' || reason === 'internal_error' ? 'warn' : 'info';
      this.log[level]({ reason, durationMs, stats: this.stats, logLinesHeldBack: this.logBudget.heldBack() }, 'call ended');
    } finally {
      // Whatever failed above (fail() then cuts the sockets), the call is over for everyone
      // waiting on it: call control, the registry, a drain.
      for (const watcher of this.playoutWatch.values()) watcher(false);
      this.playoutWatch.clear();
      this.opts.onEnd?.({ callSid: this.callSid, streamSid: this.streamSid, reason, durationMs, stats: this.stats });
    }
  }

  get reason(): EndReason | null {
    return this.endReason;
  }
}

/** Caller audio held while the upstream connects: 2 s, then the oldest is dropped. */
export const HELD_AUDIO_LIMIT_MS = 2_000;

/**
 * Keypresses relayed to the model: 20 at once (a long number typed quickly), then 5 a second —
 * faster than a person presses keys, slow enough that keypresses cannot buy responses in bulk.
 */
export const KEYPRESS_LIMITS: BucketLimits = { burst: 20, ratePerMinute: 300 };

/** Longest text of a failed response's details that is logged, in characters. */
const STATUS_DETAILS_LOG_CHARS = 256;

/**
 * A failed response's `status_details` as a log field: the few strings that say why (type,
 * reason, error type, code, message), each cut to STATUS_DETAILS_LOG_CHARS; never the whole
 * object, which the peer may make as large as a message (megabytes).
 */
export function describeStatusDetails(details: unknown): Record<string, string> | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  const d = details as { type?: unknown; reason?: unknown; error?: unknown };
  const e = (typeof d.error === 'object' && d.error !== null ? d.error : {}) as { type?: unknown; code?: unknown; message?: unknown };
  const out: Record<string, string> = {};
  const put = (key: string, value: unknown) => {
    if (typeof value === 'string') out[key] = value.slice(0, STATUS_DETAILS_LOG_CHARS);
  };
  put('type', d.type);
  put('reason', d.reason);
  put('errorType', e.type);
  put('errorCode', e.code);
  put('errorMessage', e.message);
  return out;
}
