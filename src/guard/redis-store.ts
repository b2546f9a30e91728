/**
 * The Redis guard store: several instances behind one load balancer share bans, budgets and
 * used tokens.
 *
 * Every read-modify-write is one Lua script (redis-scripts.ts, loaded with ioredis
 * `defineCommand`, so EVALSHA with an automatic EVAL fallback), atomic across instances. Why Lua
 * and not rate-limiter-flexible: the guard's rule set (ban check, exact flood window, budgets per
 * IP and per user-agent, escalation that never shortens a ban) is one decision per request; as
 * library limiters it would take several round trips with races between them, and the library
 * adds a dependency for what is ~150 lines of mirrored logic that a differential test pins down.
 *
 * Single-use tokens are `SET key 1 PX ttl NX`; so are live-call leases (one stream per CallSid),
 * which `releaseCall` deletes when the stream ends.
 *
 * Failing fast is this class's job; answering anyway is resilient-store.ts's: with the offline
 * queue off, a command while disconnected rejects at once instead of queueing, and ioredis keeps
 * reconnecting on its own (no restart needed).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { GateVerdict } from './decide.js';
import type { GuardLimits } from './limits.js';
import type { BanVerdict } from './penalty.js';
import { ATTEMPT_LUA, HIT_LUA, PENALIZE_LUA, REASON_CODES } from './redis-scripts.js';
import type { GuardStore } from './store.js';

export interface RedisStoreOptions {
  /** Prepended to every key, so deployments (and test runs) sharing a Redis stay apart. @default 'vb:guard:' */
  readonly keyPrefix?: string;
  /**
   * Shortest key TTL, ms: records live until they turn stale (equal to "never seen"), but at
   * least this long. Longer changes no decision; it only spares Redis expiring keys every few
   * ms. @default 1_000
   */
  readonly minTtlMs?: number;
  /** Extra ioredis options (tests shorten the reconnect delay). */
  readonly redis?: RedisOptions;
}

type Reply = number[];

interface GuardCommands {
  vbGuardHit(key: string, ...argv: string[]): Promise<Reply>;
  vbGuardAttempt(key: string, agentKey: string, ...argv: string[]): Promise<Reply>;
  vbGuardPenalize(key: string, ...argv: string[]): Promise<Reply>;
}

/** Reconnect delay: 100 ms, growing to at most 2 s, so recovery is quick and a dead Redis costs little. */
const reconnectDelayMs = (attempt: number): number => Math.min(attempt * 100, 2_000);

export class RedisStore implements GuardStore {
  readonly redis: Redis;
  readonly #prefix: string;
  readonly #argv: readonly string[];
  readonly #commands: GuardCommands;
  #closed = false;
  readonly #errorListeners = new Set<(err: Error) => void>();
  readonly #readyListeners = new Set<() => void>();
  /** Where the Redis is, for log lines: host and port (or socket path), never the password. */
  readonly endpoint: { readonly store: 'redis'; readonly host: string; readonly port: number | undefined };

