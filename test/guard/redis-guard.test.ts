/**
 * The guard on app instances sharing the real Redis: one view of bans and used tokens, and Redis
 * outages (its connection killed; a server that accepts and never answers) that the guard rides
 * out from memory and recovers from without a restart.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore, guardLimits } from '../../src/guard/index.js';
import { cleanUp, REDIS_URL, requireRedis, skipRedis, uniquePrefix, whenReady } from './redis-helper.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';
import { until } from '../helpers/until.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { hangUp, httpCall, rejectionCounts, startHarness, tokenFor, upgrade, type Harness } from './harness.js';

const prefix = uniquePrefix();
const track = closeAfterEach();

interface Instance {
  readonly h: Harness;
  readonly store: RedisStore;
}

/**
 * An app instance on the shared Redis. The store deadline is 1 s unless a test says otherwise: on
 * a busy machine a Redis round trip can take longer than the production 50 ms, and then the guard
 * rightly answers from memory, which would turn the shared-view tests' exact counts into counts
 * per instance. The outage tests set the production deadline.
 */
async function instance(
  opts: { env?: Record<string, string>; url?: string; redis?: RedisOptions; deadlineMs?: number } = {},
): Promise<Instance> {
  let store: RedisStore | undefined;
  const h = await startHarness({
    env: opts.env,
    store: (config) =>
      (store = new RedisStore(opts.url ?? REDIS_URL, guardLimits(config), {
        keyPrefix: prefix,
        redis: { retryStrategy: () => 50, ...opts.redis },
      })),
    deadlineMs: opts.deadlineMs ?? 1_000,
    probeIntervalMs: 50,
  });
  track(h);
  return { h, store: store! };
}

const ready = (s: RedisStore): Promise<void> => whenReady(s.redis);

afterAll(async () => {
  if (!skipRedis) await cleanUp(prefix);
});

