import { describe, expect, it } from 'vitest';
import { startBridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { expectRelayBothWays } from '../helpers/relay.js';
import { until } from '../helpers/until.js';

const caller = readFixture('caller-8k.ulaw').subarray(0, 8000);
const agent = readFixture('agent-8k.ulaw').subarray(0, 8000);

const track = closeAfterEach();

describe('invalid Realtime events on a live call', () => {
  it('are counted by type and reason, logged once per call per type and reason, and ignored', async () => {
    const b = track(await startBridge());
    const call = await b.call();
    const conn = await b.realtime.waitForConnection();
    await conn.waitForEvent('session.update');

    for (let i = 0; i < 50; i++) conn.send({ type: 'response.output_audio.delta', item_id: 'item_bad', delta: 'not base64!' });
    for (let i = 0; i < 5; i++) conn.send({ type: 'response.output_audio_transcript.done', item_id: 'item_bad' });
    for (let i = 0; i < 3; i++) conn.sendRaw(Buffer.from('{"type":"response.done"}'), { binary: true });
    conn.sendRaw('{"type":');
    const counted = async () => (await b.app.metrics.realtimeInvalidEvents.get()).values;
    await until(async () => (await counted()).reduce((n, v) => n + v.value, 0) === 59, 5000, '59 invalid events counted');
    const byLabels = Object.fromEntries((await counted()).map((v) => [`${String(v.labels.type)} ${String(v.labels.reason)}`, v.value]));
    expect(byLabels).toEqual({
      'response.output_audio.delta bad_base64': 50,
      'response.output_audio_transcript.done missing': 5,
      'none binary': 3,
      'none bad_json': 1,
    });
    const lines = b.logs.records().filter((r) => r.msg?.toString().startsWith('invalid event from the Realtime API'));
    expect(lines.map((l) => [l.type, l.reason, l.field, l.callSid])).toEqual([
      ['response.output_audio.delta', 'bad_base64', 'delta', call.callSid],
      ['response.output_audio_transcript.done', 'missing', 'transcript', call.callSid],
      ['none', 'binary', undefined, call.callSid],
      ['none', 'bad_json', undefined, call.callSid],
    ]);
    // Nothing of the junk reached the phone, and the call goes on, byte for byte both ways.
    expect(call.receivedBytes).toBe(0);
    expect(call.isOpen).toBe(true);
    await expectRelayBothWays(call, conn, caller, agent);
    await call.hangUp();
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    expect(b.logs.records().find((r) => r.msg === 'call ended')).toMatchObject({ reason: 'twilio_stop' });
  });
});
