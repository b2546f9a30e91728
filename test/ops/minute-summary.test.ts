import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { EMPTY_SNAPSHOT, startMinuteSummary, summarize, takeSnapshot } from '../../src/ops/minute-summary.js';
import { startBridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { until } from '../helpers/until.js';

describe('summarize (pure)', () => {
  it('reports the deltas, the live-call gauge as is, and only the rejection reasons that moved', () => {
    const prev = {
      httpRequests: 10,
      wsMessages: { twilio_in: 100, twilio_out: 40, upstream_in: 50, upstream_out: 20 },
      rejections: { bad_token: 3, flood: 1 },
      droppedFrames: { to_twilio: 2 },
      prewarms: { adopted: 10, expired: 1 },
      liveCalls: 4,
    };
    const cur = {
      httpRequests: 25,
      wsMessages: { twilio_in: 700, twilio_out: 100, upstream_in: 90, upstream_out: 140 },
      rejections: { bad_token: 3, flood: 6, capacity: 2 },
      droppedFrames: { to_twilio: 5, to_upstream: 1 },
      prewarms: { adopted: 19, expired: 1, not_usable: 1 },
      liveCalls: 2,
    };
    expect(summarize(prev, cur, 60_000)).toEqual({
      intervalMs: 60_000,
      httpRequests: 15,
      wsMessages: { twilioIn: 600, twilioOut: 60, upstreamIn: 40, upstreamOut: 120 },
      rejections: { flood: 5, capacity: 2 },
      liveCalls: 2,
      droppedFrames: { toUpstream: 1, toTwilio: 3 },
      prewarms: { adopted: 9, expired: 0, notUsable: 1, discarded: 0 },
    });
  });

  it('a quiet minute is all zeros; nothing goes negative', () => {
    const line = summarize({ ...EMPTY_SNAPSHOT, httpRequests: 9 }, EMPTY_SNAPSHOT, 60_000);
    expect(line).toMatchObject({ httpRequests: 0, rejections: {}, liveCalls: 0, droppedFrames: { toUpstream: 0, toTwilio: 0 } });
    expect(line.wsMessages).toEqual({ twilioIn: 0, twilioOut: 0, upstreamIn: 0, upstreamOut: 0 });
  });
});

describe('the summary shell', () => {
  const track = closeAfterEach();

  it('reads the same counters /metrics serves, and each line covers only its own interval', async () => {
    const metrics = createMetrics({ processDefaults: false });
    const lines: { fields: object; msg: string }[] = [];
    const log = { info: (fields: object, msg: string) => lines.push({ fields, msg }), warn: () => undefined };
    const summary = startMinuteSummary({ metrics, log: log as never, intervalMs: 3_600_000 });
    track(() => summary.stop());
    metrics.httpRequests.labels('/healthz', 'GET', '200').inc(3);
    metrics.rejections.labels('ip_cap').inc(2);
    metrics.wsMessages.labels('twilio', 'in').inc(50);
    metrics.liveCalls.set(1);
    const first = await summary.report();
    expect(first).toMatchObject({ httpRequests: 3, rejections: { ip_cap: 2 }, liveCalls: 1, wsMessages: { twilioIn: 50 } });
    metrics.httpRequests.labels('/readyz', 'GET', '503').inc();
    const second = await summary.report();
    expect(second).toMatchObject({ httpRequests: 1, rejections: {}, liveCalls: 1, wsMessages: { twilioIn: 0 } });
    expect(lines.map((l) => l.msg)).toEqual(['metrics', 'metrics']);
    expect((await takeSnapshot(metrics)).httpRequests).toBe(4);
  });

  it('WORKERS > 1: the primary logs from a snapshot taken elsewhere, with its own fields added', async () => {
    const lines: { fields: Record<string, unknown>; msg: string }[] = [];
    const log = { info: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }), warn: () => undefined };
    let total = 0;
    const summary = startMinuteSummary({
      snapshot: () => Promise.resolve({ ...EMPTY_SNAPSHOT, httpRequests: (total += 5), liveCalls: 3 }),
      fields: () => ({ workers: 2 }),
      log: log as never,
      intervalMs: 3_600_000,
    });
    track(() => summary.stop());
    await summary.report();
    const second = await summary.report();
    expect(second).toMatchObject({ httpRequests: 5, liveCalls: 3 });
    expect(lines[1]).toMatchObject({ msg: 'metrics', fields: { httpRequests: 5, liveCalls: 3, workers: 2 } });
    expect(() => startMinuteSummary({ log: log as never })).toThrow('startMinuteSummary needs metrics or a snapshot');
  });

  it('the app logs one `metrics` line per interval and stops when the app closes', async () => {
    const bridge = track(await startBridge({}, { deps: { summaryIntervalMs: 25 } }));
    await fetch(`http://127.0.0.1:${bridge.port}/healthz`);
    const metricsLines = () => bridge.logs.records().filter((r) => r.msg === 'metrics');
    await until(() => metricsLines().some((r) => (r.httpRequests as number) >= 1), 5000, 'a metrics line counting the request');
    const line = metricsLines().find((r) => (r.httpRequests as number) >= 1);
    expect(line).toMatchObject({ level: 30, httpRequests: 1, liveCalls: 0, rejections: {} });
    await bridge.close();
    const count = metricsLines().length;
    await new Promise((r) => setTimeout(r, 100));
    expect(metricsLines().length).toBe(count);
  });
});
