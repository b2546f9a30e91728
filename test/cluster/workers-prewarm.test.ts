/**
 * Pre-warm with WORKERS=2 (issue 16): a webhook and its stream are two connections, which the
 * primary hands to whichever worker is next, so the worker that pre-warmed is rarely the one the
 * stream reaches. Pre-warm is therefore off by default there, and says so at start; PREWARM=on
 * still forces it, and every pre-warm is then accounted for: each call opens two upstream
 * sessions unless its stream adopted the pre-warmed one.
 */
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { connectFakeTwilio } from '../../tools/fakes/fake-twilio.js';
import { webhookViaCaddy as postWebhook } from '../ops/two-instances.js';
import { value } from '../ops/prom-text.js';
import { CLUSTER_TIMEOUT_MS, clusterPerTest, isMsg, newCallSid, scrape, type Cluster } from './workers-rig.js';

const { start, calls } = clusterPerTest();

/** A signed voice webhook on its own connection, then the stream its TwiML names, as Twilio does. */
async function webhookThenStream(c: Cluster): Promise<string> {
  const callSid = newCallSid();
  const { status, twiml } = await postWebhook(c.server.port, callSid);
  expect(status).toBe(200);
  const token = /\/twilio\/stream\/([^"]+)"/.exec(twiml)?.[1];
  expect(token, twiml).toBeDefined();
  const call = await connectFakeTwilio({ url: `ws://127.0.0.1:${c.server.port}/twilio/stream/${token!}`, token: token!, callSid });
  calls.push(call);
  await until(() => c.workerOf(callSid) !== undefined, 10_000, 'the stream to start');
  return callSid;
}

describe('WORKERS=2 and pre-warm', { timeout: CLUSTER_TIMEOUT_MS }, () => {
  it('is off by default, says why at start, and no webhook opens an upstream session', async () => {
    const c = await start({ LOG_LEVEL: 'debug' });
    expect(c.records().find(isMsg('voice-bridge started'))).toMatchObject({ workers: 2, prewarm: false });
    expect(c.records().some((r) => typeof r.msg === 'string' && r.msg.startsWith('pre-warm off: with WORKERS > 1'))).toBe(true);
    for (let i = 0; i < 4; i++) await webhookThenStream(c);
    for (const call of calls) expect((await call.hangUp()).code).toBe(1000);
    c.server.child.kill('SIGTERM');
    expect(await c.server.exited).toEqual({ code: 0, signal: null });
    // Every line is in now: a pre-warm is logged when it is opened, at the webhook.
    expect(c.records().filter(isMsg('pre-warming the upstream session'))).toEqual([]);
    expect(c.realtime.totalConnections).toBe(4);
  });

  it('PREWARM=on forces it: every call opens two upstream sessions unless its stream adopted the pre-warmed one', async () => {
    const c = await start({ PREWARM: 'on' });
    expect(c.records().find(isMsg('voice-bridge started'))).toMatchObject({ prewarm: true });
    const n = 10;
    for (let i = 0; i < n; i++) await webhookThenStream(c);
    let adopted = -1;
    await until(
      async () => {
        adopted = value(await scrape(c), 'voice_bridge_prewarm_total', { outcome: 'adopted' });
        return c.realtime.totalConnections === 2 * n - adopted;
      },
      10_000,
      'two upstream sessions per call less those adopted',
    );
    expect(adopted).toBeLessThan(n); // round robin sends most streams to the other worker
    if (process.env.VB_REPORT) console.log(`PREWARM=on, WORKERS=2: ${adopted} of ${n} pre-warms adopted`);
    for (const call of calls) expect((await call.hangUp()).code).toBe(1000);
  });
});