  constructor(url: string, limits: GuardLimits, opts: RedisStoreOptions = {}) {
    this.#prefix = opts.keyPrefix ?? 'vb:guard:';
    this.#argv = [
      limits.ratePerMinute,
      limits.burst,
      limits.floodMax,
      limits.floodWindowMs,
      limits.cooldownMs,
      limits.floodBlockMs,
      limits.banMaxMs,
      limits.strikeWindowMs,
      opts.minTtlMs ?? 1_000,
    ].map(String);
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      retryStrategy: reconnectDelayMs,
      ...opts.redis,
    });
    const { host, port, path } = this.redis.options;
    this.endpoint = { store: 'redis', host: path ?? host ?? 'localhost', port: path ? undefined : (port ?? 6379) };
    // Connection errors repeat on every reconnect attempt; the resilient store reports the
    // outage once (this listener also keeps ioredis from printing each one).
    this.redis.on('error', (err: Error) => {
      for (const listener of this.#errorListeners) listener(err);
    });
    this.redis.on('ready', () => {
      for (const listener of this.#readyListeners) listener();
    });
    this.redis.defineCommand('vbGuardHit', { numberOfKeys: 1, lua: HIT_LUA });
    this.redis.defineCommand('vbGuardAttempt', { numberOfKeys: 2, lua: ATTEMPT_LUA });
    this.redis.defineCommand('vbGuardPenalize', { numberOfKeys: 1, lua: PENALIZE_LUA });
    this.#commands = this.redis as unknown as GuardCommands;
  }

  /**
   * Told of each failed connection attempt (ioredis retries on its own, every ≤ 2 s), so an
   * unreachable Redis is reported at start-up with its cause rather than at the first request.
   */
  onConnectionError(listener: (err: Error) => void): void {
    this.#errorListeners.add(listener);
  }

  /** Told each time the connection is (re)established and ready. */
  onReady(listener: () => void): void {
    this.#readyListeners.add(listener);
  }

  /** Connected and past the ready check. */
  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** The key prefix in use (tests clean up with it). */
  get keyPrefix(): string {
    return this.#prefix;
  }

  // `{ip}` is a Redis Cluster hash tag: one IP's records share a slot, as a script needs.
  #ipKey(ip: string): string {
    return `${this.#prefix}ip:{${ip}}`;
  }

  async hit(ip: string, now: number): Promise<GateVerdict> {
    const reply = await this.#commands.vbGuardHit(this.#ipKey(ip), String(Math.floor(now)), ...this.#argv);
    return decodeGate(reply, false);
  }

  async attempt(ip: string, agent: string, now: number, penalize: boolean): Promise<GateVerdict> {
    const reply = await this.#commands.vbGuardAttempt(
      this.#ipKey(ip),
      `${this.#prefix}ua:{${ip}}${agent}`,
      String(Math.floor(now)),
      ...this.#argv,
      penalize ? '1' : '0',
    );
    return decodeGate(reply, penalize);
  }

  async penalize(ip: string, now: number): Promise<BanVerdict> {
    const reply = await this.#commands.vbGuardPenalize(this.#ipKey(ip), String(Math.floor(now)), ...this.#argv);
    return decodeBan(reply, 0);
  }

  async claimToken(id: string, expiresAtMs: number, now: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(expiresAtMs - now));
    const set = await this.redis.set(`${this.#prefix}tok:${id}`, '1', 'PX', ttl, 'NX');
    return set === 'OK';
  }

  async claimCall(callSid: string, untilMs: number, now: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(untilMs - now));
    const set = await this.redis.set(`${this.#prefix}call:${callSid}`, '1', 'PX', ttl, 'NX');
    return set === 'OK';
  }

  async releaseCall(callSid: string): Promise<void> {
    await this.redis.del(`${this.#prefix}call:${callSid}`);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** QUIT politely, but never wait more than 500 ms for a Redis that does not answer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, 500)));
    await Promise.race([this.redis.quit().catch(() => {}), giveUp]);
    clearTimeout(timer);
    this.redis.disconnect();
  }
}

function int(reply: Reply, i: number): number {
  const v = reply[i];
  if (typeof v !== 'number') throw new TypeError(`guard script replied ${JSON.stringify(reply)}`);
  return v;
}

function decodeBan(reply: Reply, at: number): BanVerdict {
  return {
    fresh: int(reply, at) === 1,
    until: int(reply, at + 1),
    strikes: int(reply, at + 2),
    label: int(reply, at + 3) === 2 ? 'banned' : 'cooldown',
  };
}

/** ok, status, reason, retryAfterMs, then a ban verdict (fresh, until, strikes, label). */
function decodeGate(reply: Reply, penalize: boolean): GateVerdict {
  if (int(reply, 0) === 1) return penalize ? { ok: true, ban: decodeBan(reply, 4) } : { ok: true };
  const status = int(reply, 1);
  const reason = REASON_CODES[int(reply, 2)];
  if (!(status === 403 || status === 429) || reason === undefined || reason === '') {
    throw new TypeError(`guard script replied ${JSON.stringify(reply)}`);
  }
  const verdict = { ok: false as const, status: status as 403 | 429, reason, retryAfterMs: int(reply, 3) };
  return reason === 'flood' ? { ...verdict, ban: decodeBan(reply, 4) } : verdict;
}
