/**
 * Makes a guard store safe to await in a request hook: every call answers within `deadlineMs`,
 * from memory when the backend (Redis) fails or is slow, so a socket never hangs on the guard.
 *
 * A small circuit breaker keeps an outage cheap: after a failure the backend is skipped, except
 * for one probe per `probeIntervalMs`, so a Redis that hangs costs one deadline per interval
 * rather than one per request, and ioredis's pending-command queue cannot grow with the flood.
 * The outage is logged once (warn) and its recovery once (info); every failed call is counted
 * in `guardStoreErrors{op}`. Recovery needs no restart: ioredis reconnects by itself and the
 * next probe closes the breaker.
 *
 * While the backend answers, used tokens and bans it reports are also written to memory, so
 * during an outage this instance still refuses replays and addresses it has seen banned.
 *
 * Those bans also spare the backend: bans never shorten, so an address with a ban held in memory
 * is refused from memory until the ban ends, without a round trip (`attemptNow`, and `hit` and
 * `attempt` check it first). During a flood from banned addresses that is every request. The
 * cost: attempts refused this way spend the budgets held here, not the shared ones, so after the
 * ban a persistent client may find its shared budget fuller than if every knock had been
 * counted there (it then earns a 401 and a longer ban instead of a 429). The memory store's cap
 * bounds what is held; an address it drops is asked about again.
 */
import { withDeadline } from '../deadline.js';
import { systemClock } from '../clock.js';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics.js';
import type { GateVerdict } from './decide.js';
import type { MemoryStore } from './memory-store.js';
import type { BanVerdict } from './penalty.js';
import type { GuardStore, ImmediateDecisions, StoreOp } from './store.js';

export type GuardLog = Pick<FastifyBaseLogger, 'warn' | 'info' | 'debug'>;

export interface ResilientStoreOptions {
  /** Longest wait for the backend per call, ms. @default 50 */
  readonly deadlineMs?: number;
  /** While the backend is failing, how often one call may try it again, ms. @default 1_000 */
  readonly probeIntervalMs?: number;
  readonly log: GuardLog;
  readonly metrics?: Pick<Metrics, 'guardStoreErrors'> | undefined;
  /** Monotonic clock, ms (probe interval). @default systemClock.mono */
  readonly mono?: () => number;
}

/** A backend that can say it is disconnected without being asked (ioredis status and events). */
export type Backend = GuardStore & {
  readonly ready?: boolean;
  /** Where it is, for the outage line (host and port, never a password). */
  readonly endpoint?: Readonly<Record<string, string | number | undefined>>;
  onConnectionError?(listener: (err: Error) => void): void;
  onReady?(listener: () => void): void;
};

export class ResilientStore implements GuardStore, ImmediateDecisions {
  readonly #primary: Backend;
  readonly #memory: MemoryStore;
  readonly #deadlineMs: number;
  readonly #probeIntervalMs: number;
  readonly #log: GuardLog;
  readonly #metrics: Pick<Metrics, 'guardStoreErrors'> | undefined;
  /** Breaker open: the backend failed and has not answered since. */
  #open = false;
  /** Monotonic ms of the last try while open (I/O timing, so not the decision clock). */
  #lastTry = 0;
  #probing = false;
  readonly #mono: () => number;

