/**
 * Where the guard keeps its state: one interface, held in memory (memory-store.ts) or in Redis
 * (redis-store.ts) so several instances share one view, wrapped by resilient-store.ts so every
 * call finishes within a deadline.
 *
 * Each operation is one atomic read-modify-write of the records named, deciding with the pure
 * functions of decide.ts. `now` (ms, an integer) comes from the caller so tests control time and
 * every instance judges with its own clock.
 */
import type { GateVerdict } from './decide.js';
import type { BanVerdict } from './penalty.js';

export type { GateVerdict, RefusalLabel } from './decide.js';
export type { BanVerdict } from './penalty.js';

export type StoreOp = 'hit' | 'attempt' | 'penalize' | 'claim' | 'claim_call' | 'release_call' | 'ping' | 'connect';

export interface GuardStore {
  /** A request without credentials on any route: ban check, then the flood rule. */
  hit(ip: string, now: number): Promise<GateVerdict>;
  /**
   * An anonymous upgrade attempt from `ip` with user-agent key `agent` (see `agentKey`): ban,
   * flood, the per-IP and per-agent budgets, then, if `penalize` and it passed, a cooldown.
   */
  attempt(ip: string, agent: string, now: number, penalize: boolean): Promise<GateVerdict>;
  /** A credential from `ip` was rejected after the guard let the request through. */
  penalize(ip: string, now: number): Promise<BanVerdict>;
  /**
   * Marks single-use token `id` as used until `expiresAtMs`; true only for the first claim.
   * (After expiry the token itself is refused, so the mark can go.)
   */
  claimToken(id: string, expiresAtMs: number, now: number): Promise<boolean>;
  /**
   * Marks `callSid` as streaming until `untilMs` (a lease, ended early by `releaseCall`); true
   * only when no live lease holds it: one stream per call across every instance sharing the store.
   */
  claimCall(callSid: string, untilMs: number, now: number): Promise<boolean>;
  /** The call's stream ended: its lease goes. */
  releaseCall(callSid: string): Promise<void>;
  /** Resolves when the store answers; used to probe a recovering backend. */
  ping(): Promise<void>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * What a store can decide at once, without I/O: in memory, everything; in front of Redis, an
 * address with a ban known locally (bans never shorten, so a ban seen once holds until its end),
 * or anything while the backend is down. The guard's fast lane answers from this.
 */
export interface ImmediateDecisions {
  /**
   * `attempt`, when it can be decided now: the verdict, already applied to the state as
   * `attempt` would; undefined when only the backend can tell (then call `attempt`).
   */
  attemptNow(ip: string, agent: string, now: number, penalize: boolean): GateVerdict | undefined;
}
