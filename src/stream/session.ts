/**
 * One call: the coordinator of its parts.
 *
 *   Twilio socket ─ TwilioLeg ─ audio ─▶ inbound FramePump (100 ms) ─▶ UpstreamLeg ─ Realtime socket
 *   Twilio socket ◀─ TwilioLeg ◀─ AssistantAudio (coalesce, playback, barge-in) ◀─ event ─ UpstreamLeg
 *
 * The legs judge their peer's input and own their socket; AssistantAudio owns the way back to the
 * caller; the session routes what they report (start, audio, events, ends) and ends the call in
 * the one idempotent `close(reason)`, which clears every timer and closes both sockets within 1 s.
 * All parts count into the call's one `CallStats`, which the app's metrics read too. Nothing here
 * logs per frame.
 */
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { CallStats } from './call-stats.js';
import type { CallContext } from './call-context.js';
import { END_REASONS, type EndReason } from './end-reason.js';
import { FrameAggregator, MULAW_BYTES_PER_MS } from './frame-aggregator.js';
import { FramePump } from './frame-pump.js';
import { TwilioLeg } from './twilio-leg.js';
import { UpstreamLeg } from './upstream-leg.js';
import { AssistantAudio } from './assistant-audio.js';
import { userTextItem, RESPONSE_CREATE } from './realtime-events.js';
import type { RealtimeServerEvent } from './realtime-validate.js';
import { faultBoundary, type Contain } from './fault-boundary.js';
import type { UpstreamHandle, UpstreamProvider } from './upstream.js';
import { LogBudget } from './log-budget.js';
import { systemClock } from '../clock.js';
import { recordUsage } from '../records/usage.js';
import { callStartFrom, type TurnInput } from '../records/open-call.js';
import type { CallRecordFeed } from '../records/recorder.js';
import { describeStatusDetails } from './status-details.js';
import { CallUsage } from '../usage/call-usage.js';
import type { CallSummary } from './session-reports.js';

export type { EndReason } from './end-reason.js';
export type { CallStats } from './call-stats.js';

export type { CallSummary, ToolCall } from './session-reports.js';

export interface SessionOptions {
  readonly config: Config;
  readonly socket: WebSocket;
  /** From the pre-upgrade guard: the CallSid and token the path carried. */
  readonly callSid: string;
  readonly token: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The call's configured upstream socket, its profile and tool dispatcher (calls/upstream-pool.ts). */
  readonly openUpstream: UpstreamProvider;
  readonly onEnd?: (summary: CallSummary) => void;
  /** Where the call's record goes (records/recorder.ts); none: not recorded. */
  readonly recorder?: CallRecordFeed;
  /** Monotonic clock, ms (the app's `clock.mono`). @default performance.now */
  readonly now?: () => number;
}

export class StreamSession {
  readonly callSid: string;
  /** Every entry point into this call runs through this (see CallContext.contain). */
  readonly contain: Contain;

  readonly #opts: SessionOptions;
  readonly #ctx: CallContext;
  readonly #createdAt: number;
  readonly #twilio: TwilioLeg;
  readonly #upstream: UpstreamLeg;
  /** Caller audio: 20 ms media in, exact 100 ms frames out. */
  readonly #inbound: FramePump;
  readonly #assistant: AssistantAudio;
  /** From the upstream handle at start: the profile's tools answer the model's function calls. */
  #onToolCall: UpstreamHandle['onToolCall'];
  /** The call's model usage, counted under its profile from start on. */
  #usage: CallUsage | null = null;
  #endReason: EndReason | null = null;
  /** Set when call control ends the call on purpose: Twilio's stop/close that follows is ours. */
  #intendedEnd: EndReason | null = null;

