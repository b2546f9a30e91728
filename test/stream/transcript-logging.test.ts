import { describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { until } from '../helpers/until.js';

const CALLER_WORDS = 'my card number is four one one one';
const ASSISTANT_WORDS = 'thanks, I have noted your card ending one one one';
const DIGIT = '7';
const answer = readFixture('agent-8k.ulaw').subarray(0, 1600);

const track = closeAfterEach();

/** One call in which the caller and the assistant speak (transcripts) and the caller presses a key. */
async function callWithTranscripts(env: Record<string, string | undefined>): Promise<Bridge> {
  const bridge = track(await startBridge(env));
  const call = await bridge.call();
  const conn = await bridge.realtime.waitForConnection();
  await conn.waitForEvent('session.update');
  conn.userTranscript('item_caller', CALLER_WORDS);
  conn.agentTranscript('resp_1', 'item_assistant', ASSISTANT_WORDS);
  // Upstream messages are handled in order: once this audio is on the phone, both transcripts were handled.
  await conn.sendAudio(answer, { intervalMs: 0 });
  await call.waitForCount('media', 1);
  call.dtmf(DIGIT);
  // The digit reaches the model as a user message: the key press was handled.
  await conn.waitForEvent('conversation.item.create');
  await call.hangUp();
  await until(() => bridge.app.sessions.size === 0, 5000, 'session gone');
  return bridge;
}

describe('transcripts in the log', () => {
  it('are left out by default, with keypad digits', async () => {
    const b = await callWithTranscripts({});
    const text = b.logs.text();
    expect(text).not.toContain(CALLER_WORDS);
    expect(text).not.toContain(ASSISTANT_WORDS);
    expect(b.logs.records().filter((r) => r.msg === 'transcript')).toEqual([]);
    const key = b.logs.records().find((r) => r.msg === 'caller pressed a key');
    expect(key).toBeDefined();
    expect(key).not.toHaveProperty('digit');
    // The call itself was logged as usual.
    expect(b.logs.records().filter((r) => r.msg === 'call ended')).toHaveLength(1);
  });

  it('are logged with LOG_TRANSCRIPTS=true', async () => {
    const b = await callWithTranscripts({ LOG_TRANSCRIPTS: 'true' });
    const lines = b.logs.records().filter((r) => r.msg === 'transcript');
    expect(lines.map((r) => [r.speaker, r.transcript])).toEqual([
      ['caller', CALLER_WORDS],
      ['assistant', ASSISTANT_WORDS],
    ]);
    expect(lines.every((r) => typeof r.callSid === 'string')).toBe(true);
    expect(b.logs.records().find((r) => r.msg === 'caller pressed a key')).toMatchObject({ digit: DIGIT });
  });
});
