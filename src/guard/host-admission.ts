/**
 * A second, host-wide say on admitting a stream, for several workers on one host (WORKERS > 1):
 * each worker's own registry counts only its calls, so MAX_CALLS and MAX_STREAMS_PER_IP would
 * hold per worker, N times over. The primary counts for the host (src/cluster/host-slots.ts) and
 * a worker asks it (src/cluster/worker-registry.ts) after its own registry said yes.
 *
 * One process, no WORKERS: nothing to ask, and installGuard is given none.
 */

/** Why the host refuses: the registry's reasons, counted host-wide. */
export type HostRefusal = 'capacity' | 'ip_cap' | 'call_live';

export type HostAdmission =
  | { readonly ok: true; /** Idempotent. */ release(): void }
  | { readonly ok: false; readonly reason: HostRefusal };

export interface HostAdmissions {
  /** A host-wide stream slot for `callSid` from `ip`, held until `release()`. */
  acquire(ip: string, callSid: string): Promise<HostAdmission>;
}

/** The answer a refusal gets: the same status and reason as the worker's own registry gives. */
export const HOST_REFUSAL_ANSWERS = {
  capacity: { status: 503, reason: 'capacity' },
  ip_cap: { status: 429, reason: 'ip_cap' },
  call_live: { status: 409, reason: 'call_live' },
} as const satisfies Record<HostRefusal, { status: number; reason: HostRefusal }>;
