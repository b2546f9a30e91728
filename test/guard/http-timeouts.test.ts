/**
 * HTTP timeouts in the real app, over real sockets: a client that sends its body a byte at a
 * time, or nothing at all, is answered 408 and closed; a media stream, once upgraded, is not
 * touched by any of them. The timeouts are shortened here (HTTP_TIMEOUTS has the real ones).
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { buildApp } from '../../src/app.js';
import { HTTP_TIMEOUTS } from '../../src/guard/http-timeouts.js';
import { startBridge } from '../helpers/bridge.js';
import { httpCall, rejectionCounts } from './harness.js';
import { testConfig } from '../helpers/config.js';

const SHORT = { headersMs: 300, requestMs: 800, idleMs: 400, keepAliveMs: 400, checkIntervalMs: 50 };

const track = closeAfterEach();

/**
 * A raw client from `from` that writes `head`, then `drip` one byte per 50 ms until the server
 * closes the connection; resolves with what the server wrote. The test timeout bounds the wait.
 */
function slowClient(port: number, head: string, drip: boolean, from = '127.0.0.95'): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearInterval(timer);
      resolve(text);
    });
    socket.once('connect', () => {
      if (head) socket.write(head);
      if (drip) timer = setInterval(() => socket.write('a'), 50);
    });
  });
}

/** 10,000 bytes announced, under the body limit, so only the timeout can end it. */
const SLOW_POST = 'POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n';

describe('HTTP timeouts', () => {
  it('are set on the server by default', async () => {
    const app = track(await buildApp(testConfig(), {}));
    expect(app.server.requestTimeout).toBe(HTTP_TIMEOUTS.requestMs);
    expect(app.server.headersTimeout).toBe(HTTP_TIMEOUTS.headersMs);
    expect(app.server.keepAliveTimeout).toBe(HTTP_TIMEOUTS.keepAliveMs);
    expect(app.server.timeout).toBe(HTTP_TIMEOUTS.idleMs);
  });

  it('a body sent a byte at a time gets 408 and the socket is closed', async () => {
    const bridge = track(await startBridge({}, { deps: { httpTimeouts: SHORT } }));
    expect(await slowClient(bridge.port, SLOW_POST, true)).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a connection that sends nothing gets 408 and is closed', async () => {
    const bridge = track(await startBridge({}, { deps: { httpTimeouts: SHORT } }));
    expect(await slowClient(bridge.port, '', false)).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a signed-looking request cut off before its body arrives counts as a failed signature', async () => {
    const b = track(await startBridge({}, { deps: { httpTimeouts: SHORT } }));
    const signed = SLOW_POST.replace('\r\n\r\n', '\r\nX-Twilio-Signature: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n');
    expect(await slowClient(b.port, signed, true, '127.0.0.97')).toMatch(/^(HTTP\/1\.1 408 |$)/);
    await expect.poll(async () => (await httpCall(b, 'GET', '/nowhere', { from: '127.0.0.97' })).status).toBe(403);
    expect(await rejectionCounts(b.app.metrics)).toMatchObject({ bad_signature: 1 });
  });

  it('a live media stream outlives them all: silent past the idle and request timeouts, it still relays audio', async () => {
    const b = track(await startBridge({}, { deps: { httpTimeouts: SHORT } }));
    const call = await b.call();
    await b.realtime.waitForEvent('session.update');
    // Started after the stream's last message, cut after requestMs (> idleMs, > headersMs): by
    // the time it is closed the silent stream has been idle longer than every timeout.
    const cut = await slowClient(b.port, SLOW_POST, true);
    expect(cut).toMatch(/^HTTP\/1\.1 408 /);
    expect(call.isOpen).toBe(true);
    call.sendMedia(Buffer.alloc(800, 0xff));
    await b.realtime.waitForEvent('input_audio_buffer.append');
    expect(call.isOpen).toBe(true);
    await call.hangUp();
  });
});
