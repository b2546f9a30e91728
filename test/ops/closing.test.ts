/**
 * app.close() on the WebSocket side: our preClose instead of @fastify/websocket's, and upgrade
 * sockets refused by Fastify's own 503 while closing are destroyed, not left open.
 */
import { describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startBridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';

// A bridge closed part by part in a test is closed again here: Bridge.close() tolerates that.
const track = closeAfterEach();

/** A raw upgrade request; resolves with what the server wrote and whether it ended the socket. */
function rawUpgrade(port: number, path: string): Promise<{ response: string; ended: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    track(() => socket.destroy());
    let response = '';
    // The assertion is that the server ends the socket; 3 s is the give-up bound, not a speed claim.
    const timer = setTimeout(() => resolve({ response, ended: false }), 3000);
    socket.on('data', (d: Buffer) => (response += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ response, ended: true });
    });
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
  });
}

describe('closing the app', () => {
  it('ends a call still live at close() with 1001 and closes its upstream', async () => {
    const bridge = track(await startBridge());
    const call = await bridge.call();
    const conn = await bridge.realtime.waitForConnection();
    await bridge.realtime.waitForEvent('session.update');
    await bridge.app.close();
    expect((await call.closed).code).toBe(1001);
    await conn.closed;
    expect(bridge.logs.records().find((r) => r.msg === 'call ended')).toMatchObject({ reason: 'drain_timeout' });
    await bridge.realtime.close();
  });

  it('terminates a peer that never answers the close frame, within the bound', async () => {
    const bridge = track(await startBridge());
    const call = await bridge.call();
    await bridge.realtime.waitForConnection();
    call.pauseReading(); // our 1001 close frame is never read, so never answered
    await bridge.app.close();
    // close() resolved, so the socket was terminated rather than awaited for ws's 30 s.
    expect(bridge.app.websocketServer.clients.size).toBe(0);
    call.resumeReading();
    await call.closed;
    await bridge.realtime.close();
  });

  it('while draining, a refused upgrade gets a plain HTTP status and its socket is closed by the server', async () => {
    const bridge = track(await startBridge());
    bridge.app.registry.startDrain();
    const refused = await rawUpgrade(bridge.port, '/twilio/stream/forged.token');
    expect(refused.response).toMatch(/^HTTP\/1\.1 (401|403|503) /);
    expect(refused.ended).toBe(true);
  });

  it('destroys upgrade sockets that Fastify refuses with 503 while closing', async () => {
    const bridge = track(await startBridge());
    const { port } = bridge;
    // A live call whose peer does not read keeps preClose waiting (~1.25 s) while the listener
    // still accepts connections: the window in which Fastify answers upgrades with its own 503.
    const call = await bridge.call();
    await bridge.realtime.waitForConnection();
    call.pauseReading();
    const closing = bridge.app.close();
    await new Promise((r) => setImmediate(r));
    expect(bridge.app.ops.closing).toBe(true);
    const { token } = bridge.mint();
    const refused = await rawUpgrade(port, `/twilio/stream/${token}`);
    expect(refused.response).toMatch(/^HTTP\/1\.1 503 /);
    expect(refused.ended).toBe(true);
    await closing;
    call.resumeReading();
    await call.closed;
    await bridge.realtime.close();
  });
});
