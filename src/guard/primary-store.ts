/**
 * The primary's side of the workers' guard store (WORKERS > 1, no REDIS_URL): one MemoryStore,
 * and every worker's ipc-store.ts calls answered from it, one synchronous decision per message.
 * Node handles one message at a time, so each read-modify-write is atomic across workers, as a
 * Lua script is across instances with Redis.
 *
 * The request is parsed field by field; anything else is answered with an error (the worker then
 * decides from its own memory for that call, and counts it in guard_store_errors_total).
 */
import type { Channel } from '../cluster/channel.js';
import { GUARD_REQUEST } from './ipc-store.js';
import type { MemoryStore } from './memory-store.js';

const str = (v: unknown): string => {
  if (typeof v !== 'string' || v.length > 1_024) throw new TypeError('expected a string of at most 1 KiB');
  return v;
};
const num = (v: unknown): number => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError('expected a finite number');
  return v;
};
const bool = (v: unknown): boolean => {
  if (typeof v !== 'boolean') throw new TypeError('expected a boolean');
  return v;
};

/** One request's answer (exported for tests: it is the whole protocol). */
export function answerGuardRequest(store: MemoryStore, body: unknown): unknown {
  const { op, args } = (body ?? {}) as { op?: unknown; args?: unknown };
  if (!Array.isArray(args)) throw new TypeError('guard request without arguments');
  const a = args as unknown[];
  switch (op) {
    case 'hit':
      return store.hitSync(str(a[0]), num(a[1]));
    case 'attempt':
      return store.attemptSync(str(a[0]), str(a[1]), num(a[2]), bool(a[3]));
    case 'penalize':
      return store.penalizeSync(str(a[0]), num(a[1]));
    case 'claim':
      return store.claimTokenSync(str(a[0]), num(a[1]), num(a[2]));
    case 'claim_call':
      return store.claimCallSync(str(a[0]), num(a[1]), num(a[2]));
    case 'release_call':
      store.releaseCallSync(str(a[0]));
      return true;
    case 'ping':
      return true;
    default:
      throw new TypeError(`unknown guard operation ${JSON.stringify(op)}`);
  }
}

/** Answers `channel`'s guard requests from `store` (shared by every worker's channel). */
export function serveGuardStore(channel: Channel, store: MemoryStore): void {
  channel.handle(GUARD_REQUEST, (body) => answerGuardRequest(store, body));
}