  constructor(opts: SessionOptions) {
    this.#opts = opts;
    this.callSid = opts.callSid;
    const now = opts.now ?? systemClock.mono;
    this.contain = faultBoundary((err) => this.fail(err));
    const contain = this.contain;
    this.#ctx = {
      callSid: opts.callSid,
      config: opts.config,
      metrics: opts.metrics,
      stats: opts.metrics.calls.open(),
      logBudget: new LogBudget(),
      log: opts.log,
      now,
      contain,
      setTimer: (fn, ms) => setTimeout(contain(fn), ms),
      setTurn: (fn) => setImmediate(contain(fn)),
    };
    this.#createdAt = now();
    const ctx = this.#ctx;
    this.#upstream = new UpstreamLeg(ctx, {
      event: (event) => this.#onUpstreamEvent(event),
      end: (reason) => this.close(reason),
    });
    this.#inbound = new FramePump({
      aggregator: new FrameAggregator({ mode: 'exact', frameBytes: opts.config.audioFrameMs * MULAW_BYTES_PER_MS, windowMs: opts.config.audioFrameMs }),
      onFrame: (frame) => this.#upstream.sendAudio(frame),
      now,
      setTimer: ctx.setTimer,
    });
    this.#twilio = new TwilioLeg(ctx, opts.socket, opts.token, {
      started: (start) => this.#onStart(start.customParameters, start.tracks, start.mediaFormat),
      audio: (payload) => this.#inbound.push(payload),
      markEchoed: (name) => this.#assistant.markEchoed(name),
      keypress: (digit) => this.#onKeypress(digit),
      end: (reason) => this.close(reason),
    });
    this.#assistant = new AssistantAudio(ctx, this.#twilio, this.#upstream);
  }

  get streamSid(): string | undefined {
    return this.#twilio.streamSid;
  }

  get log(): Logger {
    return this.#ctx.log;
  }

  /** This call's counters (live while it runs; final once it ended). */
  get stats(): CallStats {
    return this.#ctx.stats;
  }

  get logBudget(): LogBudget {
    return this.#ctx.logBudget;
  }

  get isClosed(): boolean {
    return this.#endReason !== null;
  }

  get reason(): EndReason | null {
    return this.#endReason;
  }

  #onStart(params: Readonly<Record<string, string>>, tracks: readonly string[] | undefined, mediaFormat: unknown): void {
    const ctx = this.#ctx;
    const { metrics } = ctx;
    ctx.log = ctx.log.child({ streamSid: this.streamSid });
    metrics.callsStarted.inc();
    metrics.liveCalls.inc();
    // The profile comes with the upstream (one choice, kept to the end); the TwiML's name is the fallback.
    const handle = this.#opts.openUpstream(this.callSid, params.assistant);
    const { assistant } = handle;
    this.#onToolCall = handle.onToolCall;
    this.#usage = new CallUsage(assistant, metrics);
    metrics.assistantCalls.labels(metrics.assistantLabel(assistant.name)).inc();
    ctx.log = ctx.log.child({ assistant: assistant.name });
    ctx.log.info({ direction: params.direction, tracks, mediaFormat }, 'stream started');
    // The call's record begins at a valid start (a stream that never starts leaves none).
    this.#opts.recorder?.begin(this.callSid, callStartFrom(params, ctx.config.twilioPhoneNumber, assistant.name));
    this.#upstream.attach(handle);
  }

  #onKeypress(digit: string): void {
    const { log, config } = this.#ctx;
    // Digits can be PINs or card numbers: caller content, logged only with LOG_TRANSCRIPTS.
    log.info(config.logTranscripts ? { digit } : {}, 'caller pressed a key');
    this.recordTurn({ kind: 'dtmf', digit });
    this.sendUpstream(userTextItem(`The caller pressed ${digit} on the keypad.`));
    this.sendUpstream(RESPONSE_CREATE);
  }

  #onUpstreamEvent(event: RealtimeServerEvent): void {
    const { log, logBudget, config } = this.#ctx;
    switch (event.type) {
      case 'response.output_audio.delta':
        this.#assistant.delta(event.item_id, event.audio);
        return;
      case 'response.output_audio.done':
        this.#assistant.done();
        return;
      case 'input_audio_buffer.speech_started':
        if (this.#assistant.bargeIn()) this.recordTurn({ kind: 'barge_in' });
        return;
      case 'conversation.item.input_audio_transcription.completed':
        if (config.logTranscripts) log.info({ speaker: 'caller', transcript: event.transcript }, 'transcript');
        this.recordTurn({ kind: 'caller', text: event.transcript });
        return;
      case 'response.output_audio_transcript.done':
        if (config.logTranscripts) log.info({ speaker: 'assistant', transcript: event.transcript }, 'transcript');
        this.recordTurn({ kind: 'assistant', text: event.transcript });
        return;
      case 'response.function_call_arguments.done':
        if (logBudget.take('tool_call')) log.info({ tool: event.name }, 'assistant called a tool');
        this.#onToolCall?.(this, { callId: event.call_id, name: event.name, arguments: event.arguments });
        return;
      case 'response.done':
        if (event.response?.status === 'failed' && logBudget.take('response_failed')) {
          log.warn({ statusDetails: describeStatusDetails(event.response.status_details) }, 'model response failed');
        }
        if (this.#usage?.record(event.response?.usage) === 'unreadable' && logBudget.take('usage_unreadable', 1)) {
          log.warn('a response\'s usage could not be read; its tokens are not counted (logged once per call)');
        }
        return;
      case 'error': {
        const code = event.error.code ?? undefined;
        if (logBudget.take('error_event')) log.warn({ code, type: event.error.type, message: event.error.message }, 'upstream error event');
        if (code === 'session_expired') {
          log.warn('the Realtime session reached its maximum duration; ending the call');
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

  // ---- for call control ----------------------------------------------------------------------

  /** Adds a turn to the call's record (transcripts, keys, barge-ins, tool calls); never waits or throws. */
  recordTurn(turn: TurnInput): void {
    this.#opts.recorder?.turn(this.callSid, turn);
  }

  /** Sends a control event upstream (never dropped: they are few and small). */
  sendUpstream(message: string): void {
    this.#upstream.send(message);
  }

  /** See AssistantAudio.afterPlayout: true once all audio sent so far has played, false if the call ends first. */
  afterPlayout(listener: (played: boolean) => void): () => void {
    return this.#assistant.afterPlayout(listener);
  }

  /**
   * Call control is ending the call through Twilio's REST API (hang-up, transfer), which makes
   * Twilio stop the stream: that stop/close is then reported as `reason`. null takes it back.
   */
  expectEnd(reason: EndReason | null): void {
    this.#intendedEnd = reason;
  }

  // ---- the end -------------------------------------------------------------------------------

  /**
   * A fault inside this call (what `contain` caught, or a tool's unexpected failure): one error
   * line with the stack, then this call ends with `internal_error` (Twilio gets 1011).
   */
  fail(err: unknown): void {
    this.#ctx.log.error({ err }, 'internal error in this call; ending it');
    try {
      this.close('internal_error');
    } catch (closeErr) {
      // The orderly end failed half-way: cut both sockets so nothing of this call lingers.
      this.#ctx.log.error({ err: closeErr }, 'ending the call after an internal error failed; terminating its sockets');
      this.#twilio.terminate();
      this.#upstream.terminate();
    }
  }

  /** Ends the call once, whatever the path: timers cleared, both sockets closed within 1 s. */
  close(reason: EndReason): void {
    if (this.#endReason !== null) return;
    // The caller's stream ended normally: its last partial frame (< 100 ms) still goes upstream
    // (or to the held audio, counted there) rather than vanishing.
    if (reason === 'twilio_stop') this.#inbound.flush();
    if (this.#intendedEnd && (reason === 'twilio_stop' || reason === 'twilio_closed')) reason = this.#intendedEnd;
    this.#endReason = reason;
    const ctx = this.#ctx;
    const { stats, metrics } = ctx;
    const durationMs = Math.round(ctx.now() - this.#createdAt);
    try {
      // Whatever is still held can no longer leave: counted as discarded, so every byte is accounted for.
      stats.discardedToUpstream += this.#inbound.close() + this.#upstream.close();
      this.#assistant.close();
      const meaning = END_REASONS[reason];
      this.#twilio.close(...meaning.close);
      metrics.callsEnded.labels(reason).inc();
      if (this.#twilio.started) {
        metrics.liveCalls.dec();
        metrics.callDurationSeconds.observe(durationMs / 1000);
      }
      ctx.log[meaning.level]({ reason, durationMs, stats, usage: this.#usage?.summary(), logLinesHeldBack: ctx.logBudget.heldBack() }, 'call ended');
    } finally {
      // Whatever failed above (fail() then cuts the sockets), the call is over for everyone
      // waiting on it: call control, the registry, a drain.
      this.#assistant.endWatches();
      metrics.calls.close(stats);
      const usage = this.#usage?.totals();
      this.#opts.recorder?.end(this.callSid, { reason, stats, usage: usage && recordUsage(usage.tokens, usage.responses) });
      this.#opts.onEnd?.({ callSid: this.callSid, streamSid: this.streamSid, reason, durationMs, stats, usage });
    }
  }
}
