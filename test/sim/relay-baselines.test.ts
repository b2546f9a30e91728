/**
 * The capacity benchmark's baselines carry real calls: the floor and the naive relay, served
 * in-process by the same shell the benchmark runs as a process, with the real load generator
 * (signed webhook → TwiML → stream, 20 ms frames) and the Realtime stand-in on the other side.
 */
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { startBaselineServer, type Relay } from '../../bench/baseline-server.js';
import { floorRelay } from '../../bench/relay-floor.js';
import { naiveRelay } from '../../bench/relay-naive.js';
import { LocalLoad } from '../../bench/load-driver.js';

const cases: [string, (upstreamUrl: string) => Relay, number, number][] = [
  // name, relay, bytes per append upstream, bytes per media to the caller
  ['floor relay', (url) => floorRelay(url, 7000), 800, 160],
  ['naive 20 ms relay', (url) => naiveRelay(url), 160, 160],
];

describe('capacity baselines', () => {
  for (const [name, make, appendBytes, mediaBytes] of cases) {
    it(`${name}: two calls through the real generator, audio both ways, nothing left open after hang-up`, async () => {
      // A short VAD silence so the stand-in answers within a second of audio (the naive relay sends media only for deltas).
      const load = await LocalLoad.start({ gapMs: 7000, standIn: { turns: { silenceMs: 40 } } });
      const relay = make(load.realtimeUrl);
      const server = await startBaselineServer(relay, { port: 0, host: '127.0.0.1' });
      try {
        await load.attach(`http://127.0.0.1:${server.port}`, 'not-checked');
        await load.add(2, 20);
        const placed = await load.snapshot();
        expect(placed.failures).toEqual([]);
        expect(placed.live).toBe(2);
        const { counts } = load.standIn;
        await until(() => counts.appendedBytes >= 2 * 3 * appendBytes && load.totals().bytesReceived >= 2 * 3 * mediaBytes, 8000, 'audio relayed both ways');
        // Caller audio went up in the relay's append size, answers came down as whole 20 ms media.
        expect(counts.appendedBytes % appendBytes).toBe(0);
        expect(counts.protocolErrors).toBe(0);
        expect(load.totals().bytesReceived % mediaBytes).toBe(0);
        expect(counts.connections).toBe(2);
        const c = relay.counters;
        expect(c.live).toBe(2);
        expect(c.twilioIn).toBeGreaterThan(0);
        expect(c.upstreamOut).toBeGreaterThan(0);
        expect(c.upstreamIn).toBeGreaterThan(0);
        expect(c.twilioOut).toBeGreaterThan(0);

        await load.hangUpAll();
        expect((await load.snapshot()).endedEarly).toBe(0);
        await until(() => c.live === 0 && counts.open === 0, 5000, 'both legs of both calls closed');
      } finally {
        await load.close();
        await server.close();
      }
    });
  }
});
