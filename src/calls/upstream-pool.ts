/**
 * Upstream sessions for calls, opened early when we can (a faster first turn).
 *
 * When a signed webhook has served stream TwiML, `prewarm(callSid, assistant)` opens the Realtime
 * socket on the profile's model and sends its `session.update` at once, so the TLS/WebSocket handshake and session set-up overlap with
 * Twilio connecting the media stream. When that stream's `start` arrives, the provider hands the
 * warm socket over (single use, keyed by CallSid); otherwise it opens a fresh one. Either way the
 * socket is configured here from the call's assistant profile (model, session.update with its
 * instructions, voice and tools, then the call's greeting, and the expiry watch): this is the one
 * place an upstream session is set up, so the stream session only relays.
 *
 * Limits: a pre-warm holds a registry reservation until adopted, so pre-warms count toward
 * MAX_CALLS (and at most MAX_CALLS exist); one with no stream after PREWARM_TIMEOUT_MS is closed.
 * Pre-warming is off without TWILIO_AUTH_TOKEN: webhooks are then unauthenticated, and an
 * anonymous POST must never open an upstream session. PREWARM=off turns it off too (several
 * instances without affinity, where the stream often reaches another process than the webhook).
 * Each pre-warm's outcome is counted in voice_bridge_prewarm_total{outcome}, so the adoption rate
 * is visible.
 */
