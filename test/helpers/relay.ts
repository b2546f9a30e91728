import { expect } from 'vitest';
import type { FakeRealtimeConnection } from '../../tools/fakes/fake-realtime-connection.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { until } from './until.js';

/**
 * Proves a live call relays both ways byte for byte: `caller` audio reaches the upstream, then
 * `agent` audio (sent as a burst of 1600-byte deltas) reaches the caller.
 */
export async function expectRelayBothWays(
  call: FakeTwilioCall,
  conn: FakeRealtimeConnection,
  caller: Buffer,
  agent: Buffer,
): Promise<void> {
  await call.streamAudio(caller, { realTime: false });
  await until(() => conn.appendedBytes >= caller.length, 3000, 'caller audio upstream');
  expect(conn.appendedAudio().equals(caller)).toBe(true);
  await conn.sendAudio(agent, { chunkBytes: 1600, intervalMs: 0 });
  await until(() => call.receivedBytes >= agent.length, 3000, 'agent audio at twilio');
  expect(call.receivedAudio().equals(agent)).toBe(true);
}
