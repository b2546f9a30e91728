import { describe, expect, it } from 'vitest';
import { startBridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { expectRelayBothWays } from '../helpers/relay.js';
import { until } from '../helpers/until.js';
import { connectRealtime } from '../../src/stream/upstream.js';
import { faultBoundary } from '../../src/stream/fault-boundary.js';

const caller = readFixture('caller-8k.ulaw').subarray(0, 8000);
const agent = readFixture('agent-8k.ulaw').subarray(0, 8000);

const track = closeAfterEach();

describe('faultBoundary', () => {
  it('passes arguments through and hands what the callback throws to the fault handler', () => {
    const faults: unknown[] = [];
    const contain = faultBoundary((err) => faults.push(err));
    const seen: unknown[] = [];
    contain((a: number, b: string) => seen.push(a, b))(1, 'x');
    const boom = new Error('boom');
    expect(() =>
      contain(() => {
        throw boom;
      })(),
    ).not.toThrow();
    expect(seen).toEqual([1, 'x']);
    expect(faults).toEqual([boom]);
  });
});

describe('a fault inside one call', () => {
  it('ends that call alone (1011, upstream closed, internal_error counted, one error line with the stack)', async () => {
    let faultyCallSid = '';
    const boom = new Error('injected fault in the caller audio path');
    const b = await startBridge(
      {},
      {
        deps: {
          // The faulty call's upstream socket throws when the session sends it caller audio: a
          // stand-in for any bug met inside a call's handlers (here, the caller's media listener).
          connectUpstream: (callSid) => {
            const socket = connectRealtime(b.config);
            if (callSid !== faultyCallSid) return socket;
            const send = socket.send.bind(socket);
            socket.send = ((data: string) => {
              if (data.includes('input_audio_buffer.append')) throw boom;
              send(data);
            }) as typeof socket.send;
            return socket;
          },
        },
      },
    );
    track(b);
    const healthy = await b.call();
    const healthyConn = await b.realtime.waitForConnection(0);
    await healthyConn.waitForEvent('session.update');

    const { callSid } = b.mint();
    faultyCallSid = callSid;
    const faulty = await b.call({ callSid });
    const faultyConn = await b.realtime.waitForConnection(1);
    await faultyConn.waitForEvent('session.update');
    faulty.sendMedia(caller.subarray(0, 800)); // 100 ms: one frame, sent upstream at once
    expect(await faulty.closed).toEqual({ code: 1011, reason: 'internal error' });
    await faultyConn.closed;

    const errors = b.logs.records().filter((r) => (r.level as number) >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ callSid, msg: 'internal error in this call; ending it' });
    expect((errors[0]?.err as { stack?: string }).stack).toContain('injected fault in the caller audio path');
    const ended = (await b.app.metrics.callsEnded.get()).values;
    expect(ended.find((v) => v.labels.reason === 'internal_error')?.value).toBe(1);
    expect(b.logs.records().find((r) => r.msg === 'call ended' && r.callSid === callSid)).toMatchObject({ reason: 'internal_error' });

    // The other call never noticed: open, and relaying byte for byte both ways.
    expect(healthy.isOpen).toBe(true);
    await expectRelayBothWays(healthy, healthyConn, caller, agent);
    await healthy.hangUp();
    await until(() => b.app.sessions.size === 0, 5000, 'sessions gone');
  });

  it('contains a fault in the outbound pump\'s end-of-turn delivery too (its setImmediate is an entry point)', async () => {
    const b = await startBridge();
    track(b);
    const call = await b.call();
    const conn = await b.realtime.waitForConnection(0);
    await conn.waitForEvent('session.update');
    const boom = new Error('injected fault in delivery to Twilio');
    // Model audio leaves for Twilio at the end of the I/O turn it was read in (perTurn): the
    // bridge's side of the Twilio socket throws on that send.
    const [twilioSocket] = [...b.app.websocketServer.clients];
    const send = twilioSocket!.send.bind(twilioSocket);
    twilioSocket!.send = ((data: string) => {
      if (data.startsWith('{"event":"media"')) throw boom;
      send(data);
    }) as typeof send;
    // No `done`: the flush it causes would deliver inside the message handler instead.
    await conn.sendAudio(agent, { chunkBytes: 1600, intervalMs: 0, done: false });
    expect(await call.closed).toEqual({ code: 1011, reason: 'internal error' });
    await until(() => b.app.sessions.size === 0, 5000, 'session gone');
    const errors = b.logs.records().filter((r) => (r.level as number) >= 50);
    expect((errors[0]?.err as { stack?: string }).stack).toContain('injected fault in delivery to Twilio');
  });
});
