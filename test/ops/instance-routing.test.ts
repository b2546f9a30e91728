/**
 * Pre-warm across two instances: two real server processes (dist/server.js) with INSTANCE_ID a
 * and b behind one real Caddy (Debian's 2.6.2 here and in CI) running deploy/Caddyfile.two-instances
 * unmodified. Each webhook names its instance in the TwiML's stream URL, Caddy routes the stream
 * there, and the stream adopts the session the webhook pre-warmed (the rate read from both
 * instances' voice_bridge_prewarm_total); when that instance is killed between webhook and
 * stream, Caddy sends the stream to the other instance, which checks Twilio's signature over the
 * URL Twilio connected to and relays the call on a fresh upstream; likewise when it drains and
 * Caddy's health check has seen it.
 *
 * Skipped when caddy is absent locally; test/ops/caddy.test.ts fails CI in that case.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { connectFakeTwilio } from '../../tools/fakes/fake-twilio.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { TEST_AUTH_TOKEN } from '../helpers/config.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { expectRelayBothWays } from '../helpers/relay.js';
import { until } from '../helpers/until.js';
import { caddyVersion, type CaddyProcess } from './caddy-process.js';
import { value } from './prom-text.js';
import { scrape, startInstance, TwoInstanceRig, webhookViaCaddy, type Instance } from './two-instances.js';

const version = caddyVersion();
/** Real processes and Caddy's 2 s health interval on a busy 2-core machine. */
const TIMEOUT_MS = 180_000;
/** Deadline for Caddy to act on a health check: several of its 2 s intervals. */
const HEALTH_DEADLINE_MS = 30_000;
/** Calls placed in the adoption test: enough for a rate, short on a busy 2-core machine. */
const CALLS = 40;
const OUTCOMES = ['adopted', 'expired', 'not_usable', 'discarded'] as const;

const caller = readFixture('caller-8k.ulaw').subarray(0, 1600); // 0.2 s
const agent = readFixture('agent-8k.ulaw').subarray(0, 1600);

const rig = new TwoInstanceRig();
const { instances, calls } = rig;
afterEach(() => rig.stop());

/** Instances a and b (INSTANCE_ID a and b) behind Caddy on the two-instance file as shipped. */
async function startPair(): Promise<{ a: Instance; b: Instance; caddy: CaddyProcess }> {
  for (const id of ['a', 'b']) instances.push(await startInstance(id, { INSTANCE_ID: id }));
  const [a, b] = instances as [Instance, Instance];
  return { a, b, caddy: await rig.startCaddy(a, b, version!) };
}

interface Answered {
  readonly callSid: string;
  /** The instance the TwiML's stream URL names. */
  readonly by: Instance;
  /** The stream URL as the TwiML gives it (what Twilio connects to and signs). */
  readonly streamUrl: string;
  readonly token: string;
  /** `by`'s upstream connection count before the webhook: the pre-warm is connection number this. */
  readonly upstreamIndex: number;
}

/** A signed webhook through Caddy, answered 200 with TwiML whose stream URL names an instance. */
async function answerCall(): Promise<Answered> {
  const callSid = 'CA' + randomBytes(16).toString('hex');
  const before = instances.map((i) => i.realtime.totalConnections);
  const { status, twiml } = await webhookViaCaddy(rig.caddy!.port, callSid);
  expect(status).toBe(200);
  const streamUrl = /<Stream url="([^"]+)"/.exec(twiml)?.[1];
  const token = /<Parameter name="token" value="([^"]+)"\/>/.exec(twiml)?.[1];
  expect(streamUrl).toMatch(/^wss:\/\/voice\.example\.com\/i\/[ab]\/twilio\/stream\/[\w.-]+$/);
  expect(streamUrl!.endsWith(`/${token}`)).toBe(true);
  const id = /\/i\/([ab])\//.exec(streamUrl!)![1]!;
  const k = instances.findIndex((i) => i.name === id);
  return { callSid, by: instances[k]!, streamUrl: streamUrl!, token: token!, upstreamIndex: before[k]! };
}

