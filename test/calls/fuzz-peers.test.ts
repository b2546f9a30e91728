/**
 * Fuzzing both peers of a live call through the real app, with the tools on (REST credentials
 * and a fake Twilio REST): broken Realtime events of every known type and broken Twilio frames
 * are thrown at one call while a second, well-behaved call runs beside it.
 *
 * Properties: the process stays up (vitest fails the run on any uncaught exception or unhandled
 * rejection); the well-behaved call is never closed and relays every byte both ways; the fuzzed
 * call either goes on (it still answers a tool call and a key press after each batch) or ends
 * with one of its defined close codes, never with internal_error; no error line is logged.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startBridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { TEST_AUTH_TOKEN } from '../helpers/config.js';
import { startFakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import type { FakeRealtimeConnection } from '../../tools/fakes/fake-realtime-connection.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { realtimeFrame, twilioFrame, type FuzzFrame } from '../helpers/peer-fuzz.js';
import { until } from '../helpers/until.js';

const ACCOUNT_SID = 'AC' + '3'.repeat(32);
/** 2 s of each fixture for the well-behaved call, streamed in real time while the fuzz runs. */
const callerAudio = readFixture('caller-8k.ulaw').subarray(0, 16_000);
const agentAudio = readFixture('agent-8k.ulaw').subarray(0, 16_000);

/** Batches thrown (each up to 40 Realtime frames and 14 Twilio frames); modest, for a busy 2-core machine. */
const FUZZ_RUNS = 60;

/** How a fuzzed call may end: [close code, reason text] sent to Twilio, with the end reason logged. */
const DEFINED_ENDS: Record<string, [number, string]> = {
  twilio_stop: [1000, 'stream stopped'],
  ended_by_assistant: [1000, 'call ended'],
  transferred: [1000, 'call transferred'],
  invalid_frames: [1008, 'too many invalid frames'],
  message_too_big: [1009, 'message too big'],
  session_expired: [1011, 'assistant session ended'],
};
const DEFINED_CLOSES = new Set([
  ...Object.values(DEFINED_ENDS).map(([code, reason]) => `${code} ${reason}`),
  // A message over 64 KiB: ws itself closes with 1009 and no reason text (ws maxPayload).
  '1009 ',
]);

/** Placeholders in generated Twilio frames, replaced by the fuzzed call's own sids when sent. */
const STREAM_SID = 'MZ' + 'f'.repeat(32);
const CALL_SID = 'CA' + 'f'.repeat(32);
function forCall(frame: FuzzFrame, call: FakeTwilioCall): string | Buffer {
  if (typeof frame.data !== 'string') return frame.data;
  return frame.data.replaceAll(STREAM_SID, call.streamSid).replaceAll(CALL_SID, call.callSid);
}

const track = closeAfterEach();

interface Fuzzed {
  call: FakeTwilioCall;
  conn: FakeRealtimeConnection;
}