describe.skipIf(skipRedis)('guard with Redis', () => {
  beforeAll(requireRedis);

  it('two instances share one view: a ban made through one is enforced by the other; so is a used token', async () => {
    const a = await instance();
    const b = await instance();
    await Promise.all([ready(a.store), ready(b.store)]);

    expect((await upgrade(a.h, '/twilio/stream/junk', { from: '127.0.0.60' })).status).toBe(401);
    const onB = await upgrade(b.h, '/twilio/stream/junk', { from: '127.0.0.60' });
    expect([onB.status, onB.body?.reason, onB.headers['retry-after']]).toEqual([403, 'cooldown', '30']);
    expect((await httpCall(b.h, 'GET', '/probe', { from: '127.0.0.60' })).status).toBe(403);

    const { token } = tokenFor(a.h);
    const first = await upgrade(a.h, `/twilio/stream/${token}`, { from: '127.0.0.61' });
    expect(first.status).toBe(101);
    expect((await upgrade(b.h, `/twilio/stream/${token}`, { from: '127.0.0.62' })).status).toBe(409);
    await hangUp(first.ws);
    expect([a.h.guard.healthy, b.h.guard.healthy]).toEqual([true, true]);
  });

  it('one stream per call across instances: a second valid token for a call streaming on A gets 409 on B, until the first ends', async () => {
    const a = await instance();
    const b = await instance();
    await Promise.all([ready(a.store), ready(b.store)]);
    const callSid = 'CA' + 'd'.repeat(32);
    const mint = (i: number) => mintStreamToken(a.h.config.streamSecret, callSid, a.h.clock + i * 1_000, 300);
    const first = await upgrade(a.h, `/twilio/stream/${mint(0)}`, { from: '127.0.0.68' });
    expect(first.status).toBe(101);
    const onB = await upgrade(b.h, `/twilio/stream/${mint(1)}`, { from: '127.0.0.69' });
    expect([onB.status, onB.body?.reason]).toEqual([409, 'call_live']);
    expect(b.h.accepted).toHaveLength(0);
    await hangUp(first.ws);
    // The lease goes with the stream's socket: then a new stream for the call is admitted anywhere.
    await until(async () => (await a.store.redis.exists(`${prefix}call:${callSid}`)) === 0, 5_000, 'the lease released');
    const later = await upgrade(b.h, `/twilio/stream/${mint(2)}`, { from: '127.0.0.69' });
    expect(later.status).toBe(101);
    await hangUp(later.ws);
  });

  it('a ban learned from Redis is then enforced on the raw socket, without Fastify or a round trip', async () => {
    const a = await instance();
    await ready(a.store);
    expect((await upgrade(a.h, '/twilio/stream/junk', { from: '127.0.0.67' })).status).toBe(401);
    expect(a.h.seen).toHaveLength(1); // Redis had to be asked: through the hook
    let asked = 0;
    const [attempt, hit] = [a.store.attempt.bind(a.store), a.store.hit.bind(a.store)];
    a.store.attempt = (...args) => (asked++, attempt(...args));
    a.store.hit = (...args) => (asked++, hit(...args));
    const again = await upgrade(a.h, '/twilio/stream/junk', { from: '127.0.0.67' });
    expect([again.status, again.body?.reason, again.headers['retry-after']]).toEqual([403, 'cooldown', '30']);
    expect(a.h.seen).toHaveLength(1);
    expect((await httpCall(a.h, 'GET', '/probe', { from: '127.0.0.67' })).status).toBe(403);
    expect(asked).toBe(0);
    // A valid call from that address is still admitted (through the hook, which asks Redis for the token).
    const ok = await upgrade(a.h, `/twilio/stream/${tokenFor(a.h).token}`, { from: '127.0.0.67' });
    expect(ok.status).toBe(101);
    await hangUp(ok.ws);
  });

  it('concurrent anonymous attempts through both instances never exceed the budget', async () => {
    // No cooldown and a high flood limit, so the per-IP budget (burst 20) is what decides.
    const env = { REJECT_COOLDOWN_SECONDS: '0', FLOOD_MAX_REQUESTS: '1000' };
    const a = await instance({ env });
    const b = await instance({ env });
    await Promise.all([ready(a.store), ready(b.store)]);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => upgrade(i % 2 === 0 ? a.h : b.h, '/twilio/stream/junk', { from: '127.0.0.63' })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    const limited = results.find((r) => r.status === 429);
    expect(limited?.headers['retry-after']).toBe('6'); // 10/min: one attempt back every 6 s
  });

  it('a killed Redis connection: the guard keeps answering from memory, says so once, and recovers on reconnect', async () => {
    // Reconnect after 1 s, so the outage is long enough to observe.
    const a = await instance({ redis: { retryStrategy: () => 1_000 }, deadlineMs: 50 });
    const b = await instance();
    await Promise.all([ready(a.store), ready(b.store)]);
    const admin = new Redis(REDIS_URL);
    track(() => void admin.disconnect());

    const id = await a.store.redis.client('ID');
    const closed = new Promise<void>((resolve) => a.store.redis.once('close', () => resolve()));
    await admin.client('KILL', 'ID', String(id));
    await closed;

    // During the outage: answered (from memory), reported unhealthy, counted, logged once.
    expect((await upgrade(a.h, '/twilio/stream/junk', { from: '127.0.0.64' })).status).toBe(401);
    expect((await upgrade(a.h, '/twilio/stream/junk', { from: '127.0.0.64' })).status).toBe(403);
    const ok = await upgrade(a.h, `/twilio/stream/${tokenFor(a.h).token}`, { from: '127.0.0.64' });
    expect(ok.status).toBe(101);
    await hangUp(ok.ws);
    expect(a.h.guard.healthy).toBe(false);
    const errors = await a.h.metrics.guardStoreErrors.get();
    expect(errors.values.reduce((n, v) => n + v.value, 0)).toBeGreaterThanOrEqual(1);
    expect(a.h.logs.records().filter((r) => r.level === 40)).toHaveLength(1);

    // ioredis reconnects by itself; the next probe closes the breaker. No restart.
    await expect.poll(() => a.h.guard.healthy, { timeout: 5_000, interval: 20 }).toBe(true);
    expect(a.h.logs.records().some((r) => r.msg === 'guard store recovered: shared decisions again')).toBe(true);

    // The shared view is back: a ban through A holds on B.
    expect((await upgrade(a.h, '/twilio/stream/junk', { from: '127.0.0.65' })).status).toBe(401);
    expect((await upgrade(b.h, '/twilio/stream/junk', { from: '127.0.0.65' })).status).toBe(403);
    expect(await rejectionCounts(a.h.metrics)).toMatchObject({ bad_token: 2, cooldown: 1 });
  });

  it('a Redis that accepts connections and never answers: every request still answers within the deadline', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.resume(); // read and ignore everything
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    track(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          silent.close(() => resolve());
        }),
    );
    const url = `redis://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    // With RESP2, no ready check and no CLIENT SETINFO, ioredis calls the connection ready at
    // once, so commands really are sent and left unanswered (rather than refused while connecting).
    const a = await instance({ url, redis: { enableReadyCheck: false, disableClientInfo: true, protocol: 2 }, deadlineMs: 50 });
    await ready(a.store);

    const started = performance.now();
    const r = await upgrade(a.h, '/twilio/stream/junk', { from: '127.0.0.66' });
    const waited = performance.now() - started;
    expect(r.status).toBe(401);
    expect(waited).toBeGreaterThanOrEqual(45); // it waited for the deadline…
    expect(waited).toBeLessThan(5_000); // …and not for Redis (a liveness bound, not a benchmark)
    expect(a.h.guard.healthy).toBe(false);
    expect((await httpCall(a.h, 'GET', '/probe', { from: '127.0.0.66' })).status).toBe(403);
  });
});
