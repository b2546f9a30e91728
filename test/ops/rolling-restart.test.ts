/**
 * A rolling restart with no dropped call: two real server processes (dist/server.js) behind one
 * real Caddy (Debian's 2.6.2 here and in CI) running deploy/Caddyfile.two-instances unmodified.
 * SIGTERM one instance while calls stream through Caddy to both: its live call goes on byte-exact
 * to its end, Caddy's health check on /readyz takes it out of rotation, new webhooks and streams
 * go to the other instance, no webhook ever gets a 5xx, and the drained instance exits 0.
 *
 * Skipped when caddy is absent locally; test/ops/caddy.test.ts fails CI in that case.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { FakeRealtimeConnection } from '../../tools/fakes/fake-realtime-connection.js';
import { connectFakeTwilio } from '../../tools/fakes/fake-twilio.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { TEST_SECRET } from '../helpers/config.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { expectRelayBothWays } from '../helpers/relay.js';
import { until } from '../helpers/until.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';
import { caddyVersion } from './caddy-process.js';
import { value } from './prom-text.js';
import { scrape, startInstance as startTestInstance, TwoInstanceRig, webhookViaCaddy as postWebhook, type Instance } from './two-instances.js';

const version = caddyVersion();
/** Real processes and Caddy's 2 s health interval on a busy 2-core machine. */
const TIMEOUT_MS = 120_000;
/** Deadline for Caddy to act on a health check: several of its 2 s intervals. */
const HEALTH_DEADLINE_MS = 30_000;

interface LiveCall {
  readonly call: FakeTwilioCall;
  readonly conn: FakeRealtimeConnection;
  readonly on: Instance;
}

const rig = new TwoInstanceRig();
const { instances, calls } = rig;
afterEach(() => rig.stop());

async function startInstance(name: string, port = 0): Promise<Instance> {
  const instance = await startTestInstance(name, {}, port);
  instances.push(instance);
  return instance;
}

/** A Media Stream through Caddy, as Twilio opens one after our TwiML; resolves once its upstream is up. */
async function streamViaCaddy(): Promise<LiveCall> {
  const before = instances.map((i) => i.realtime.totalConnections);
  const callSid = 'CA' + randomBytes(16).toString('hex');
  const token = mintStreamToken(TEST_SECRET, callSid, Date.now(), 300);
  const call = await connectFakeTwilio({ url: `ws://127.0.0.1:${rig.caddy!.port}/twilio/stream/${token}`, token, callSid });
  calls.push(call);
  // Its `start` makes exactly one instance open an upstream (no webhook pre-warmed one for it).
  let k = -1;
  await until(() => (k = instances.findIndex((i, n) => i.realtime.totalConnections > before[n]!)) >= 0, 10_000, 'the call to open an upstream');
  const on = instances[k]!;
  const conn = await on.realtime.waitForConnection(before[k]!);
  await conn.waitForEvent('session.update');
  return { call, conn, on };
}

/** Every webhook answer seen through Caddy in the test, for the "never a 5xx" check. */
const webhookStatuses: number[] = [];
async function webhookViaCaddy(): Promise<{ status: number; twiml: string }> {
  const res = await postWebhook(rig.caddy!.port, 'CA' + randomBytes(16).toString('hex'));
  webhookStatuses.push(res.status);
  return res;
}

const isMsg = (msg: string) => (r: Record<string, unknown>) => r.msg === msg;
const caller = readFixture('caller-8k.ulaw').subarray(0, 4000); // 0.5 s
const agent = readFixture('agent-8k.ulaw').subarray(0, 8000); // 1 s

