/**
 * The upstream side of one call: the OpenAI Realtime socket.
 *
 * The socket comes configured from the one place upstream sessions are set up
 * (calls/upstream-pool.ts: session.update, greeting, expiry watch). Here: caller frames go out as
 * `input_audio_buffer.append` under the backpressure rule — held (bounded, oldest dropped) while
 * the socket is still connecting — and every event read is validated (realtime-validate.ts)
 * before the call sees it; invalid ones are counted, logged once per type and reason, and ignored.
 */
import type { RawData, WebSocket } from 'ws';
import type { CallContext } from './call-context.js';
import type { EndReason } from './end-reason.js';
import type { UpstreamHandle } from './upstream.js';
import { appendAudio } from './realtime-events.js';
import { parseServerEvent, type RealtimeServerEvent } from './realtime-validate.js';
import { sendAudioFrame } from './backpressure.js';
import { HeldAudio } from './held-audio.js';
import { MULAW_BYTES_PER_MS } from './frame-aggregator.js';
import { rawBuffer } from './peer-input.js';
import { closeWithin, SOCKET_CLOSE_GRACE_MS } from './socket-close.js';

/** Caller audio held while the upstream connects: 2 s, then the oldest is dropped. */
export const HELD_AUDIO_LIMIT_MS = 2_000;

export interface UpstreamLegEvents {
  /** A valid event from the Realtime API. */
  event(event: RealtimeServerEvent): void;
  /** The socket failed or closed: the call must end for `reason`. */
  end(reason: EndReason): void;
}

export class UpstreamLeg {
  readonly #ctx: CallContext;
  readonly #events: UpstreamLegEvents;
  readonly #backpressureBytes: number;
  /** Caller audio that arrived before the socket opened (bounded, oldest dropped). */
  readonly #held = new HeldAudio(HELD_AUDIO_LIMIT_MS * MULAW_BYTES_PER_MS);
  #socket: WebSocket | null = null;
  #open = false;
  #closed = false;

  constructor(ctx: CallContext, events: UpstreamLegEvents) {
    this.#ctx = ctx;
    this.#events = events;
    this.#backpressureBytes = ctx.config.backpressureBytes;
  }

  /** Takes over the call's upstream socket (open, or about to open). */
  attach(handle: UpstreamHandle): void {
    const { contain, log, metrics } = this.#ctx;
    const socket = handle.socket;
    this.#socket = socket;
    const onOpen = contain(() => {
      this.#open = true;
      metrics.upstreamConnectSeconds.observe((this.#ctx.now() - handle.startedAt) / 1000);
      // Caller audio held while connecting goes first, in order, through the same backpressure check.
      for (const frame of this.#held.takeAll()) this.sendAudio(frame);
    });
    if (socket.readyState === 1) onOpen();
    else socket.once('open', onOpen);
    socket.on('message', contain((data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary)));
    socket.on(
      'error',
      contain((err: Error) => {
        if (this.#closed) return;
        this.#ctx.log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'upstream socket error');
        this.#events.end('upstream_error');
      }),
    );
    socket.on(
      'close',
      contain((code: number) => {
        if (this.#closed) return;
        log.warn({ code }, 'upstream closed the session');
        this.#events.end('upstream_closed');
      }),
    );
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.#closed) return;
    const { stats } = this.#ctx;
    stats.upstreamMessagesIn += 1;
    const verdict = parseServerEvent(rawBuffer(data), isBinary);
    if (verdict.ok) {
      this.#events.event(verdict.event);
      return;
    }
    // Counted always; logged once per call per type and reason, naming the field.
    const { type, reason, field } = verdict;
    const { metrics, logBudget, log } = this.#ctx;
    metrics.realtimeInvalidEvents.labels(type, reason).inc();
    if (logBudget.take(`invalid_event ${type} ${reason}`, 1)) {
      log.warn({ type, reason, field }, 'invalid event from the Realtime API ignored (logged once per call per type and reason)');
    }
  }

  /** A 100 ms caller frame: appended if the socket is open and under BACKPRESSURE_BYTES, held while connecting. */
  sendAudio(frame: Buffer): void {
    if (this.#closed) return;
    const { stats } = this.#ctx;
    const socket = this.#socket;
    if (!this.#open || !socket) {
      // Held while connecting; overflow drops the oldest, counted like any other drop.
      this.#held.push(frame, stats.droppedToUpstream);
      return;
    }
    if (sendAudioFrame(socket, appendAudio(frame), frame.length, this.#backpressureBytes, stats.droppedToUpstream)) {
      stats.framesToUpstream += 1;
      stats.bytesToUpstream += frame.length;
      stats.upstreamMessagesOut += 1;
    }
  }

  /** A control event (never dropped: they are few and small); nothing before the socket opens. */
  send(message: string): void {
    const socket = this.#socket;
    if (!socket || !this.#open || socket.readyState !== 1) return;
    socket.send(message);
    this.#ctx.stats.upstreamMessagesOut += 1;
  }

  /**
   * Stops reading and closes the socket within SOCKET_CLOSE_GRACE_MS.
   * @returns the bytes of caller audio still held (they can no longer leave)
   */
  close(): number {
    this.#closed = true;
    let held = 0;
    for (const frame of this.#held.takeAll()) held += frame.length;
    if (this.#socket) closeWithin(this.#socket, 1000, 'call ended', SOCKET_CLOSE_GRACE_MS);
    return held;
  }

  /** Cuts the socket (an orderly close failed). */
  terminate(): void {
    this.#socket?.terminate();
  }
}
