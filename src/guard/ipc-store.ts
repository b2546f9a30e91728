/**
 * The guard store of a worker (WORKERS > 1, no REDIS_URL): the primary process holds the one
 * MemoryStore every worker decides with (primary-store.ts answers), and this asks it over IPC.
 *
 * Why the primary and not a share per worker: a budget divided by N would refuse honest clients
 * early whenever the workers' load is uneven, and a budget per worker gives an attacker N times
 * the budget and a token N uses. One store keeps every decision exactly as in one process.
 *
 * installGuard wraps this like Redis (resilient-store.ts): each call has a 50 ms deadline and
 * falls back to the worker's own memory while the primary does not answer, so a stalled primary
 * costs a deadline, never a hung request; bans and used tokens the primary reported are kept in
 * the worker's memory meanwhile. The answers are parsed, not trusted: a malformed one is an error,
 * and errors go to that fallback.
 */
import type { Channel } from '../cluster/channel.js';
import type { GateVerdict, RefusalLabel } from './decide.js';
import type { BanVerdict } from './penalty.js';
import type { Backend } from './resilient-store.js';
import type { StoreOp } from './store.js';

/** The request kind primary-store.ts answers. */
export const GUARD_REQUEST = 'guard';

/** What travels: the operation and its arguments, in GuardStore's order. */
export interface GuardRequest {
  readonly op: Exclude<StoreOp, 'connect'>;
  readonly args: readonly (string | number | boolean)[];
}

export class IpcStore implements Backend {
  readonly #channel: Channel;
  /** For the outage line: where the store is. */
  readonly endpoint = { store: 'primary process' } as const;

  constructor(channel: Channel) {
    this.#channel = channel;
  }

  get ready(): boolean {
    return this.#channel.connected;
  }

  onConnectionError(listener: (err: Error) => void): void {
    this.#channel.onClose(() => listener(new Error('the primary process is gone')));
  }

  async hit(ip: string, now: number): Promise<GateVerdict> {
    return gateVerdict(await this.#ask({ op: 'hit', args: [ip, now] }));
  }

  async attempt(ip: string, agent: string, now: number, penalize: boolean): Promise<GateVerdict> {
    return gateVerdict(await this.#ask({ op: 'attempt', args: [ip, agent, now, penalize] }));
  }

  async penalize(ip: string, now: number): Promise<BanVerdict> {
    return banVerdict(await this.#ask({ op: 'penalize', args: [ip, now] }));
  }

  async claimToken(id: string, expiresAtMs: number, now: number): Promise<boolean> {
    return bool(await this.#ask({ op: 'claim', args: [id, expiresAtMs, now] }));
  }

  async claimCall(callSid: string, untilMs: number, now: number): Promise<boolean> {
    return bool(await this.#ask({ op: 'claim_call', args: [callSid, untilMs, now] }));
  }

  async releaseCall(callSid: string): Promise<void> {
    await this.#ask({ op: 'release_call', args: [callSid] });
  }

  async ping(): Promise<void> {
    await this.#ask({ op: 'ping', args: [] });
  }

  /** The channel belongs to the worker (cluster/worker.ts), not to the store. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #ask(request: GuardRequest): Promise<unknown> {
    return this.#channel.request(GUARD_REQUEST, request);
  }
}

class ReplyError extends TypeError {
  constructor(reply: unknown) {
    super(`the primary's guard store replied ${JSON.stringify(reply)}`);
  }
}

function bool(reply: unknown): boolean {
  if (typeof reply !== 'boolean') throw new ReplyError(reply);
  return reply;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function banVerdict(reply: unknown): BanVerdict {
  const r = reply as Partial<Record<keyof BanVerdict, unknown>> | null;
  if (typeof r !== 'object' || r === null || typeof r.fresh !== 'boolean' || !isNumber(r.until) || !isNumber(r.strikes)) {
    throw new ReplyError(reply);
  }
  if (r.label !== 'cooldown' && r.label !== 'banned') throw new ReplyError(reply);
  return { fresh: r.fresh, until: r.until, strikes: r.strikes, label: r.label };
}

const REFUSALS: ReadonlySet<unknown> = new Set<RefusalLabel>(['cooldown', 'banned', 'flood', 'rate_limited', 'automated_tool']);

function gateVerdict(reply: unknown): GateVerdict {
  const r = reply as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null) throw new ReplyError(reply);
  const ban = r.ban === undefined ? undefined : banVerdict(r.ban);
  if (r.ok === true) return ban === undefined ? { ok: true } : { ok: true, ban };
  if (r.ok !== false || (r.status !== 403 && r.status !== 429) || !isNumber(r.retryAfterMs)) throw new ReplyError(reply);
  if (!REFUSALS.has(r.reason)) throw new ReplyError(reply);
  const verdict = { ok: false as const, status: r.status as 403 | 429, reason: r.reason as RefusalLabel, retryAfterMs: r.retryAfterMs };
  return ban === undefined ? verdict : { ...verdict, ban };
}