/** Twilio's stream connection for an answered call, through Caddy, signed over the TwiML's URL. */
async function streamViaCaddy(answered: Answered): Promise<FakeTwilioCall> {
  const path = new URL(answered.streamUrl).pathname;
  const call = await connectFakeTwilio({
    url: `ws://127.0.0.1:${rig.caddy!.port}${path}`,
    token: answered.token,
    callSid: answered.callSid,
    headers: { 'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, answered.streamUrl, {}) },
  });
  calls.push(call);
  return call;
}

async function outcomes(i: Instance): Promise<Record<(typeof OUTCOMES)[number], number>> {
  const text = await scrape(i);
  return Object.fromEntries(OUTCOMES.map((o) => [o, value(text, 'voice_bridge_prewarm_total', { outcome: o })])) as Record<(typeof OUTCOMES)[number], number>;
}

/** Both instances up, one call's webhook answered through Caddy and its upstream pre-warmed and configured. */
async function answeredAndPrewarmed(): Promise<{ answered: Answered; prewarmedOn: Instance; other: Instance; otherUpstreams: number }> {
  await startPair();
  const answered = await answerCall();
  const prewarmedOn = answered.by;
  const other = instances.find((i) => i !== prewarmedOn)!;
  await (await prewarmedOn.realtime.waitForConnection(answered.upstreamIndex, 10_000)).waitForEvent('session.update');
  return { answered, prewarmedOn, other, otherUpstreams: other.realtime.totalConnections };
}

/** The answered call's stream, through Caddy, relays both ways on a fresh upstream of `on`, then hangs up. */
async function expectStreamedOn(on: Instance, upstreamsBefore: number, answered: Answered): Promise<void> {
  const call = await streamViaCaddy(answered);
  const conn = await on.realtime.waitForConnection(upstreamsBefore, 10_000);
  await conn.waitForEvent('session.update');
  await expectRelayBothWays(call, conn, caller, agent);
  expect((await call.hangUp()).code).toBe(1000);
  await conn.closed;
}

describe.runIf(version !== null)('pre-warm across two instances behind Caddy (INSTANCE_ID)', { timeout: TIMEOUT_MS }, () => {
  it(`routes each stream to the instance that pre-warmed it: ${CALLS} calls, adoption ≥ 95 % from both instances' metrics`, async () => {
    const { a, b } = await startPair();
    const answeredBy = { a: 0, b: 0 };
    for (let n = 0; n < CALLS; n++) {
      const answered = await answerCall();
      answeredBy[answered.by.name as 'a' | 'b']++;
      const conn = await answered.by.realtime.waitForConnection(answered.upstreamIndex, 10_000);
      await conn.waitForEvent('session.update');
      const call = await streamViaCaddy(answered);
      // The stream adopted the pre-warmed upstream: audio flows on that very connection.
      await expectRelayBothWays(call, conn, caller, agent);
      expect((await call.hangUp()).code).toBe(1000);
      await conn.closed;
    }
    // Each call opened exactly one upstream, on the instance its TwiML named.
    expect(a.realtime.totalConnections + b.realtime.totalConnections).toBe(CALLS);
    expect(a.realtime.totalConnections).toBe(answeredBy.a);

    const [oa, ob] = [await outcomes(a), await outcomes(b)];
    const adopted = oa.adopted + ob.adopted;
    const all = OUTCOMES.reduce((sum, o) => sum + oa[o] + ob[o], 0);
    console.info(`pre-warm adoption through Caddy: ${adopted}/${all} (a answered ${answeredBy.a}, b ${answeredBy.b})`);
    expect(all).toBe(CALLS);
    expect(adopted / all).toBeGreaterThanOrEqual(0.95);
    // least_conn spread the webhooks; both instances pre-warmed and adopted their own.
    expect(answeredBy.a).toBeGreaterThan(0);
    expect(answeredBy.b).toBeGreaterThan(0);

    // The prefix routes the stream path alone: nothing else under /i/<id>/ reaches an instance.
    for (const path of ['/i/a/metrics', '/i/b/readyz', '/i/a/twilio/voice']) {
      const res = await fetch(`http://127.0.0.1:${rig.caddy!.port}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toContain('voice_bridge_');
    }
  });

  it('the pre-warming instance killed between webhook and stream: the stream connects to the other through Caddy and relays on a fresh upstream', async () => {
    const { answered, prewarmedOn: dead, other, otherUpstreams } = await answeredAndPrewarmed();

    dead.server.child.kill('SIGKILL');
    await dead.server.exited;

    // Caddy tries the named instance first, finds it refusing connections, and within
    // lb_try_duration (5 s; its health check runs every 2 s) hands the upgrade to the other.
    await expectStreamedOn(other, otherUpstreams, answered);

    // The other instance pre-warmed nothing and adopted nothing: a fresh upstream, one call.
    expect(other.realtime.totalConnections).toBe(otherUpstreams + 1);
    expect(await outcomes(other)).toEqual({ adopted: 0, expired: 0, not_usable: 0, discarded: 0 });
    // Its guard checked Twilio's signature over the dead instance's URL (Caddy's X-Forwarded-Prefix)
    // and admitted the stream: no refusal counted.
    expect(value(await scrape(other), 'voice_bridge_rejections_total')).toBe(0);
  });

  it('the pre-warming instance draining between webhook and stream: once Caddy sees its /readyz 503, the stream goes to the other', async () => {
    const { answered, prewarmedOn: draining, other, otherUpstreams } = await answeredAndPrewarmed();

    draining.server.child.kill('SIGTERM');
    await draining.server.waitForLine((r) => r.msg === 'draining: no new calls; waiting for live calls to end');
    // Caddy's health checks (three blocks, each every 2 s) see the 503: a few answers, so the
    // first has surely been acted on by the instance block that routes this stream too.
    const readyz503 = async () => value(await scrape(draining), 'voice_bridge_http_requests_total', { route: '/readyz', status: '503' });
    await until(async () => (await readyz503()) >= 6, HEALTH_DEADLINE_MS, "Caddy's health checks to see /readyz 503");
    const drainingUpstreams = draining.realtime.totalConnections;

    await expectStreamedOn(other, otherUpstreams, answered);
    expect(other.realtime.totalConnections).toBe(otherUpstreams + 1);
    expect(draining.realtime.totalConnections).toBe(drainingUpstreams);
    expect((await outcomes(other)).adopted).toBe(0);
    expect((await outcomes(draining)).adopted).toBe(0);
  });
});
