/**
 * The in-memory guard store: the default, and the fallback while Redis is unreachable.
 *
 * Bounded. Records live in one Map kept in least-recently-used order (every touch re-inserts).
 * Stale records (ones that decide exactly like "never seen") are dropped as they reach the old
 * end, a few per write, so no timer runs. When a flood of distinct addresses fills `maxEntries`
 * anyway, the least recently seen record is dropped: that address forgets its budget and ban
 * (fail open for one quiet address) rather than the guard refusing everyone or growing without
 * bound. Used-token marks have their own cap and drop the one expiring soonest.
 */
import {
  agentStaleAt,
  decideAttempt,
  decideHit,
  decidePenalty,
  ipStaleAt,
  type AgentRecord,
  type GateVerdict,
  type IpRecord,
} from './decide.js';
import type { GuardLimits } from './limits.js';
import type { BanVerdict } from './penalty.js';
import type { GuardStore, ImmediateDecisions } from './store.js';

export interface MemoryStoreOptions {
  /** Most records of each kind (IPs; user-agent + IP pairs) held; about 0.3 KiB each. @default 50_000 */
  readonly maxEntries?: number;
  /** Most used-token marks held (one per admitted stream within the token TTL). @default 100_000 */
  readonly maxTokens?: number;
}

/** Stale records examined per write: enough to keep pace with inserts, at O(1) cost. */
const SWEEP_PER_WRITE = 2;

interface Entry<R> {
  record: R;
  staleAt: number;
}

export class MemoryStore implements GuardStore, ImmediateDecisions {
  readonly #limits: GuardLimits;
  readonly #maxEntries: number;
  readonly #maxTokens: number;
  readonly #ips = new Map<string, Entry<IpRecord>>();
  readonly #agents = new Map<string, Entry<AgentRecord>>();
  /** Token id → expiry (ms), in claim order. */
  readonly #tokens = new Map<string, number>();
  /** CallSid → lease end (ms) of calls streaming (bounded by the tokens' cap: one per admitted stream). */
  readonly #calls = new Map<string, number>();
  #evicted = 0;

  constructor(limits: GuardLimits, opts: MemoryStoreOptions = {}) {
    this.#limits = limits;
    this.#maxEntries = Math.max(1, opts.maxEntries ?? 50_000);
    this.#maxTokens = Math.max(1, opts.maxTokens ?? 100_000);
  }

  /** Records held (IPs + user-agent pairs). */
  get size(): number {
    return this.#ips.size + this.#agents.size;
  }

  get tokenCount(): number {
    return this.#tokens.size;
  }

