/**
 * The host's call slots (WORKERS > 1), held by the primary: MAX_CALLS and MAX_STREAMS_PER_IP
 * for every worker together, and one stream per CallSid on the host.
 *
 * Why the primary hands out slots (rather than each worker taking MAX_CALLS ÷ N): the primary
 * sends connections round robin, but calls last minutes to an hour, so one worker can be full
 * while another is half empty; a quota per worker would refuse calls the host has room for. A
 * worker asks here after its own registry said yes (guard/install.ts, one IPC round trip per
 * admitted stream, nothing per message) and tells us when the stream's socket closes.
 *
 * Pre-warm reservations (PREWARM=on with WORKERS > 1) are told, not asked: a worker counts its
 * own and says so, and the host's count includes them. They never block a stream (as in one
 * process: the registry leaves reservations out of a stream's admission), so a count a moment
 * late changes only whether a webhook says "busy".
 *
 * A worker that exits takes its slots with it: `releaseWorker` frees them and names the calls
 * that ended, for the primary's log line.
 */
import { CallRegistry, type RegistryLimits, type Slot } from '../call-registry.js';
import type { HostRefusal } from '../guard/host-admission.js';
import type { Channel } from './channel.js';

export const SLOT_REQUEST = 'slot';
export const SLOT_RELEASE = 'slot_release';
export const RESERVATIONS_NOTE = 'reservations';
/** Primary → workers: the host's live count (streams + reservations), after each change. */
export const HOST_LIVE_NOTE = 'host_live';

export type SlotAnswer = { readonly slot: number } | { readonly refused: HostRefusal };

/** A call a worker held when it exited. */
export interface EndedCall {
  readonly callSid: string;
  /** How long it had been admitted, ms. */
  readonly heldMs: number;
}

interface Held {
  readonly worker: number;
  readonly slot: Slot;
  readonly callSid: string;
  readonly since: number;
}

export class HostSlots {
  readonly #registry: CallRegistry;
  readonly #maxCalls: number;
  readonly #held = new Map<number, Held>();
  /** Worker → its pre-warm reservations, as it last told. */
  readonly #reservations = new Map<number, number>();
  readonly #now: () => number;
  #nextSlot = 1;
  #changed: ((live: number) => void) | undefined;

  constructor(limits: RegistryLimits, now: () => number) {
    this.#registry = new CallRegistry(limits);
    this.#maxCalls = limits.maxCalls;
    this.#now = now;
  }

  /** Streams admitted host-wide plus pre-warm reservations. */
  get live(): number {
    let reserved = 0;
    for (const n of this.#reservations.values()) reserved += n;
    return this.#registry.live + reserved;
  }

  get streams(): number {
    return this.#registry.live;
  }

  /** Streams held by each worker that holds any. */
  streamsByWorker(): Map<number, number> {
    const out = new Map<number, number>();
    for (const held of this.#held.values()) out.set(held.worker, (out.get(held.worker) ?? 0) + 1);
    return out;
  }

  /** Told after every change (the primary tells the workers). */
  onChange(listener: (live: number) => void): void {
    this.#changed = listener;
  }

  acquire(worker: number, ip: string, callSid: string): SlotAnswer {
    const slot = this.#registry.tryAcquire(ip, callSid);
    if (typeof slot !== 'object') return { refused: slot };
    const id = this.#nextSlot++;
    this.#held.set(id, { worker, slot, callSid, since: this.#now() });
    this.#changed?.(this.live);
    return { slot: id };
  }

  /** A worker's stream ended. Only the worker that holds a slot can free it. */
  release(worker: number, id: number): void {
    const held = this.#held.get(id);
    if (held === undefined || held.worker !== worker) return;
    this.#held.delete(id);
    held.slot.release();
    this.#changed?.(this.live);
  }

  /** A worker's pre-warm reservations now number `count` (at most MAX_CALLS: its registry's bound). */
  setReservations(worker: number, count: number): void {
    const bounded = Math.max(0, Math.min(this.#maxCalls, Math.floor(count)));
    if (bounded === 0) this.#reservations.delete(worker);
    else this.#reservations.set(worker, bounded);
    this.#changed?.(this.live);
  }

  /** The worker exited: its slots and reservations go; returns the calls it was carrying. */
  releaseWorker(worker: number): EndedCall[] {
    const now = this.#now();
    const ended: EndedCall[] = [];
    for (const [id, held] of this.#held) {
      if (held.worker !== worker) continue;
      this.#held.delete(id);
      held.slot.release();
      ended.push({ callSid: held.callSid, heldMs: Math.round(now - held.since) });
    }
    this.#reservations.delete(worker);
    this.#changed?.(this.live);
    return ended;
  }

  /** Answers `channel`'s slot requests and notes, for worker `worker`. */
  serve(channel: Channel, worker: number): void {
    channel.handle(SLOT_REQUEST, (body) => {
      const { ip, callSid } = (body ?? {}) as { ip?: unknown; callSid?: unknown };
      if (typeof ip !== 'string' || typeof callSid !== 'string' || ip.length > 256 || callSid.length > 256) {
        throw new TypeError('slot request needs an ip and a callSid');
      }
      return this.acquire(worker, ip, callSid);
    });
    channel.onNote(SLOT_RELEASE, (body) => {
      if (typeof body === 'number') this.release(worker, body);
    });
    channel.onNote(RESERVATIONS_NOTE, (body) => {
      if (typeof body === 'number' && Number.isFinite(body)) this.setReservations(worker, body);
    });
  }
}
