/**
 * The connection pacer on its own, with stand-in sockets emitted straight into a server: paced
 * connections wait and are passed on `perTurn` per event-loop turn, others at once; the queue is
 * bounded; undo passes everything on and restores the listeners.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { paceConnections } from '../../src/guard/connection-pacer.js';

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly remoteAddress: string) {
    super();
  }
}

function setUp(): { server: Server; passed: string[]; original: (socket: Socket) => void } {
  const server = createServer();
  const passed: string[] = [];
  // Stand-in for Node's own connection listener.
  const original = (socket: Socket): void => void passed.push(socket.remoteAddress ?? '');
  server.removeAllListeners('connection');
  server.on('connection', original);
  return { server, passed, original };
}

const connect = (server: Server, address: string): FakeSocket => {
  const socket = new FakeSocket(address);
  server.emit('connection', socket);
  return socket;
};
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('paceConnections', () => {
  it('passes paced connections on perTurn per event-loop turn, in arrival order, and others at once', async () => {
    const { server, passed } = setUp();
    const pacer = paceConnections(server, { pace: (s) => s.remoteAddress === '192.0.2.1', perTurn: 2 });
    for (let i = 0; i < 5; i++) connect(server, '192.0.2.1');
    connect(server, '198.51.100.7');
    expect(passed).toEqual(['198.51.100.7']);
    expect(pacer.waiting).toBe(5);
    await nextTurn();
    expect(passed).toHaveLength(3);
    expect(pacer.waiting).toBe(3);
    await nextTurn();
    await nextTurn();
    expect(passed).toEqual(['198.51.100.7', ...Array<string>(5).fill('192.0.2.1')]);
    expect(pacer.waiting).toBe(0);
    pacer.undo();
  });

  it('never lets a reset while waiting become an uncaught error, and drops a socket that closed meanwhile', async () => {
    const { server, passed } = setUp();
    const pacer = paceConnections(server, { pace: () => true });
    const gone = connect(server, '192.0.2.2');
    const kept = connect(server, '192.0.2.3');
    expect(() => gone.emit('error', new Error('read ECONNRESET'))).not.toThrow();
    gone.destroyed = true;
    await nextTurn();
    expect(passed).toEqual(['192.0.2.3']);
    // Handed over as Node would have: without the pacer's error listener.
    expect(kept.listenerCount('error')).toBe(0);
    pacer.undo();
  });

  it('is bounded: past maxWaiting, connections are passed on at once rather than queued or dropped', () => {
    const { server, passed } = setUp();
    const pacer = paceConnections(server, { pace: () => true, maxWaiting: 3 });
    for (let i = 0; i < 5; i++) connect(server, `192.0.2.${10 + i}`);
    expect(pacer.waiting).toBe(3);
    expect(passed).toEqual(['192.0.2.13', '192.0.2.14']);
    pacer.undo();
  });

  it('undo passes every waiting connection on at once and restores the listeners', async () => {
    const { server, passed, original } = setUp();
    const pacer = paceConnections(server, { pace: () => true });
    connect(server, '192.0.2.20');
    connect(server, '192.0.2.21');
    pacer.undo();
    pacer.undo(); // idempotent
    expect(passed).toEqual(['192.0.2.20', '192.0.2.21']);
    expect(server.listeners('connection')).toEqual([original]);
    await nextTurn(); // no drain left armed
    expect(passed).toHaveLength(2);
    connect(server, '192.0.2.22');
    expect(passed).toHaveLength(3);
  });
});