  /** Live (not stale) records and token marks dropped because a cap was reached. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Synchronous core, also used by the resilient store's fallback path. */
  hitSync(ip: string, now: number): GateVerdict {
    const { verdict, nextState } = decideHit(this.#get(this.#ips, ip, now), now, this.#limits);
    this.#put(this.#ips, ip, nextState, ipStaleAt(nextState, this.#limits), now);
    return verdict;
  }

  attemptSync(ip: string, agent: string, now: number, penalize: boolean): GateVerdict {
    const { verdict, nextState } = decideAttempt(
      this.#get(this.#ips, ip, now),
      this.#get(this.#agents, agent, now),
      now,
      this.#limits,
      penalize,
    );
    this.#put(this.#ips, ip, nextState.ip, ipStaleAt(nextState.ip, this.#limits), now);
    this.#put(this.#agents, agent, nextState.agent, agentStaleAt(nextState.agent, this.#limits), now);
    return verdict;
  }

  /** Everything in memory is decided at once. */
  attemptNow(ip: string, agent: string, now: number, penalize: boolean): GateVerdict {
    return this.attemptSync(ip, agent, now, penalize);
  }

  /** Whether `ip` is under a ban at `now`. A look only: no state changes, no LRU touch. */
  banned(ip: string, now: number): boolean {
    const until = this.#get(this.#ips, ip, now).penalty?.until;
    return until !== undefined && until > now;
  }

  penalizeSync(ip: string, now: number): BanVerdict {
    const { verdict, nextState } = decidePenalty(this.#get(this.#ips, ip, now), now, this.#limits);
    this.#put(this.#ips, ip, nextState, ipStaleAt(nextState, this.#limits), now);
    return verdict;
  }

  /**
   * Records a ban decided elsewhere (by Redis, while it answered), so this instance keeps
   * refusing the address during an outage. Only ever lengthens what is held.
   */
  rememberBan(ip: string, ban: BanVerdict, now: number): void {
    const record = this.#get(this.#ips, ip, now);
    if (ban.until <= now || (record.penalty !== undefined && record.penalty.until >= ban.until)) return;
    const penalty = { until: ban.until, strikes: Math.max(1, ban.strikes), label: ban.label };
    const next: IpRecord = { ...record, penalty };
    this.#put(this.#ips, ip, next, ipStaleAt(next, this.#limits), now);
  }

  claimTokenSync(id: string, expiresAtMs: number, now: number): boolean {
    const held = this.#tokens.get(id);
    if (held !== undefined && held > now) return false;
    this.#tokens.delete(id);
    this.#tokens.set(id, expiresAtMs);
    this.#sweepTokens(now);
    return true;
  }

  claimCallSync(callSid: string, untilMs: number, now: number): boolean {
    const held = this.#calls.get(callSid);
    if (held !== undefined && held > now) return false;
    this.#calls.delete(callSid);
    this.#calls.set(callSid, untilMs);
    // Leases are released when streams end; this only drops what a lost release left behind.
    let looked = 0;
    for (const [sid, until] of this.#calls) {
      if (looked++ >= SWEEP_PER_WRITE) break;
      if (until <= now) this.#calls.delete(sid);
    }
    if (this.#calls.size > this.#maxTokens) {
      const oldest = this.#calls.keys().next();
      if (oldest.done !== true) this.#calls.delete(oldest.value);
    }
    return true;
  }

  releaseCallSync(callSid: string): void {
    this.#calls.delete(callSid);
  }

  hit(ip: string, now: number): Promise<GateVerdict> {
    return Promise.resolve(this.hitSync(ip, now));
  }

  attempt(ip: string, agent: string, now: number, penalize: boolean): Promise<GateVerdict> {
    return Promise.resolve(this.attemptSync(ip, agent, now, penalize));
  }

  penalize(ip: string, now: number): Promise<BanVerdict> {
    return Promise.resolve(this.penalizeSync(ip, now));
  }

  claimToken(id: string, expiresAtMs: number, now: number): Promise<boolean> {
    return Promise.resolve(this.claimTokenSync(id, expiresAtMs, now));
  }

  claimCall(callSid: string, untilMs: number, now: number): Promise<boolean> {
    return Promise.resolve(this.claimCallSync(callSid, untilMs, now));
  }

  releaseCall(callSid: string): Promise<void> {
    this.releaseCallSync(callSid);
    return Promise.resolve();
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#ips.clear();
    this.#agents.clear();
    this.#tokens.clear();
    this.#calls.clear();
    return Promise.resolve();
  }

  #get<R extends object>(map: Map<string, Entry<R>>, key: string, now: number): R {
    const entry = map.get(key);
    if (entry === undefined || entry.staleAt <= now) return {} as R;
    return entry.record;
  }

  #put<R>(map: Map<string, Entry<R>>, key: string, record: R, staleAt: number, now: number): void {
    // Re-insert so Map order is least-recently-used first.
    map.delete(key);
    if (staleAt > now) map.set(key, { record, staleAt });
    this.#sweep(map, now);
  }

  #sweep<R>(map: Map<string, Entry<R>>, now: number): void {
    let looked = 0;
    for (const [key, entry] of map) {
      if (looked++ >= SWEEP_PER_WRITE) break;
      if (entry.staleAt <= now) map.delete(key);
    }
    // Over the cap: drop the least recently used (one per write, as one write adds at most one).
    while (map.size > this.#maxEntries) {
      const victim = map.keys().next();
      if (victim.done === true) break;
      map.delete(victim.value);
      this.#evicted += 1;
    }
  }

  #sweepTokens(now: number): void {
    let looked = 0;
    for (const [id, expiresAt] of this.#tokens) {
      if (looked++ >= SWEEP_PER_WRITE) break;
      if (expiresAt <= now) this.#tokens.delete(id);
    }
    if (this.#tokens.size <= this.#maxTokens) return;
    // Tokens share one TTL, so claim order is nearly expiry order: the oldest claim expires soonest.
    const oldest = this.#tokens.keys().next();
    if (oldest.done !== true) {
      this.#tokens.delete(oldest.value);
      this.#evicted += 1;
    }
  }
}