  constructor(primary: Backend, memory: MemoryStore, opts: ResilientStoreOptions) {
    this.#primary = primary;
    this.#memory = memory;
    this.#deadlineMs = opts.deadlineMs ?? 50;
    this.#probeIntervalMs = opts.probeIntervalMs ?? 1_000;
    this.#log = opts.log;
    this.#metrics = opts.metrics;
    this.#mono = opts.mono ?? systemClock.mono;
    // A backend that cannot connect is reported now, with its address and cause, instead of at
    // the first request as "Stream isn't writeable"; requests then go to memory at once.
    primary.onConnectionError?.((err) => this.#failed('connect', err));
    primary.onReady?.(() => this.#recovered());
  }

  /**
   * The backend is connected and answering. Reading it (as /readyz does) also probes a failed
   * backend, at most once per probe interval, so readiness recovers even with no traffic.
   */
  get healthy(): boolean {
    // Not awaited, and it cannot reject: #run answers every backend failure with the fallback,
    // and this fallback is a constant.
    if (this.#open && this.#tryDue()) void this.#run('ping', () => this.#primary.ping(), () => undefined);
    return !this.#open && this.#primary.ready !== false;
  }

  /** From memory when the answer is there: a ban held for `ip`, or a backend that is down and not due a probe. */
  attemptNow(ip: string, agent: string, now: number, penalize: boolean): GateVerdict | undefined {
    if (this.#memory.banned(ip, now) || (this.#open && !this.#tryDue())) {
      return this.#memory.attemptSync(ip, agent, now, penalize);
    }
    return undefined;
  }

  hit(ip: string, now: number): Promise<GateVerdict> {
    if (this.#memory.banned(ip, now)) return Promise.resolve(this.#memory.hitSync(ip, now));
    return this.#run(
      'hit',
      () => this.#primary.hit(ip, now),
      () => this.#memory.hitSync(ip, now),
      (v) => this.#remember(ip, v, now),
    );
  }

  attempt(ip: string, agent: string, now: number, penalize: boolean): Promise<GateVerdict> {
    const known = this.attemptNow(ip, agent, now, penalize);
    if (known !== undefined) return Promise.resolve(known);
    return this.#run(
      'attempt',
      () => this.#primary.attempt(ip, agent, now, penalize),
      () => this.#memory.attemptSync(ip, agent, now, penalize),
      (v) => this.#remember(ip, v, now),
    );
  }

  penalize(ip: string, now: number): Promise<BanVerdict> {
    return this.#run(
      'penalize',
      () => this.#primary.penalize(ip, now),
      () => this.#memory.penalizeSync(ip, now),
      (v) => this.#memory.rememberBan(ip, v, now),
    );
  }

  claimToken(id: string, expiresAtMs: number, now: number): Promise<boolean> {
    return this.#run(
      'claim',
      () => this.#primary.claimToken(id, expiresAtMs, now),
      () => this.#memory.claimTokenSync(id, expiresAtMs, now),
      (first) => {
        if (first) this.#memory.claimTokenSync(id, expiresAtMs, now);
      },
    );
  }

  /**
   * Shared when the backend answers (and mirrored in memory, which then also holds it); from
   * memory otherwise, so during an outage one stream per call still holds on this instance.
   */
  claimCall(callSid: string, untilMs: number, now: number): Promise<boolean> {
    return this.#run(
      'claim_call',
      () => this.#primary.claimCall(callSid, untilMs, now),
      () => this.#memory.claimCallSync(callSid, untilMs, now),
      (first) => {
        if (first) this.#memory.claimCallSync(callSid, untilMs, now);
      },
    );
  }

  /** Both copies go; a backend that misses it leaves a lease that runs out at its end. */
  async releaseCall(callSid: string): Promise<void> {
    this.#memory.releaseCallSync(callSid);
    await this.#run('release_call', () => this.#primary.releaseCall(callSid), () => undefined);
  }

  ping(): Promise<void> {
    return this.#run('ping', () => this.#primary.ping(), () => undefined);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#primary.close(), this.#memory.close()]);
  }

  #tryDue(): boolean {
    return !this.#probing && this.#mono() - this.#lastTry >= this.#probeIntervalMs;
  }

  async #run<T>(op: StoreOp, primary: () => Promise<T>, fallback: () => T, mirror?: (result: T) => void): Promise<T> {
    if (this.#open) {
      if (!this.#tryDue()) return fallback();
      this.#probing = true;
      this.#lastTry = this.#mono();
    }
    try {
      const result = await withDeadline(primary(), this.#deadlineMs, 'guard store');
      this.#recovered();
      mirror?.(result);
      return result;
    } catch (err) {
      this.#failed(op, err);
      return fallback();
    } finally {
      this.#probing = false;
    }
  }

  #failed(op: StoreOp, err: unknown): void {
    this.#metrics?.guardStoreErrors.labels(op).inc();
    if (this.#open) return;
    this.#open = true;
    this.#lastTry = this.#mono();
    const reason = err instanceof Error ? err.message : String(err);
    this.#log.warn({ op, ...this.#primary.endpoint, reason }, 'guard store unavailable: deciding from memory until it recovers');
  }

  #recovered(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#log.info('guard store recovered: shared decisions again');
  }

  /** Keeps a ban the backend reported, for use during a later outage. */
  #remember(ip: string, verdict: GateVerdict, now: number): void {
    if (verdict.ok) {
      if (verdict.ban?.fresh === true) this.#memory.rememberBan(ip, verdict.ban, now);
      return;
    }
    if (verdict.status !== 403) return;
    const ban: BanVerdict = verdict.ban ?? {
      until: now + verdict.retryAfterMs,
      strikes: 1,
      label: verdict.reason === 'cooldown' ? 'cooldown' : 'banned',
      fresh: false,
    };
    this.#memory.rememberBan(ip, ban, now);
  }
}
