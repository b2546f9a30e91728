import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { createMetrics } from '../../src/metrics.js';
import { startBridge, type Bridge } from '../helpers/bridge.js';
import { captureLogs } from '../helpers/log-capture.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { TEST_AUTH_TOKEN, testConfig } from '../helpers/config.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { connectFakeTwilio, UpgradeRejectedError } from '../../tools/fakes/fake-twilio.js';
import { families, value } from './prom-text.js';
import { signedWebhook } from '../helpers/webhook.js';
import { until } from '../helpers/until.js';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';

const track = closeAfterEach();

async function build(env: Record<string, string | undefined> = {}, processDefaults = false): Promise<FastifyInstance> {
  const config = testConfig(env);
  return track(await buildApp(config, { logger: captureLogs(config).logger, metrics: createMetrics({ processDefaults }) }));
}

/** One real scrape over HTTP from loopback. */
async function scrape(target: Bridge): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${target.port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/**
 * The same text straight from the registry, for polling: polling over HTTP every 10 ms would
 * itself trip the guard's flood rule (more than 20 requests in 5 s from one IP).
 */
function peek(target: Bridge): Promise<string> {
  return target.app.metrics.registry.metrics();
}

describe('GET /metrics: what it exposes', () => {
  it('serves Prometheus text with every named series, the process defaults and event-loop lag', async () => {
    const a = await build({}, true);
    const res = await a.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const names = families(res.body);
    for (const name of [
      'voice_bridge_http_requests_total',
      'voice_bridge_ws_messages_total',
      'voice_bridge_rejections_total',
      'voice_bridge_live_calls',
      'voice_bridge_calls_started_total',
      'voice_bridge_calls_ended_total',
      'voice_bridge_audio_frames_total',
      'voice_bridge_audio_bytes_total',
      'voice_bridge_dropped_frames_total',
      'voice_bridge_dropped_bytes_total',
      'voice_bridge_invalid_frames_total',
      'voice_bridge_upstream_connect_seconds',
      'voice_bridge_call_duration_seconds',
      'voice_bridge_guard_store_errors_total',
      'voice_bridge_draining',
      'voice_bridge_nodejs_eventloop_lag_seconds',
      'voice_bridge_nodejs_eventloop_lag_p99_seconds',
      'voice_bridge_process_resident_memory_bytes',
    ]) {
      expect(names, name).toContain(name);
    }
    // Every family carries the prefix.
    expect([...names].filter((n) => !n.startsWith('voice_bridge_'))).toEqual([]);
  });
});

describe('GET /metrics: who may read it', () => {
  it('without METRICS_TOKEN, serves loopback callers only', async () => {
    const a = await build();
    for (const remoteAddress of ['127.0.0.1', '127.3.2.1', '::1', '::ffff:127.0.0.1']) {
      expect((await a.inject({ url: '/metrics', remoteAddress })).statusCode, remoteAddress).toBe(200);
    }
    for (const remoteAddress of ['203.0.113.5', '10.0.0.7', '::ffff:203.0.113.5', '2001:db8::1', '128.0.0.1']) {
      const res = await a.inject({ url: '/metrics', remoteAddress });
      expect(res.statusCode, remoteAddress).toBe(403);
      expect(res.body).not.toContain('voice_bridge_');
    }
  });

  it('judges the client named by a trusted proxy, not the proxy (TRUST_PROXY=loopback, as behind Caddy)', async () => {
    const a = await build({ TRUST_PROXY: 'loopback' });
    const viaProxy = await a.inject({ url: '/metrics', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(viaProxy.statusCode).toBe(403);
    const localViaProxy = await a.inject({ url: '/metrics', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(localViaProxy.statusCode).toBe(200);
  });

  it('ignores X-Forwarded-For from an untrusted peer (TRUST_PROXY off)', async () => {
    const a = await build();
    const forged = await a.inject({ url: '/metrics', remoteAddress: '203.0.113.9', headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(forged.statusCode).toBe(403);
  });

  it('with METRICS_TOKEN, requires the bearer token from every address, loopback included', async () => {
    const a = await build({ METRICS_TOKEN });
    const cases: [string | undefined, string, number][] = [
      [undefined, '127.0.0.1', 403],
      ['Bearer wrong-token', '127.0.0.1', 403],
      [`Bearer ${METRICS_TOKEN}x`, '127.0.0.1', 403],
      [`Bearer ${METRICS_TOKEN.slice(0, -1)}`, '127.0.0.1', 403],
      [`Basic ${METRICS_TOKEN}`, '127.0.0.1', 403],
      [METRICS_TOKEN, '127.0.0.1', 403],
      [`Bearer ${METRICS_TOKEN}`, '203.0.113.5', 200],
      [`bearer ${METRICS_TOKEN}`, '127.0.0.1', 200],
    ];
    for (const [authorization, remoteAddress, status] of cases) {
      const res = await a.inject({ url: '/metrics', remoteAddress, headers: authorization ? { authorization } : {} });
      expect(res.statusCode, `${authorization} from ${remoteAddress}`).toBe(status);
    }
  });

  it('serves a real loopback socket and never logs the token', async () => {
    const config = testConfig({ METRICS_TOKEN });
    const logs = captureLogs(config);
    const app = track(await buildApp(config, { logger: logs.logger, metrics: createMetrics({ processDefaults: false }) }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const ok = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('voice_bridge_http_requests_total');
    const refused = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(refused.status).toBe(403);
    expect(logs.text()).not.toContain(METRICS_TOKEN);
  });
});

describe('GET /metrics: the figures move', () => {
  it('when a call runs: starts, ends by reason, live calls, frames and bytes each way, histograms', async () => {
    const bridge = track(await startBridge());
    const caller = readFixture('caller-8k.ulaw').subarray(0, 8000); // 1 s
    const agent = readFixture('agent-8k.ulaw').subarray(0, 12_000); // 1.5 s
    const before = await scrape(bridge);
    expect(value(before, 'voice_bridge_calls_started_total')).toBe(0);

    const call = await bridge.call();
    const conn = await bridge.realtime.waitForConnection();
    await bridge.realtime.waitForEvent('session.update');
    await until(async () => value(await peek(bridge), 'voice_bridge_live_calls') === 1, 2000, 'live_calls 1');
    await call.streamAudio(caller, { realTime: false });
    await until(() => conn.appendedBytes >= caller.length, 2000, 'caller audio upstream');
    await conn.sendAudio(agent, { chunkBytes: 4000, intervalMs: 0 });
    await until(() => call.receivedBytes >= agent.length, 3000, 'agent audio at twilio');
    await call.hangUp();
    await until(async () => value(await peek(bridge), 'voice_bridge_calls_ended_total') === 1, 3000, 'call ended');

    const after = await scrape(bridge);
    expect(value(after, 'voice_bridge_calls_started_total')).toBe(1);
    expect(value(after, 'voice_bridge_calls_ended_total', { reason: 'twilio_stop' })).toBe(1);
    expect(value(after, 'voice_bridge_live_calls')).toBe(0);
    expect(value(after, 'voice_bridge_audio_bytes_total', { direction: 'to_upstream' })).toBe(caller.length);
    expect(value(after, 'voice_bridge_audio_frames_total', { direction: 'to_upstream' })).toBe(conn.count('input_audio_buffer.append'));
    expect(value(after, 'voice_bridge_audio_frames_total', { direction: 'to_upstream' })).toBe(caller.length / 800);
    expect(value(after, 'voice_bridge_audio_bytes_total', { direction: 'to_twilio' })).toBe(agent.length);
    expect(value(after, 'voice_bridge_audio_frames_total', { direction: 'to_twilio' })).toBe(call.count('media'));
    expect(value(after, 'voice_bridge_dropped_frames_total')).toBe(0);
    // connected + start + 50 media frames + stop, as sent by the fake Twilio.
    expect(value(after, 'voice_bridge_ws_messages_total', { peer: 'twilio', direction: 'in' })).toBe(1 + 1 + caller.length / 160 + 1);
    expect(value(after, 'voice_bridge_ws_messages_total', { peer: 'twilio', direction: 'out' })).toBe(call.messages.length);
    expect(value(after, 'voice_bridge_ws_messages_total', { peer: 'upstream', direction: 'out' })).toBe(conn.events.length);
    expect(value(after, 'voice_bridge_ws_messages_total', { peer: 'upstream', direction: 'in' })).toBeGreaterThan(0);
    expect(value(after, 'voice_bridge_upstream_connect_seconds_count')).toBe(1);
    expect(value(after, 'voice_bridge_call_duration_seconds_count')).toBe(1);
  });

  it('when requests are refused: HTTP status by route, invalid frames by reason', async () => {
    const bridge = track(await startBridge({ TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN }));
    const params = { CallSid: 'CA' + 'f'.repeat(32), From: '+15550001111' };
    const post = (signature?: string) =>
      fetch(`http://127.0.0.1:${bridge.port}/twilio/voice`, {
        method: 'POST',
        ...signedWebhook('/twilio/voice', params, { signature }),
      });
    expect((await post('forged')).status).toBe(403);
    expect((await post('forged')).status).toBe(403);
    expect((await post()).status).toBe(200);

    // An upgrade with a forged token is refused before the upgrade.
    const { callSid } = bridge.mint();
    await expect(
      connectFakeTwilio({ url: bridge.streamUrl('forged.token'), token: 'forged.token', callSid }),
    ).rejects.toBeInstanceOf(UpgradeRejectedError);

    // Two bad frames on a valid stream.
    const call = await bridge.call();
    await bridge.realtime.waitForConnection();
    call.sendRaw('not json');
    call.sendRaw(Buffer.from([1, 2, 3]), { binary: true });
    await until(async () => value(await peek(bridge), 'voice_bridge_invalid_frames_total') === 2, 2000, 'invalid frames');
    await call.hangUp();

    // Read over HTTP from another loopback address: the refusals above put 127.0.0.1 in the
    // guard's cooldown (when the guard is installed), which would answer this scrape with 403.
    const res = await bridge.app.inject({ url: '/metrics', remoteAddress: '127.0.0.77' });
    expect(res.statusCode).toBe(200);
    const text = res.body;
    expect(value(text, 'voice_bridge_http_requests_total', { route: '/twilio/voice', method: 'POST', status: '403' })).toBe(2);
    expect(value(text, 'voice_bridge_http_requests_total', { route: '/twilio/voice', method: 'POST', status: '200' })).toBe(1);
    const refusedUpgrades = parseRefusedUpgrades(text);
    expect(refusedUpgrades).toBe(1);
    expect(Object.keys(invalidReasons(text)).length).toBe(2);
  });
});

describe('per-call counters (CallCounters)', () => {
  it('are published exactly at every read: get(), the scrape text and repeated reads agree', async () => {
    const m = createMetrics({ processDefaults: false });
    const a = m.calls.open();
    const b = m.calls.open();
    a.twilioMessagesIn += 1;
    b.twilioMessagesIn += 2;
    a.bytesToTwilio += 800;
    a.framesToTwilio += 1;
    b.upstreamMessagesOut += 5;
    m.wsMessages.labels('upstream', 'out').inc(2); // a direct increment (the pre-warm pool) adds up with them
    let text = await m.registry.metrics();
    expect(value(text, 'voice_bridge_ws_messages_total', { peer: 'twilio', direction: 'in' })).toBe(3);
    expect(value(text, 'voice_bridge_ws_messages_total', { peer: 'upstream', direction: 'out' })).toBe(7);
    expect(value(text, 'voice_bridge_audio_bytes_total', { direction: 'to_twilio' })).toBe(800);
    expect(value(text, 'voice_bridge_audio_frames_total', { direction: 'to_twilio' })).toBe(1);
    expect(value(text, 'voice_bridge_dropped_frames_total')).toBe(0);
    a.twilioMessagesIn += 4;
    b.droppedToUpstream.frames += 2;
    // A call that ends keeps its counts in the totals; what it counts afterwards is not seen.
    m.calls.close(a);
    a.twilioMessagesIn += 100;
    const ws = await m.wsMessages.get();
    expect(ws.values.find((v) => v.labels.peer === 'twilio' && v.labels.direction === 'in')?.value).toBe(7);
    // A second read publishes nothing twice.
    text = await m.registry.metrics();
    expect(value(text, 'voice_bridge_ws_messages_total', { peer: 'twilio', direction: 'in' })).toBe(7);
    expect(value(text, 'voice_bridge_ws_messages_total', { peer: 'upstream', direction: 'out' })).toBe(7);
    expect(value(text, 'voice_bridge_dropped_frames_total', { direction: 'to_upstream' })).toBe(2);
    m.calls.close(b);
    m.calls.close(b); // twice: counted once
    text = await m.registry.metrics();
    expect(value(text, 'voice_bridge_ws_messages_total', { peer: 'twilio', direction: 'in' })).toBe(7);
    expect(value(text, 'voice_bridge_dropped_frames_total', { direction: 'to_upstream' })).toBe(2);
  });
});

/** Refused upgrades to the stream route, whatever 4xx status the guard chose. */
function parseRefusedUpgrades(text: string): number {
  let n = 0;
  for (const status of ['401', '403', '409', '429', '503']) {
    n += value(text, 'voice_bridge_http_requests_total', { route: '/twilio/stream/:token', status });
  }
  return n;
}

function invalidReasons(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^voice_bridge_invalid_frames_total\{reason="([^"]+)"\} (\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
