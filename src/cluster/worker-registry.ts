/**
 * A worker's call registry (WORKERS > 1): the ordinary one for this process's calls (drain,
 * /readyz, one stream per call here), plus the host's say (host-slots.ts in the primary):
 * - `acquire` asks the primary for a host-wide slot once this registry has given its own
 *   (guard/install.ts calls it for each admitted stream);
 * - webhooks and pre-warms see the host's live count, which the primary tells every worker after
 *   each change, so a full host answers "busy" in words rather than with a stream it must refuse.
 *
 * When the primary does not answer within HOST_SLOT_DEADLINE_MS (or is gone), the stream is
 * admitted on this worker's own limits: a call is not refused because the primary is slow, at
 * the cost of the host-wide bound while that lasts (each worker still holds MAX_CALLS). The
 * outage is logged once and its end once; each such admission counts in
 * guard_store_errors_total{op="host_slot"}. A slot granted after its deadline is handed back.
 */
import type { Logger } from 'pino';
import { CallRegistry, type RegistryLimits, type Reservation, type Unavailable } from '../call-registry.js';
import type { HostAdmission, HostAdmissions } from '../guard/host-admission.js';
import type { Metrics } from '../metrics.js';
import type { Channel } from './channel.js';
import { HOST_LIVE_NOTE, RESERVATIONS_NOTE, SLOT_RELEASE, SLOT_REQUEST } from './host-slots.js';

/** Longest wait for the primary's answer to a slot request, ms. Normally well under 1 ms. @default 250 */
export const HOST_SLOT_DEADLINE_MS = 250;

export interface WorkerRegistryOptions {
  readonly channel: Channel;
  readonly log: Pick<Logger, 'warn' | 'info'>;
  readonly metrics?: Pick<Metrics, 'guardStoreErrors'>;
  /** @default HOST_SLOT_DEADLINE_MS */
  readonly deadlineMs?: number;
}

const ADMITTED_LOCALLY: HostAdmission = { ok: true, release: () => undefined };

export class WorkerRegistry extends CallRegistry implements HostAdmissions {
  readonly #maxCalls: number;
  readonly #opts: WorkerRegistryOptions;
  /** The host's streams and reservations as the primary last told (0 until it does). */
  #hostLive = 0;
  /** The primary failed to answer and has not answered since (logged once). */
  #degraded = false;

  constructor(limits: RegistryLimits, opts: WorkerRegistryOptions) {
    super(limits);
    this.#maxCalls = limits.maxCalls;
    this.#opts = opts;
    opts.channel.onNote(HOST_LIVE_NOTE, (live) => {
      if (typeof live === 'number' && Number.isFinite(live)) this.#hostLive = live;
    });
  }

  get hostLive(): number {
    return this.#hostLive;
  }

  override canServeNewCall(): Unavailable | null {
    return super.canServeNewCall() ?? (this.#hostLive >= this.#maxCalls ? 'capacity' : null);
  }

  override reserve(): Reservation | 'capacity' | 'draining' {
    const local = super.reserve();
    if (typeof local !== 'object') return local;
    if (this.#hostLive >= this.#maxCalls) {
      local.release();
      return 'capacity';
    }
    this.#tellReservations();
    return {
      release: () => {
        local.release();
        this.#tellReservations();
      },
    };
  }

  async acquire(ip: string, callSid: string): Promise<HostAdmission> {
    const { channel } = this.#opts;
    if (!channel.connected) return this.#admitLocally('the primary process is gone');
    const deadlineMs = this.#opts.deadlineMs ?? HOST_SLOT_DEADLINE_MS;
    const asked = channel.request(SLOT_REQUEST, { ip, callSid });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)));
    let answer: unknown;
    try {
      answer = await Promise.race([asked, late]);
    } catch (err) {
      return this.#admitLocally(err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
    if (answer === 'late') {
      asked.then((granted) => this.#handBack(granted), () => undefined);
      return this.#admitLocally(`no answer within ${deadlineMs} ms`);
    }
    const { slot, refused } = (answer ?? {}) as { slot?: unknown; refused?: unknown };
    if (refused === 'capacity' || refused === 'ip_cap' || refused === 'call_live') {
      this.#recovered();
      return { ok: false, reason: refused };
    }
    if (typeof slot !== 'number') return this.#admitLocally(`malformed answer ${JSON.stringify(answer)}`);
    this.#recovered();
    let held = true;
    return {
      ok: true,
      release: () => {
        if (!held) return;
        held = false;
        channel.note(SLOT_RELEASE, slot);
      },
    };
  }

  #tellReservations(): void {
    this.#opts.channel.note(RESERVATIONS_NOTE, this.reserved);
  }

  #handBack(granted: unknown): void {
    const slot = (granted as { slot?: unknown } | null)?.slot;
    if (typeof slot === 'number') this.#opts.channel.note(SLOT_RELEASE, slot);
  }

  #admitLocally(reason: string): HostAdmission {
    this.#opts.metrics?.guardStoreErrors.labels('host_slot').inc();
    if (!this.#degraded) {
      this.#degraded = true;
      this.#opts.log.warn({ reason }, "host-wide call slots unavailable: admitting streams on this worker's own limits until the primary answers");
    }
    return ADMITTED_LOCALLY;
  }

  #recovered(): void {
    if (!this.#degraded) return;
    this.#degraded = false;
    this.#opts.log.info('host-wide call slots answer again');
  }
}