describe.runIf(version !== null)('rolling restart: two instances behind one Caddy', { timeout: TIMEOUT_MS }, () => {
  it('SIGTERM one: its call goes on byte-exact to its end, new webhooks and streams go to the other, no 5xx, it exits 0 and comes back', async () => {
    webhookStatuses.length = 0;
    const a = await startInstance('A');
    const b = await startInstance('B');
    await rig.startCaddy(a, b, version!);

    // Calls through Caddy until each instance carries one (least_conn sends the second call to
    // the idle instance; a few more tries cover a tie broken the other way).
    const live: LiveCall[] = [];
    while (!instances.every((i) => live.some((c) => c.on === i))) {
      expect(live.length, 'calls placed before both instances carried one').toBeLessThan(6);
      live.push(await streamViaCaddy());
    }
    const drained = live[0]!.on;
    const staying = instances.find((i) => i !== drained)!;
    const drainedCall = live[0]!;

    // 1. SIGTERM: the instance turns /readyz 503 at once and keeps its call.
    drained.server.child.kill('SIGTERM');
    await drained.server.waitForLine(isMsg('draining: no new calls; waiting for live calls to end'));
    expect((await fetch(`${drained.server.baseUrl}/readyz`)).status).toBe(503);
    // A webhook in the moment before Caddy's next health check may still reach it: it is
    // answered 200 either way (a stream from the other instance, or "call back" in words).
    expect((await webhookViaCaddy()).status).toBe(200);

    // 2. Caddy's health check sees the 503 (twice, so the first answer has surely been acted on).
    const readyz503 = async () => value(await scrape(drained), 'voice_bridge_http_requests_total', { route: '/readyz', status: '503' });
    const seenByUs = await readyz503();
    await until(async () => (await readyz503()) >= seenByUs + 2, HEALTH_DEADLINE_MS, "Caddy's health checks to see /readyz 503");
    const drainedWebhooks = value(await scrape(drained), 'voice_bridge_http_requests_total', { route: '/twilio/voice' });

    // 3. New streams and webhooks now go to the other instance.
    const drainedUpstreams = drained.realtime.totalConnections;
    const fresh = await streamViaCaddy();
    expect(fresh.on).toBe(staying);
    await expectRelayBothWays(fresh.call, fresh.conn, caller, agent);
    for (let n = 0; n < 5; n++) {
      const { status, twiml } = await webhookViaCaddy();
      expect(status).toBe(200);
      expect(twiml).toContain('<Stream url="wss://voice.example.com/twilio/stream/');
    }
    expect(value(await scrape(drained), 'voice_bridge_http_requests_total', { route: '/twilio/voice' })).toBe(drainedWebhooks);
    expect(drained.realtime.totalConnections).toBe(drainedUpstreams);

    // 4. The drained instance's call still streams both ways through Caddy, byte for byte, to
    //    its end; then the instance exits 0.
    await expectRelayBothWays(drainedCall.call, drainedCall.conn, caller, agent);
    expect(drained.server.child.exitCode).toBeNull();
    expect((await drainedCall.call.hangUp()).code).toBe(1000);
    expect(await drained.server.exited).toEqual({ code: 0, signal: null });
    expect(drained.server.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find(isMsg('drain finished'))).toMatchObject({
      outcome: 'idle',
      closedAtDeadline: 0,
    });

    // 5. With it gone, Caddy serves everything from the other one, still without an error.
    for (let n = 0; n < 3; n++) {
      const { status, twiml } = await webhookViaCaddy();
      expect(status).toBe(200);
      expect(twiml).toContain('<Stream url=');
    }
    for (const c of live.filter((l) => l.on === staying).concat(fresh)) {
      expect(c.call.isOpen).toBe(true);
      expect((await c.call.hangUp()).code).toBe(1000);
    }
    expect((await fetch(`${staying.server.baseUrl}/readyz`)).status).toBe(200);

    // 6. The restarted instance (same port, new process) is back in rotation once Caddy's health
    //    check has seen it ready: with least_conn, of two new calls one reaches it.
    const restarted = await startInstance('A again', drained.server.port);
    const readyz200 = async () => value(await scrape(restarted), 'voice_bridge_http_requests_total', { route: '/readyz', status: '200' });
    await until(async () => (await readyz200()) >= 2, HEALTH_DEADLINE_MS, "Caddy's health checks to see the restarted instance ready");
    const again = [await streamViaCaddy(), await streamViaCaddy()];
    expect(again.map((c) => c.on.name).sort()).toEqual([restarted.name, staying.name].sort());
    for (const c of again) expect((await c.call.hangUp()).code).toBe(1000);

    expect(webhookStatuses.length).toBe(9);
    expect(webhookStatuses.filter((s) => s >= 500)).toEqual([]);
  });
});
