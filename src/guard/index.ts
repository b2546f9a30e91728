/**
 * The pre-upgrade guard's public surface. buildApp calls `createGuardStore` and `installGuard`
 * before registering routes; /readyz reads `guard.healthy`; the webhooks call
 * `guard.reportRejectedCredential` on a bad signature; server shutdown calls `guard.close()`.
 */
import type { Config } from '../config.js';
import { guardLimits } from './limits.js';
import { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
import { RedisStore, type RedisStoreOptions } from './redis-store.js';
import type { GuardStore } from './store.js';

export { installGuard, type Guard, type GuardOptions } from './install.js';
export type { GuardedStreamAuth } from './stream-admission.js';
export type { GuardStore, GateVerdict, BanVerdict, RefusalLabel } from './store.js';
export type { CredentialRejection } from './credentials.js';
export { MemoryStore, RedisStore, guardLimits };

/** Redis when REDIS_URL is set (shared by every instance), else memory. */
export function createGuardStore(
  config: Config,
  opts: { readonly redis?: RedisStoreOptions; readonly memory?: MemoryStoreOptions } = {},
): GuardStore {
  const limits = guardLimits(config);
  if (!config.redisUrl) return new MemoryStore(limits, opts.memory);
  return new RedisStore(config.redisUrl, limits, { keyPrefix: config.redisKeyPrefix, ...opts.redis });
}
