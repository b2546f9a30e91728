/**
 * The guard's fast lane over real sockets: anonymous stream upgrades the store decides at once
 * are answered on the raw socket before Fastify sees them, with the same status, headers, body
 * and counters as the hook (compared case by case in one-judge.test.ts); everything else still
 * goes through Fastify.
 */
import { describe, expect, it } from 'vitest';
import { hangUp, rawUpgrade, rejectionCounts, harnessPerTest, startHarness, tokenFor, upgrade } from './harness.js';

const harness = harnessPerTest();

describe('fast lane', () => {
  it('a banned address gets 403 with Retry-After on the raw socket, which the server closes; Fastify never sees it', async () => {
    const h = await harness();
    const first = await rawUpgrade(h, '/twilio/stream/forged', { from: '127.0.0.50' });
    expect([first.status, JSON.parse(first.body)]).toEqual([401, { error: 'Unauthorized', reason: 'bad_token' }]);
    expect(first.headers['retry-after']).toBeUndefined();
    h.clock += 12_500;
    const banned = await rawUpgrade(h, '/twilio/stream/forged-again', { from: '127.0.0.50' });
    expect(banned.closed).toBe(true);
    expect(banned.status).toBe(403);
    expect(banned.headers).toMatchObject({
      'retry-after': '18', // 30 s cooldown, 12.5 s gone: 17.5 s rounded up
      connection: 'close',
      'cache-control': 'no-store',
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(banned.body)),
    });
    expect(JSON.parse(banned.body)).toEqual({ error: 'Forbidden', reason: 'cooldown' });
    expect(h.seen).toEqual([]);
    expect(h.accepted).toHaveLength(0);
    expect(await rejectionCounts(h.metrics)).toEqual({ bad_token: 1, cooldown: 1 });
    const logged = h.logs.records().filter((r) => r.msg === 'guard refused');
    expect(logged.map((r) => [r.ip, r.status, r.reason])).toEqual([
      ['127.0.0.50', 401, 'bad_token'],
      ['127.0.0.50', 403, 'cooldown'],
    ]);
  });

  it('behind trusted proxies, takes over once the hook has seen the same peer and X-Forwarded-For', async () => {
    const h = await harness({ env: { TRUST_PROXY: '127.0.0.55' } });
    const via = (xff: string) => ({ from: '127.0.0.55', headers: { 'x-forwarded-for': xff } });
    expect((await rawUpgrade(h, '/twilio/stream/forged', via('203.0.113.9'))).status).toBe(401);
    expect(h.seen).toHaveLength(1); // Fastify computed the client address, and the lane learnt it
    const again = await rawUpgrade(h, '/twilio/stream/forged', via('203.0.113.9'));
    expect([again.status, JSON.parse(again.body), again.headers['retry-after'], again.closed]).toEqual([
      403,
      { error: 'Forbidden', reason: 'cooldown' },
      '30',
      true,
    ]);
    expect(h.seen).toHaveLength(1);
    // Another client behind the same proxy is its own address, judged by the hook the first time.
    expect((await rawUpgrade(h, '/twilio/stream/forged', via('198.51.100.4'))).status).toBe(401);
    expect(h.seen).toHaveLength(2);
    // The proxy itself was never banned.
    expect((await rawUpgrade(h, '/twilio/stream/forged', { from: '127.0.0.55' })).status).toBe(401);
  });

  it('a valid token from that banned address still connects (101), through Fastify', async () => {
    const h = await harness();
    expect((await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.52' })).status).toBe(401);
    expect((await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.52' })).status).toBe(403);
    const { token, callSid } = tokenFor(h);
    const ok = await upgrade(h, `/twilio/stream/${token}`, { from: '127.0.0.52' });
    expect(ok.status).toBe(101);
    expect(h.seen).toEqual([`/twilio/stream/${token}`]);
    expect(h.accepted.map((a) => a.callSid)).toEqual([callSid]);
    await hangUp(ok.ws);
    await expect.poll(() => h.registry.live).toBe(0);
  });

  it('leaves upgrades to other paths, and stream paths the router might read otherwise, to Fastify', async () => {
    const h = await harness({ upgradeSettleMs: 200 });
    // Only who answers matters here, so no need to wait for the end of each exchange.
    const paths = ['/healthz', '/twilio/stream/a%2Fb', '/twilio/stream/a/b', '/twilio/stream'];
    for (const path of paths) await rawUpgrade(h, path, { from: '127.0.0.53', giveUpMs: 200 });
    expect(h.seen).toEqual(paths);
  });

  it('closes upgrade sockets that Fastify answers from its router, without hooks (414, 400)', async () => {
    const h = await harness({ upgradeSettleMs: 200 });
    // Over maxParamLength: 414 straight from the router. A bad escape: 400, likewise.
    const long = await rawUpgrade(h, `/twilio/stream/${'x'.repeat(400)}`, { from: '127.0.0.54' });
    const escape = await rawUpgrade(h, '/twilio/stream/%zz', { from: '127.0.0.54' });
    expect([long.status, long.closed]).toEqual([414, true]);
    expect([escape.status, escape.closed]).toEqual([400, true]);
    expect(h.seen).toEqual([]); // no hook ran: the idle deadline is what closed them
  });

  it('closing puts the server listeners back: the lane leaves nothing behind', async () => {
    const h = await startHarness(); // closed here, not after the test
    const server = h.app.server;
    // Listening, the lane stands in front of the app's own upgrade listeners: it is the only one.
    const [lane, ...others] = server.listeners('upgrade');
    expect(others).toEqual([]);
    await h.close();
    // Closed, the app's own listeners are back (@fastify/websocket's and the closing-time 503's:
    // the app's preClose leaves them on the closed server) and the lane is gone.
    const after = server.listeners('upgrade');
    expect(after).not.toContain(lane);
    expect(after.map((l) => l.name)).toContain('onUpgrade');
  });
});
