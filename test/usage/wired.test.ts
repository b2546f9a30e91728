/**
 * Model usage in the running bridge: the Realtime stand-in sends `response.done` with usage, and
 * the tokens (and, with prices only, the cost) show in Prometheus under the call's profile and in
 * its `call ended` line.
 */
import { describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../helpers/bridge.js';
import type { FakeRealtimeConnection } from '../../tools/fakes/fake-realtime-connection.js';
import { until } from '../helpers/until.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { useTempFiles } from '../assistants/files.js';

/** gpt-realtime's list prices at the time of writing, USD per million tokens. */
const PRICES = { input: { text: 4, audio: 32, cached: 0.4 }, output: { text: 16, audio: 64 } };
/**
 * One response's usage as the API reports it: 1000 input tokens (200 text, 800 audio; 100 of the
 * text cached) and 350 output tokens (50 text, 300 audio).
 */
const USAGE = {
  total_tokens: 1350,
  input_tokens: 1000,
  output_tokens: 350,
  input_token_details: { text_tokens: 200, audio_tokens: 800, cached_tokens: 100, cached_tokens_details: { text_tokens: 100, audio_tokens: 0 } },
  output_token_details: { text_tokens: 50, audio_tokens: 300 },
};
/** USAGE priced: (100×4 + 800×32 + 100×0.4 + 50×16 + 300×64) / 1e6 USD. */
const USAGE_COST_USD = 0.04604;

const temp = useTempFiles();
const track = closeAfterEach();

function responseDone(conn: FakeRealtimeConnection, usage: unknown, id: string): void {
  conn.send({ type: 'response.done', response: { id, object: 'realtime.response', status: 'completed', output: [], usage } });
}

type Series = Record<string, number>;
/** A counter's values keyed by their labels, `a=1,b=2`. */
async function series(counter: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }): Promise<Series> {
  const { values } = await counter.get();
  return Object.fromEntries(values.map((v) => [Object.entries(v.labels).map(([k, l]) => `${k}=${String(l)}`).join(','), v.value]));
}

async function endedLine(b: Bridge, callSid: string): Promise<Record<string, unknown>> {
  let line: Record<string, unknown> | undefined;
  await until(() => (line = b.logs.records().find((r) => r.msg === 'call ended' && r.callSid === callSid)) !== undefined, 5000, 'call ended line');
  return line!;
}

describe('model usage per call', () => {
  it('sums each response.done usage into tokens_total and, with MODEL_PRICES, cost_total, and puts both in the call ended line', async () => {
    const bridge = track(await startBridge({ MODEL_PRICES: JSON.stringify(PRICES) }));
    const call = await bridge.call();
    const conn = await bridge.realtime.waitForConnection();
    await conn.waitForEvent('session.update');
    responseDone(conn, USAGE, 'resp_1');
    responseDone(conn, USAGE, 'resp_2');
    responseDone(conn, undefined, 'resp_no_usage'); // cancelled responses may carry none: not a problem
    const metrics = bridge.app.metrics;
    await until(async () => (await series(metrics.modelTokens))['direction=output,modality=audio,assistant=default'] === 600, 5000, 'tokens of two responses');
    expect(await series(metrics.modelTokens)).toEqual({
      'direction=input,modality=text,assistant=default': 200,
      'direction=input,modality=audio,assistant=default': 1600,
      'direction=input,modality=cached,assistant=default': 200,
      'direction=output,modality=text,assistant=default': 100,
      'direction=output,modality=audio,assistant=default': 600,
    });
    const cost = await series(metrics.modelCost);
    expect(Object.keys(cost)).toEqual(['assistant=default']);
    expect(cost['assistant=default']).toBeCloseTo(2 * USAGE_COST_USD, 12);
    // The Prometheus text a scrape reads.
    const text = await metrics.registry.metrics();
    expect(text).toContain('voice_bridge_model_tokens_total{direction="input",modality="audio",assistant="default"} 1600');
    const scraped = /^voice_bridge_model_cost_total\{assistant="default"\} (\S+)$/m.exec(text)?.[1];
    expect(Number(scraped)).toBeCloseTo(2 * USAGE_COST_USD, 12);

    await call.hangUp();
    const ended = await endedLine(bridge, call.callSid);
    expect(ended).toMatchObject({
      assistant: 'default',
      reason: 'twilio_stop',
      usage: {
        responses: 2,
        unreadable: 0,
        tokens: { input: { text: 200, audio: 1600, cached: 200 }, output: { text: 100, audio: 600 } },
        costUsd: 0.09208,
      },
    });
  });

  it('shows no cost anywhere without prices, and counts an unreadable usage without guessing', async () => {
    const bridge = track(await startBridge());
    const call = await bridge.call();
    const conn = await bridge.realtime.waitForConnection();
    await conn.waitForEvent('session.update');
    responseDone(conn, USAGE, 'resp_1');
    // Cached tokens that cannot be attributed to a modality: refused, never guessed.
    responseDone(conn, { input_token_details: { text_tokens: 10, audio_tokens: 10, cached_tokens: 5 } }, 'resp_bad');
    responseDone(conn, 'lots', 'resp_junk');
    await until(async () => (await series(bridge.app.metrics.modelTokens))['direction=output,modality=audio,assistant=default'] === 300, 5000, 'tokens');
    await call.hangUp();
    const ended = await endedLine(bridge, call.callSid);
    expect(ended.usage).toEqual({
      responses: 1,
      unreadable: 2,
      tokens: { input: { text: 100, audio: 800, cached: 100 }, output: { text: 50, audio: 300 } },
    });
    expect((await bridge.app.metrics.modelCost.get()).values).toEqual([]);
    expect(await bridge.app.metrics.registry.metrics()).not.toMatch(/^voice_bridge_model_cost_total\{/m);
    // One warning per call, however many responses were unreadable.
    const warned = bridge.logs.records().filter((r) => typeof r.msg === 'string' && r.msg.includes("usage could not be read"));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, callSid: call.callSid, assistant: 'default' });
  });

  it('labels tokens with each call\'s profile, and prices only the profiles that have prices', async () => {
    const path = temp().write('assistants.json', {
      default: 'desk',
      assistants: { desk: { instructions: 'Desk.' }, sales: { instructions: 'Sell.', prices: PRICES } },
      numbers: {},
    });
    const bridge = track(await startBridge({ ASSISTANTS_FILE: path }));
    for (const [i, name] of ['desk', 'sales'].entries()) {
      const call = await bridge.call({ customParameters: { assistant: name } });
      const conn = await bridge.realtime.waitForConnection(i);
      await conn.waitForEvent('session.update');
      responseDone(conn, USAGE, `resp_${name}`);
      await until(async () => (await series(bridge.app.metrics.modelTokens))[`direction=input,modality=text,assistant=${name}`] === 100, 5000, `${name} tokens`);
      await call.hangUp();
      const ended = await endedLine(bridge, call.callSid);
      expect(ended.assistant).toBe(name);
      expect((ended.usage as { costUsd?: number }).costUsd).toBe(name === 'sales' ? USAGE_COST_USD : undefined);
    }
    const cost = await series(bridge.app.metrics.modelCost);
    expect(Object.keys(cost)).toEqual(['assistant=sales']);
    expect(cost['assistant=sales']).toBeCloseTo(USAGE_COST_USD, 12);
  });
});
