/**
 * WORKERS=2 must guard like one server: a single-use stream token is refused on every worker once
 * used on one, a ban or a spent budget earned on one worker holds on the other (no N× budget for
 * an attacker), and MAX_CALLS and MAX_STREAMS_PER_IP count the whole host. Without Redis the
 * primary holds the state; with REDIS_URL the workers share Redis (each test its own key prefix).
 *
 * Each refusal below is asked for on a new connection, and the primary hands connections to the
 * workers in turn, so both are asked; the `worker` field of their debug lines proves it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { TEST_SECRET } from '../helpers/config.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';
import { cleanUp, REDIS_URL, requireRedis, skipRedis, uniquePrefix } from '../guard/redis-helper.js';
import { CLUSTER_TIMEOUT_MS, clusterPerTest, newCallSid, placeCall, upgradeStatus, type Cluster } from './workers-rig.js';

const { start, calls } = clusterPerTest();

/** The workers that refused with `reason` (from their debug lines). */
const refusedBy = (c: Cluster, reason: string): number[] =>
  [...new Set(c.records().filter((r) => r.msg === 'guard refused' && r.reason === reason).map((r) => r.worker as number))].sort();

/** `n` upgrades, each on a new connection, in turn. */
async function upgrades(c: Cluster, n: number, token: () => string): Promise<Array<{ status: number; reason?: string }>> {
  const out: Array<{ status: number; reason?: string }> = [];
  for (let i = 0; i < n; i++) out.push(await upgradeStatus(c, calls, token()));
  return out;
}

const freshToken = (): string => mintStreamToken(TEST_SECRET, newCallSid(), Date.now(), 300);
/** Well-formed but signed with another secret: a rejected credential (401, then a cooldown). */
const forgedToken = (): string => mintStreamToken('x'.repeat(48), newCallSid(), Date.now(), 300);

const stores: Array<{ name: string; env: () => Record<string, string> }> = [
  { name: 'the primary holds the guard state (no REDIS_URL)', env: () => ({}) },
];
/** Each test's own Redis key prefix, so runs and tests never see each other's bans and tokens. */
const prefixes: string[] = [];
if (!skipRedis) {
  stores.push({ name: 'the workers share Redis (REDIS_URL)', env: () => ({ REDIS_URL, REDIS_KEY_PREFIX: prefixes.at(-1)! }) });
}

describe.each(stores)('WORKERS=2, $name', ({ env }) => {
  beforeAll(() => {
    if (env().REDIS_URL) requireRedis();
  });
  afterAll(async () => {
    if (env().REDIS_URL) for (const prefix of prefixes.splice(0)) await cleanUp(prefix);
  });
  const startWith = (more: Record<string, string> = {}) => {
    prefixes.push(uniquePrefix());
    return start({ LOG_LEVEL: 'debug', FLOOD_MAX_REQUESTS: '1000', ...env(), ...more });
  };

  it('a stream token used on one worker is refused when replayed, on every worker', { timeout: CLUSTER_TIMEOUT_MS }, async () => {
    const c = await startWith();
    const call = await placeCall(c, calls);
    await until(() => c.workerOf(call.callSid) !== undefined, 10_000, 'the stream to start');
    expect((await call.hangUp()).code).toBe(1000);
    await c.server.waitForLine((r) => r.msg === 'call ended' && r.callSid === call.callSid);

    const replays = await upgrades(c, 6, () => call.token);
    expect(replays).toEqual(Array(6).fill({ status: 409, reason: 'token_reused' }));
    expect(refusedBy(c, 'token_reused')).toEqual([1, 2]);
  });

  it('a cooldown earned on one worker holds on the other: one 401, then 403s', { timeout: CLUSTER_TIMEOUT_MS }, async () => {
    const c = await startWith();
    const answers = await upgrades(c, 6, forgedToken);
    expect(answers[0]).toEqual({ status: 401, reason: 'bad_token' });
    expect(answers.slice(1)).toEqual(Array(5).fill({ status: 403, reason: 'cooldown' }));
    expect(refusedBy(c, 'cooldown')).toEqual([1, 2]);
  });

  it('the per-address budget is spent once for the host, not once per worker', { timeout: CLUSTER_TIMEOUT_MS }, async () => {
    // No cooldown, so every attempt spends budget; 4 attempts, then one more a minute.
    const c = await startWith({ REJECT_COOLDOWN_SECONDS: '0', UPGRADE_BURST: '4', UPGRADE_RATE_PER_MINUTE: '1' });
    const answers = await upgrades(c, 12, forgedToken);
    const passed = answers.filter((a) => a.status === 401).length;
    // Exactly 4 unless this test ran past a minute (one more token then); two budgets would give 8.
    expect(passed).toBeGreaterThanOrEqual(4);
    expect(passed).toBeLessThanOrEqual(5);
    expect(answers.slice(0, 4).every((a) => a.status === 401)).toBe(true);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(12 - passed);
    expect(refusedBy(c, 'bad_token')).toEqual([1, 2]);
  });

  it('MAX_CALLS holds for the host: with 2 calls live, every worker refuses a third', { timeout: CLUSTER_TIMEOUT_MS }, async () => {
    const c = await startWith({ MAX_CALLS: '2' });
    const live = [await placeCall(c, calls), await placeCall(c, calls)];
    for (const call of live) await until(() => c.workerOf(call.callSid) !== undefined, 10_000, 'the stream to start');
    expect(new Set(live.map((call) => c.workerOf(call.callSid)))).toEqual(new Set([1, 2]));
    expect(await upgrades(c, 4, freshToken)).toEqual(Array(4).fill({ status: 503, reason: 'capacity' }));
    expect(refusedBy(c, 'capacity')).toEqual([1, 2]);
    // A slot freed on one worker is free for the host.
    expect((await live[0]!.hangUp()).code).toBe(1000);
    await until(async () => (await upgradeStatus(c, calls, freshToken())).status === 101, 10_000, 'the freed slot to be taken');
  });

  it('MAX_STREAMS_PER_IP holds for the host: with 1 stream live from an address, every worker refuses the next', { timeout: CLUSTER_TIMEOUT_MS }, async () => {
    const c = await startWith({ MAX_STREAMS_PER_IP: '1' });
    const call = await placeCall(c, calls);
    await until(() => c.workerOf(call.callSid) !== undefined, 10_000, 'the stream to start');
    expect(await upgrades(c, 4, freshToken)).toEqual(Array(4).fill({ status: 429, reason: 'ip_cap' }));
    expect(refusedBy(c, 'ip_cap')).toEqual([1, 2]);
  });
});
