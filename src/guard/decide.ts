/**
 * The guard's decisions for one IP, composed from the bucket, flood and penalty rules.
 *
 * Each function takes the stored records and `now` and returns the verdict and the records to
 * store. The memory store applies them directly; the Redis store runs their Lua mirror
 * (redis-scripts.ts) so a read-modify-write is atomic across instances. Cheapest check first:
 * a running ban answers before anything is counted.
 */
import { takeToken, fullAt, type BucketState } from './bucket.js';
import { countRequest, floodQuietAt } from './flood.js';
import type { GuardLimits } from './limits.js';
import { activeBan, ban, penaltyQuietAt, type BanVerdict, type PenaltyState } from './penalty.js';

/** Everything the guard remembers about one client IP. */
export interface IpRecord {
  /** Anonymous upgrade attempts (per-IP budget). */
  readonly bucket?: BucketState | undefined;
  /** Requests inside the flood window (every route). */
  readonly flood?: readonly number[] | undefined;
  readonly penalty?: PenaltyState | undefined;
}

/** The budget of one user-agent + IP pair, to label automated tools. */
export interface AgentRecord {
  readonly bucket?: BucketState | undefined;
}

export type RefusalLabel = 'cooldown' | 'banned' | 'flood' | 'rate_limited' | 'automated_tool';

export type GateVerdict =
  | {
      readonly ok: true;
      /** The ban this attempt started (attempts with `penalize`), for logging. */
      readonly ban?: BanVerdict | undefined;
    }
  | {
      readonly ok: false;
      readonly status: 403 | 429;
      readonly reason: RefusalLabel;
      readonly retryAfterMs: number;
      /** Set when this request started the ban (a flood), for logging. */
      readonly ban?: BanVerdict | undefined;
    };

function refusedByBan(penalty: PenaltyState, now: number, automated: boolean): GateVerdict {
  const reason = automated ? 'automated_tool' : penalty.label;
  return { ok: false, status: 403, reason, retryAfterMs: penalty.until - now };
}

/** Ban check, then the flood rule. Shared by every request and every anonymous attempt. */
function gate(
  record: IpRecord,
  now: number,
  limits: GuardLimits,
): { verdict: GateVerdict | undefined; next: IpRecord } {
  const running = activeBan(record.penalty, now);
  if (running) return { verdict: refusedByBan(running, now, false), next: record };
  const counted = countRequest(record.flood, now, limits);
  if (!counted.verdict.flood) return { verdict: undefined, next: { ...record, flood: counted.nextState } };
  const banned = ban(record.penalty, now, 'flood', limits);
  const verdict: GateVerdict = {
    ok: false,
    status: 403,
    reason: 'flood',
    retryAfterMs: banned.verdict.until - now,
    ban: banned.verdict,
  };
  return { verdict, next: { ...record, flood: counted.nextState, penalty: banned.nextState } };
}

/** Any request without credentials, on any route: refused while banned; counted for floods. */
export function decideHit(
  record: IpRecord,
  now: number,
  limits: GuardLimits,
): { verdict: GateVerdict; nextState: IpRecord } {
  const gated = gate(record, now, limits);
  return { verdict: gated.verdict ?? { ok: true }, nextState: gated.next };
}

/**
 * An anonymous upgrade attempt (missing or rejected credential). Every attempt spends from the
 * IP's budget and its user-agent's, even one refused for a ban, so a client that keeps knocking
 * during its cooldown finds its budget empty afterwards, and a tool that bursts alone is labelled
 * `automated_tool`. When it passes, `penalize` starts the cooldown its 401 earns.
 */
export function decideAttempt(
  ip: IpRecord,
  agent: AgentRecord,
  now: number,
  limits: GuardLimits,
  penalize: boolean,
): { verdict: GateVerdict; nextState: { ip: IpRecord; agent: AgentRecord } } {
  const ipTake = takeToken(ip.bucket, now, limits);
  const agentTake = takeToken(agent.bucket, now, limits);
  const automated = !agentTake.verdict.ok;
  const agentNext: AgentRecord = { bucket: agentTake.nextState };
  const running = activeBan(ip.penalty, now);
  if (running) {
    return {
      verdict: refusedByBan(running, now, automated),
      nextState: { ip: { ...ip, bucket: ipTake.nextState }, agent: agentNext },
    };
  }
  const gated = gate({ ...ip, bucket: ipTake.nextState }, now, limits);
  if (gated.verdict) return { verdict: gated.verdict, nextState: { ip: gated.next, agent: agentNext } };
  if (!ipTake.verdict.ok) {
    const verdict: GateVerdict = {
      ok: false,
      status: 429,
      reason: automated ? 'automated_tool' : 'rate_limited',
      retryAfterMs: ipTake.verdict.retryAfterMs,
    };
    return { verdict, nextState: { ip: gated.next, agent: agentNext } };
  }
  if (!penalize) return { verdict: { ok: true }, nextState: { ip: gated.next, agent: agentNext } };
  const banned = ban(gated.next.penalty, now, 'credential', limits);
  return {
    verdict: { ok: true, ban: banned.verdict },
    nextState: { ip: { ...gated.next, penalty: banned.nextState }, agent: agentNext },
  };
}

/** A credential rejected after the request was let through (e.g. a bad webhook signature). */
export function decidePenalty(
  record: IpRecord,
  now: number,
  limits: GuardLimits,
): { verdict: BanVerdict; nextState: IpRecord } {
  const banned = ban(record.penalty, now, 'credential', limits);
  return { verdict: banned.verdict, nextState: { ...record, penalty: banned.nextState } };
}

/** When the record equals "never seen" again and may be dropped, ms. */
export function ipStaleAt(record: IpRecord, limits: GuardLimits): number {
  let at = -Infinity;
  if (record.bucket) at = Math.max(at, fullAt(record.bucket, limits));
  if (record.flood && record.flood.length > 0) at = Math.max(at, floodQuietAt(record.flood, limits));
  if (record.penalty) at = Math.max(at, penaltyQuietAt(record.penalty, limits));
  return at;
}

export function agentStaleAt(record: AgentRecord, limits: GuardLimits): number {
  return record.bucket ? fullAt(record.bucket, limits) : -Infinity;
}
