/**
 * The live-call registry: how many call slots are held, by whom, and whether we are draining.
 *
 * A slot is taken before the WebSocket upgrade completes (by the guard) and released when the
 * TCP socket closes, so `MAX_CALLS` and `MAX_STREAMS_PER_IP` count real sockets, and two
 * concurrent upgrades can never both squeeze into the last slot. Pre-warmed upstream sessions
 * (opened at the webhook) hold a slot too, so they count toward `MAX_CALLS`.
 *
 * A stream slot names its CallSid, and one CallSid holds at most one stream slot at a time: a
 * replayed signed webhook mints a fresh valid token (Twilio signatures carry no timestamp), so
 * the token's single use alone cannot stop a second stream, and a second paid upstream session,
 * for a call that is already live. This is one instance's view; across instances the guard also
 * takes a lease on the CallSid in its shared store (guard/stream-admission.ts).
 */
import { EventEmitter } from 'node:events';

/** Why a new call cannot be served; the webhook speaks a message for each. */
export type Unavailable = 'capacity' | 'draining' | 'upstream_down';

export interface Slot {
  readonly ip: string;
  /** Idempotent. */
  release(): void;
}

/** A pre-warm's hold on a call slot (see `reserve`). */
export interface Reservation {
  /** Idempotent. */
  release(): void;
}

export interface RegistryLimits {
  readonly maxCalls: number;
  readonly maxStreamsPerIp: number;
}

export class CallRegistry extends EventEmitter<{ idle: []; change: [live: number] }> {
  #live = 0;
  /** Of `#live`, the slots held by pre-warmed upstream sessions (no socket of their own yet). */
  #reserved = 0;
  #perIp = new Map<string, number>();
  /** CallSids holding a stream slot. */
  #streaming = new Set<string>();
  #draining = false;
  /** Extra reasons set by dependencies (e.g. the upstream being unreachable). */
  #availability: () => Unavailable | null = () => null;

  constructor(private readonly limits: RegistryLimits) {
    super();
  }

  get live(): number {
    return this.#live;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Slots held by pre-warmed upstream sessions; included in `live`. */
  get reserved(): number {
    return this.#reserved;
  }

  /** Slots held by stream sockets (`live` minus reservations): what the upgrade cap compares. */
  get streams(): number {
    return this.#live - this.#reserved;
  }

  streamsFrom(ip: string): number {
    return this.#perIp.get(ip) ?? 0;
  }

  /** Whether a stream slot is held for this CallSid (from admission until its socket closes). */
  isStreaming(callSid: string): boolean {
    return this.#streaming.has(callSid);
  }

  /** Starts draining: new calls are refused; live ones go on. Emits `idle` when none is left. */
  startDrain(): void {
    this.#draining = true;
    if (this.#live === 0) this.emit('idle');
  }

  /** A dependency's verdict, asked on every webhook (e.g. the upstream health breaker). */
  setAvailabilityCheck(check: () => Unavailable | null): void {
    this.#availability = check;
  }

  /** Whether a webhook may hand out a new stream (checked before TwiML is served). */
  canServeNewCall(): Unavailable | null {
    if (this.#draining) return 'draining';
    const unavailable = this.#availability();
    if (unavailable) return unavailable;
    if (this.#live >= this.limits.maxCalls) return 'capacity';
    return null;
  }

  /**
   * Takes a slot for `ip` if the total and per-IP caps allow it and, when `callSid` is given, no
   * stream holds one for that call yet (`call_live`).
   * Draining is deliberately not checked: streams whose TwiML was already served are accepted.
   */
  tryAcquire(ip: string, callSid?: string): Slot | 'capacity' | 'ip_cap' | 'call_live' {
    if (callSid !== undefined && this.#streaming.has(callSid)) return 'call_live';
    // Reservations are left out here: a pre-warmed call's own stream must not be refused because
    // of its own reservation (released when the stream adopts it, a few ms after the upgrade).
    // Admission (canServeNewCall, reserve) counts them, so MAX_CALLS still bounds calls.
    if (this.streams >= this.limits.maxCalls) return 'capacity';
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (fromIp >= this.limits.maxStreamsPerIp) return 'ip_cap';
    this.#live += 1;
    this.#perIp.set(ip, fromIp + 1);
    if (callSid !== undefined) this.#streaming.add(callSid);
    this.emit('change', this.#live);
    let held = true;
    return {
      ip,
      release: () => {
        if (!held) return;
        held = false;
        if (callSid !== undefined) this.#streaming.delete(callSid);
        this.#live -= 1;
        const left = (this.#perIp.get(ip) ?? 1) - 1;
        if (left <= 0) this.#perIp.delete(ip);
        else this.#perIp.set(ip, left);
        this.emit('change', this.#live);
        if (this.#live === 0 && this.#draining) this.emit('idle');
      },
    };
  }

  /**
   * Holds a slot for a call whose stream is expected soon (a pre-warmed upstream session), so
   * pre-warms count toward MAX_CALLS and keep a drain waiting. Refused when full or draining.
   */
  reserve(): Reservation | 'capacity' | 'draining' {
    if (this.#draining) return 'draining';
    if (this.#live >= this.limits.maxCalls) return 'capacity';
    this.#live += 1;
    this.#reserved += 1;
    this.emit('change', this.#live);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.#live -= 1;
        this.#reserved -= 1;
        this.emit('change', this.#live);
        if (this.#live === 0 && this.#draining) this.emit('idle');
      },
    };
  }
}
