/**
 * The in-memory guard store: the default, and the fallback while Redis is unreachable.
 *
 * Bounded. Records live in an LRU (src/lru.ts: every write makes a record the most recent).
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
import { Lru } from '../lru.js';
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
  readonly #ips: Lru<string, Entry<IpRecord>>;
  readonly #agents: Lru<string, Entry<AgentRecord>>;
  /** Token id → expiry (ms), in claim order. */
  readonly #tokens: Lru<string, number>;
  /** CallSid → lease end (ms) of calls streaming (bounded by the tokens' cap: one per admitted stream). */
  readonly #calls: Lru<string, number>;
  #evicted = 0;

  constructor(limits: GuardLimits, opts: MemoryStoreOptions = {}) {
    this.#limits = limits;
    const maxEntries = opts.maxEntries ?? 50_000;
    const maxTokens = opts.maxTokens ?? 100_000;
    this.#ips = new Lru(maxEntries);
    this.#agents = new Lru(maxEntries);
    this.#tokens = new Lru(maxTokens);
    this.#calls = new Lru(maxTokens);
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
    const held = this.#tokens.peek(id);
    if (held !== undefined && held > now) return false;
    this.#tokens.dropStale(SWEEP_PER_WRITE, (expiresAt) => expiresAt <= now);
    // Tokens share one TTL, so claim order is nearly expiry order: the oldest claim expires soonest.
    this.#evicted += this.#tokens.set(id, expiresAtMs);
    return true;
  }

  claimCallSync(callSid: string, untilMs: number, now: number): boolean {
    const held = this.#calls.peek(callSid);
    if (held !== undefined && held > now) return false;
    // Leases are released when streams end; this only drops what a lost release left behind.
    this.#calls.dropStale(SWEEP_PER_WRITE, (until) => until <= now);
    this.#calls.set(callSid, untilMs);
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

  #get<R extends object>(lru: Lru<string, Entry<R>>, key: string, now: number): R {
    const entry = lru.peek(key);
    if (entry === undefined || entry.staleAt <= now) return {} as R;
    return entry.record;
  }

  /**
   * Stores a record as the most recent, after dropping stale ones from the old end; over the cap
   * the least recently used live record goes (one per write, as one write adds at most one).
   */
  #put<R>(lru: Lru<string, Entry<R>>, key: string, record: R, staleAt: number, now: number): void {
    lru.dropStale(SWEEP_PER_WRITE, (entry) => entry.staleAt <= now);
    if (staleAt > now) this.#evicted += lru.set(key, { record, staleAt });
    else lru.delete(key);
  }
}