import type { RawData, WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { CallRegistry, Reservation } from '../call-registry.js';
import { connectRealtime, type UpstreamHandle, type UpstreamProvider } from '../stream/upstream.js';
import { greetingResponse, sessionUpdateFor, type ToolDeclaration } from '../stream/realtime-events.js';
import { parseServerEvent } from '../stream/realtime-validate.js';
import { rawBuffer } from '../stream/peer-input.js';
import { faultBoundary, type Contain } from '../stream/fault-boundary.js';
import { closeWithin, SOCKET_CLOSE_GRACE_MS } from '../stream/socket-close.js';
import { watchSessionExpiry } from './session-expiry.js';
import type { Metrics } from '../metrics.js';
import { systemClock, type Clock } from '../clock.js';
import type { Assistant } from '../assistants/assistant.js';
import type { PendingCall } from './pending-calls.js';
import { END_CALL } from '../assistants/tool-names.js';

/** A pre-warmed session not adopted by a stream within this long is closed, in ms. */
export const PREWARM_TIMEOUT_MS = 15_000;

/** What became of a pre-warm: its stream took it, none came in time, it broke first, or the call ended first. */
export type PrewarmOutcome = 'adopted' | 'expired' | 'not_usable' | 'discarded';

/** The tools a profile's calls declare, and the dispatcher for the model's calls of them. */
export interface CallToolSet {
  readonly declarations: readonly ToolDeclaration[];
  readonly onToolCall?: UpstreamHandle['onToolCall'];
}

export interface UpstreamPoolOptions {
  readonly config: Config;
  readonly registry: CallRegistry;
  /**
   * The call's profile and POST /calls greeting, asked once, when its stream starts (single use):
   * what was kept for it, else the profile `named` in its TwiML, else the default.
   */
  readonly callFor: (callSid: string, named: string | undefined) => PendingCall;
  /** The tools `assistant`'s calls declare (none without Twilio REST credentials). */
  readonly toolsFor: (assistant: Assistant, callSid: string) => CallToolSet;
  readonly log: Logger;
  /** @default PREWARM_TIMEOUT_MS */
  readonly prewarmTimeoutMs?: number;
  /** Opens the Realtime socket for `callSid` on `model`. @default connectRealtime(config, …, model) */
  readonly connect?: (callSid: string, model: string) => WebSocket;
  /** wall: the session's expires_at is wall-clock time; mono: when a call began waiting. @default systemClock */
  readonly clock?: Clock;
  /** Counts what the pool itself sends upstream (session.update, greeting) in ws_messages_total. */
  readonly metrics?: Metrics;
}

interface Warm {
  readonly socket: WebSocket;
  /** The profile it was configured for: the stream that adopts it keeps it. */
  readonly assistant: Assistant;
  readonly reservation: Reservation;
  readonly timer: NodeJS.Timeout;
  readonly log: Logger;
  /** Listeners that only make sense until adoption (the session brings its own). */
  readonly detach: () => void;
  /** This socket's fault boundary (see #contain). */
  readonly contain: Contain;
}

export class UpstreamPool {
  /** The stream route's UpstreamProvider. */
  readonly provider: UpstreamProvider = (callSid, named) => this.#open(callSid, named);

  readonly #opts: UpstreamPoolOptions;
  readonly #warm = new Map<string, Warm>();
  readonly #connect: (callSid: string, model: string) => WebSocket;
  readonly #clock: Clock;
  readonly #enabled: boolean;
  #closed = false;

  constructor(opts: UpstreamPoolOptions) {
    this.#opts = opts;
    this.#connect = opts.connect ?? ((_callSid, model) => connectRealtime(opts.config, undefined, model));
    this.#clock = opts.clock ?? systemClock;
    this.#enabled = Boolean(opts.config.twilioAuthToken) && opts.config.prewarm;
  }

  /** Pre-warmed sessions waiting for their stream. */
  get warmCount(): number {
    return this.#warm.size;
  }

  /**
   * Opens and configures the upstream for `callSid` with `assistant` now. Call only after a
   * verified webhook. @returns false when nothing was opened (disabled, already warm, no capacity, closed).
   */
  prewarm(callSid: string, assistant: Assistant): boolean {
    if (!this.#enabled || this.#closed || this.#warm.has(callSid)) return false;
    const log = this.#opts.log.child({ callSid, assistant: assistant.name });
    const reservation = this.#opts.registry.reserve();
    if (reservation === 'capacity' || reservation === 'draining') {
      log.debug({ reason: reservation }, 'no pre-warm: no free call slot');
      return false;
    }
    const socket = this.#connect(callSid, assistant.model);
    const contain = this.#contain(socket, log);
    const { declarations } = this.#opts.toolsFor(assistant, callSid);
    this.#watchExpiry(socket, log, contain, declarations);
    const configure = contain(() => this.#send(socket, sessionUpdateFor(assistant, declarations)));
    const onMessage = contain((data: RawData, isBinary: boolean) => {
      // Before adoption nothing else reads this socket; its complaints must not go unseen.
      const verdict = parseServerEvent(rawBuffer(data), isBinary);
      if (!verdict.ok) {
        this.#opts.metrics?.realtimeInvalidEvents.labels(verdict.type, verdict.reason).inc();
        return;
      }
      const { event } = verdict;
      if (event.type === 'error') log.warn({ code: event.error.code, message: event.error.message }, 'upstream error before the stream started');
    });
    const onError = contain((err: Error) => {
      log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'pre-warm failed; the stream will open a fresh upstream');
      this.#drop(callSid, 'not_usable');
    });
    const onClose = contain((code: number) => {
      if (this.#warm.get(callSid)?.socket !== socket) return;
      log.warn({ code }, 'pre-warmed upstream closed before the stream started');
      this.#drop(callSid, 'not_usable');
    });
    socket.once('open', configure);
    socket.on('message', onMessage);
    socket.on('error', onError);
    socket.on('close', onClose);
    const timeoutMs = this.#opts.prewarmTimeoutMs ?? PREWARM_TIMEOUT_MS;
    const timer = setTimeout(
      contain(() => {
        log.warn({ timeoutMs }, 'no stream for the pre-warmed upstream in time; closing it');
        this.#drop(callSid, 'expired');
      }),
      timeoutMs,
    );
    const detach = () => {
      socket.off('message', onMessage);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    this.#warm.set(callSid, { socket, assistant, reservation, timer, log, detach, contain });
    log.debug('pre-warming the upstream session');
    return true;
  }

  /** Sends a control event upstream, counted like the session's own messages. */
  #send(socket: WebSocket, message: string): void {
    socket.send(message);
    this.#opts.metrics?.wsMessages.labels('upstream', 'out').inc();
  }

  /** Closes `callSid`'s pre-warmed session, if any (e.g. the call ended before its stream). */
  discard(callSid: string): void {
    this.#drop(callSid, 'discarded');
  }

  /** Closes every pre-warmed session (app shutdown). Adopted sockets belong to their sessions. */
  close(): void {
    this.#closed = true;
    for (const callSid of [...this.#warm.keys()]) this.#drop(callSid, 'discarded');
  }

  #open(callSid: string, named: string | undefined): UpstreamHandle {
    const warm = this.#take(callSid);
    const call = this.#opts.callFor(callSid, named);
    // A warm socket was configured for its profile: the call keeps that one.
    const assistant = warm?.assistant ?? call.assistant;
    const tools = this.#opts.toolsFor(assistant, callSid);
    const greeting = call.greeting ?? assistant.greeting;
    const sendGreeting = (socket: WebSocket) => {
      if (greeting) this.#send(socket, greetingResponse(greeting));
    };
    const handle = (socket: WebSocket, startedAt: number): UpstreamHandle => ({ socket, startedAt, assistant, onToolCall: tools.onToolCall });
    if (warm && (warm.socket.readyState === 0 /* CONNECTING */ || warm.socket.readyState === 1 /* OPEN */)) {
      warm.log.debug('stream adopted the pre-warmed upstream');
      this.#count('adopted');
      // session.update went (or goes, on open) first; the greeting follows it.
      if (warm.socket.readyState === 1) sendGreeting(warm.socket);
      else warm.socket.once('open', warm.contain(() => sendGreeting(warm.socket)));
      // startedAt: from the call's point of view, the wait for upstream starts now.
      return handle(warm.socket, this.#clock.mono());
    }
    const log = this.#opts.log.child({ callSid, assistant: assistant.name });
    if (warm) {
      this.#count('not_usable');
      warm.socket.on('error', () => undefined);
      closeWithin(warm.socket, 1000, 'not usable', SOCKET_CLOSE_GRACE_MS);
    }
    const startedAt = this.#clock.mono();
    const socket = this.#connect(callSid, assistant.model);
    const contain = this.#contain(socket, log);
    this.#watchExpiry(socket, log, contain, tools.declarations);
    socket.once(
      'open',
      contain(() => {
        this.#send(socket, sessionUpdateFor(assistant, tools.declarations));
        sendGreeting(socket);
      }),
    );
    return handle(socket, startedAt);
  }

  /** Asks the assistant to wrap up shortly before the session's maximum duration. */
  #watchExpiry(socket: WebSocket, log: Logger, contain: Contain, tools: readonly ToolDeclaration[]): void {
    watchSessionExpiry(socket, {
      log,
      now: this.#clock.wall,
      canHangUp: tools.some((t) => t.name === END_CALL),
      contain,
    });
  }

  /**
   * The fault boundary of the pool's own listeners and timers on `socket`: a throw is logged with
   * its stack and closes that socket alone (1011). Once a stream adopted the socket, its session
   * sees the close and ends the call; other calls never notice.
   */
  #contain(socket: WebSocket, log: Logger): Contain {
    return faultBoundary((err) => {
      log.error({ err }, 'internal error on an upstream socket; closing it');
      for (const [callSid, warm] of this.#warm) if (warm.socket === socket) this.#drop(callSid, 'not_usable');
      socket.on('error', () => undefined);
      closeWithin(socket, 1011, 'internal error', SOCKET_CLOSE_GRACE_MS);
    });
  }

  /** Removes `callSid`'s warm entry for adoption: timer cleared, slot handed back, socket kept. */
  #take(callSid: string): Warm | undefined {
    const warm = this.#warm.get(callSid);
    if (!warm) return undefined;
    this.#warm.delete(callSid);
    clearTimeout(warm.timer);
    // The stream holds its own slot (taken at the upgrade), so the reservation is done.
    warm.reservation.release();
    warm.detach();
    return warm;
  }

  #count(outcome: PrewarmOutcome): void {
    this.#opts.metrics?.prewarms.labels(outcome).inc();
  }

  #drop(callSid: string, outcome: PrewarmOutcome): void {
    const warm = this.#take(callSid);
    if (!warm) return;
    this.#count(outcome);
    // A quiet 'error' sink: the close below may still report one, with nobody else listening.
    warm.socket.on('error', () => undefined);
    closeWithin(warm.socket, 1000, 'call ended', SOCKET_CLOSE_GRACE_MS);
  }
}
