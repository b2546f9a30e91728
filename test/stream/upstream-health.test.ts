import { describe, expect, it } from 'vitest';
import { UpstreamHealth } from '../../src/stream/upstream-health.js';
import { startBridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { signedWebhook } from '../helpers/webhook.js';

describe('UpstreamHealth (pure)', () => {
  it('opens after 3 failures in a row, lets a trial through after the retry window, closes on success', () => {
    const h = new UpstreamHealth(3, 15_000);
    h.onFailure(0);
    h.onFailure(10);
    expect(h.isDown(20)).toBe(false);
    h.onSuccess(); // a success resets the run
    h.onFailure(30);
    h.onFailure(40);
    expect(h.isDown(50)).toBe(false);
    h.onFailure(60);
    expect([h.isDown(60), h.isDown(15_059), h.down]).toEqual([true, true, true]);
    expect(h.isDown(15_060)).toBe(false); // trial call allowed
    h.onFailure(15_100); // the trial failed: down again for a full window
    expect([h.isDown(15_101), h.isDown(30_099), h.isDown(30_100)]).toEqual([true, true, false]);
    h.onSuccess();
    expect([h.isDown(30_101), h.down]).toEqual([false, false]);
  });
});

const track = closeAfterEach();

describe('an unreachable upstream, end to end', () => {
  it('after 3 failed connects the webhook speaks instead of streaming, and recovers after a trial', async () => {
    let wall = Date.now();
    const b = track(await startBridge({}, { deps: { upstreamRetryAfterMs: 300, clock: { wall: () => wall } } }));
    const webhook = async () => {
      const params = { CallSid: 'CA' + Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32), From: '+15550001111' };
      const res = await b.app.inject({ method: 'POST', url: '/twilio/voice', ...signedWebhook('/twilio/voice', params) });
      return res.body;
    };
    b.realtime.failUpgrades(503);
    for (let i = 0; i < 3; i++) {
      const call = await b.call();
      expect((await call.closed).code).toBe(1011);
    }
    const refused = await webhook();
    expect(refused).toMatch(/<Response><Say>[^<]+<\/Say><Hangup\/><\/Response>$/);
    expect(refused).not.toContain('<Stream');
    const ready = (await b.app.inject('/readyz')).json();
    expect(ready).toMatchObject({ status: 'degraded', checks: { upstream: 'down' } });

    b.realtime.failUpgrades(null);
    expect(await webhook()).not.toContain('<Stream'); // still within the retry window
    wall += 300;
    expect(await webhook()).toContain('<Stream');
    const call = await b.call();
    await b.realtime.waitForEvent('session.update');
    expect((await b.app.inject('/readyz')).json()).toMatchObject({ status: 'ready', checks: { upstream: 'ok' } });
    await call.hangUp();
  });
});
