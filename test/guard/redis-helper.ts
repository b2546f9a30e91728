/**
 * Shared set-up for tests against the real Redis on 127.0.0.1:6379.
 *
 * Without Redis these tests skip, saying why, so a laptop without Redis can still run the suite;
 * under CI (CI=true, where .ci/run starts Redis) they run anyway and fail, because a silent skip
 * there would hide a broken guard.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.GUARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function probe(): Promise<boolean> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 500, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export const redisUp = await probe();
export const skipRedis = !redisUp && process.env.CI !== 'true';
if (skipRedis) {
  console.warn(`Skipping Redis guard tests: no Redis answered at ${REDIS_URL} (with CI=true they fail instead).`);
}

/** For a suite's first beforeAll: fails at once, saying why, when CI runs it without Redis. */
export function requireRedis(): void {
  if (!redisUp) throw new Error(`Redis is required under CI=true, and none answered at ${REDIS_URL}`);
}

/** Resolves when the client is ready; fails after `ms` rather than hanging the suite. */
export function whenReady(redis: Redis, ms = 3_000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis at ${REDIS_URL} was not ready within ${ms} ms`));
    }, ms);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/** A key prefix no other run shares. */
export function uniquePrefix(): string {
  return `vb-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key under `prefix`. */
export async function cleanUp(prefix: string): Promise<void> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
