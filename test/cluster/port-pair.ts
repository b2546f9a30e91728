/**
 * Two ends of an in-memory IPC pipe, as node:cluster gives the primary and a worker: messages are
 * copied through JSON (the pipe's serialization) and arrive on a later turn, in order.
 */
import { EventEmitter } from 'node:events';
import type { Port, Wire } from '../../src/cluster/channel.js';

export interface PortPair {
  readonly primary: Port;
  readonly worker: Port;
  /** Everything sent, both ways, in order. */
  readonly sent: Wire[];
  /** Messages sent while this is true are lost (a stalled peer). */
  deaf: boolean;
  /** The pipe closes: both ends see 'disconnect'. */
  disconnect(): void;
}

export function portPair(): PortPair {
  const ends = { primary: new EventEmitter(), worker: new EventEmitter() };
  let connected = true;
  const pair: PortPair = {
    sent: [],
    deaf: false,
    primary: port(ends.primary, ends.worker),
    worker: port(ends.worker, ends.primary),
    disconnect() {
      if (!connected) return;
      connected = false;
      ends.primary.emit('disconnect');
      ends.worker.emit('disconnect');
    },
  };
  function port(self: EventEmitter, other: EventEmitter): Port {
    return {
      send(message) {
        if (!connected) throw new Error('ERR_IPC_CHANNEL_CLOSED');
        pair.sent.push(message);
        if (pair.deaf) return true;
        const copy: unknown = JSON.parse(JSON.stringify(message));
        setImmediate(() => other.emit('message', copy));
        return true;
      },
      onMessage: (listener) => void self.on('message', listener),
      onDisconnect: (listener) => void self.once('disconnect', listener),
      isConnected: () => connected,
    };
  }
  return pair;
}