describe('fuzzing both peers of a live call', () => {
  it('ends at most the fuzzed call, with a defined close, while a call beside it relays every byte', { timeout: 120_000 }, async () => {
    const rest = track(await startFakeTwilioRest({ accountSid: ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }));
    const b = track(await startBridge({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_API_BASE_URL: rest.url, TRANSFER_NUMBER: '+15557654321' }));
    let connections = 0;
    const open = async (): Promise<Fuzzed> => {
      const call = await b.call();
      const conn = await b.realtime.waitForConnection(connections++);
      await conn.waitForEvent('session.update');
      return { call, conn };
    };

    // The well-behaved call: both directions in real time for the length of the fuzz.
    const calm = await open();
    const calmRelay = Promise.all([calm.call.streamAudio(callerAudio), calm.conn.sendAudio(agentAudio, { chunkBytes: 160, intervalMs: 20 })]);

    const closes: string[] = [];
    const volume = { runs: 0, realtimeFrames: 0, twilioFrames: 0, callsOpened: 1 };
    let fuzzed = await open();
    volume.callsOpened += 1;
    let barrier = 0;

    /** Proof the fuzzed call still works: a tool call is answered and caller audio marked for this barrier reaches the model. */
    const alive = async ({ call, conn }: Fuzzed): Promise<boolean> => {
      const id = `barrier_${++barrier}`;
      const marker = Buffer.alloc(800, 0x55);
      marker.writeUInt32BE(barrier, 0);
      const ended = call.closed.then(() => false);
      conn.send({ type: 'response.function_call_arguments.done', call_id: id, name: 'fuzz_barrier', arguments: '{}' });
      call.sendMedia(marker);
      const answered = Promise.all([
        conn.waitForEvent('conversation.item.create', (e) => (e.item as { call_id?: string }).call_id === id, 10_000),
        until(() => conn.appendedAudio().includes(marker), 10_000, `the caller audio of ${id} upstream`),
      ]).then(
        () => true,
        // The fake's recorder ends when the upstream closes: then the Twilio close must follow.
        async (err: unknown) => {
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(err instanceof Error ? err : new Error(String(err))), 5000);
          });
          try {
            return await Promise.race([ended, late]);
          } finally {
            clearTimeout(timer);
          }
        },
      );
      return Promise.race([answered, ended]);
    };

    await fc.assert(
      fc.asyncProperty(
        fc.array(realtimeFrame(), { minLength: 1, maxLength: 40, size: 'max' }),
        fc.array(twilioFrame(STREAM_SID, CALL_SID, ACCOUNT_SID), { maxLength: 14, size: 'max' }),
        async (upstream: FuzzFrame[], twilio: FuzzFrame[]) => {
          volume.runs += 1;
          const { call, conn } = fuzzed;
          for (const frame of twilio) call.sendRaw(forCall(frame, call), { binary: frame.binary });
          for (const frame of upstream) conn.sendRaw(frame.data, { binary: frame.binary });
          volume.twilioFrames += twilio.length;
          volume.realtimeFrames += upstream.length;
          if (await alive(fuzzed)) return;
          const { code, reason } = await call.closed;
          closes.push(`${code} ${reason}`);
          expect(DEFINED_CLOSES.has(`${code} ${reason}`), `fuzzed call closed with ${code} ${reason}`).toBe(true);
          await conn.closed;
          fuzzed = await open();
          volume.callsOpened += 1;
        },
      ),
      { numRuns: FUZZ_RUNS, endOnFailure: true },
    );

    // The calm call: never closed, nothing cleared, every byte relayed both ways.
    await calmRelay;
    await until(() => calm.conn.appendedBytes >= callerAudio.length, 5000, 'calm caller audio upstream');
    await until(() => calm.call.receivedBytes >= agentAudio.length, 5000, 'calm agent audio at twilio');
    expect(calm.conn.appendedAudio().equals(callerAudio)).toBe(true);
    expect(calm.call.receivedAudio().equals(agentAudio)).toBe(true);
    expect(calm.call.isOpen).toBe(true);
    expect(calm.call.count('clear')).toBe(0);
    expect(calm.conn.protocolErrors).toEqual([]);
    expect(calm.call.protocolErrors).toEqual([]);

    await calm.call.hangUp();
    await fuzzed.call.close();
    await until(() => b.app.sessions.size === 0, 5000, 'every session gone');
    const records = b.logs.records();
    expect(records.filter((r) => (r.level as number) >= 50)).toEqual([]);
    const reasons = records.filter((r) => r.msg === 'call ended').map((r) => r.reason as string);
    expect(reasons.filter((r) => !(r in DEFINED_ENDS) && r !== 'twilio_closed')).toEqual([]);
    const invalid = (await b.app.metrics.realtimeInvalidEvents.get()).values.reduce((n, v) => n + v.value, 0);
    console.info('fuzz volume', JSON.stringify({ ...volume, invalidRealtimeEvents: invalid, fuzzedCallEnds: closes }));
    expect(invalid).toBeGreaterThan(0);
  });
});
