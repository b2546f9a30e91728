/**
 * Pacing: connections from banned addresses are handed to the HTTP server a few per event-loop
 * turn, so a flood cannot fill a turn and hold up the live calls' frames.
 *
 * A refusal costs ~70 µs of CPU, mostly Node's HTTP parsing and the kernel's write and close.
 * libuv runs everything that became ready together in one poll phase: under a flood that is a
 * few hundred new connections at once, i.e. 20–40 ms during which no live call's frame is
 * relayed. Here the server's 'connection' listeners (Node's HTTP parser setup) are put behind
 * one that looks at the source address first, which costs one Map lookup: a connection from an
 * address with a ban held locally waits in a queue, and `perTurn` of them are passed on after
 * each poll phase (setImmediate). Everything else is passed on at once. Waiting changes nothing
 * about what a connection is told; valid credentials from a banned address (Twilio's shared
 * egress) are still admitted, a few milliseconds later.
 *
 * Bounded: at most `maxWaiting` wait (their sockets already exist; the queue adds a slot each);
 * past it a connection is passed on at once, never dropped. Undoing passes every waiting
 * connection on, then restores the listeners.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface PacerOptions {
  /** True for a connection to pace (its source address is banned). Synchronous, cheap, never throws. */
  readonly pace: (socket: Socket) => boolean;
  /**
   * Paced connections passed on per event-loop turn. 32 × ~70 µs ≈ 2 ms of refusals between two
   * polls for the live calls' frames. @default 32
   */
  readonly perTurn?: number;
  /** Most connections waiting at once; past it they are passed on at once. @default 4_096 */
  readonly maxWaiting?: number;
}

export interface Pacer {
  /** Connections waiting now. */
  readonly waiting: number;
  /** Passes every waiting connection on and restores the server's listeners. Idempotent. */
  undo(): void;
}

type ConnectionListener = (this: Server, socket: Socket) => void;

const ignore = (): void => {};

export function paceConnections(server: Server, opts: PacerOptions): Pacer {
  const perTurn = Math.max(1, opts.perTurn ?? 32);
  const maxWaiting = Math.max(0, opts.maxWaiting ?? 4_096);
  const downstream = server.listeners('connection') as ConnectionListener[];
  const queue: Socket[] = [];
  let head = 0; // queue[head] is the oldest waiting; consumed slots are compacted per drain
  let armed: NodeJS.Immediate | undefined;
  let undone = false;

  const passOn = (socket: Socket): void => {
    // A client that gave up while waiting: nothing to parse, and Node's close accounting is the socket's own.
    if (socket.destroyed) return;
    for (const listener of downstream) listener.call(server, socket);
  };

  const drain = (): void => {
    armed = undefined;
    const end = Math.min(queue.length, head + perTurn);
    for (; head < end; head++) {
      const socket = queue[head] as Socket;
      socket.removeListener('error', ignore);
      passOn(socket);
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    } else {
      queue.splice(0, head);
      head = 0;
      armed = setImmediate(drain);
    }
  };

  const onConnection: ConnectionListener = (socket) => {
    if (queue.length - head < maxWaiting && opts.pace(socket)) {
      // Nobody listens for errors until Node's HTTP server takes the socket: a reset while it
      // waits must not become an uncaught exception.
      socket.on('error', ignore);
      queue.push(socket);
      armed ??= setImmediate(drain);
      return;
    }
    passOn(socket);
  };

  if (downstream.length === 0) return { waiting: 0, undo: () => {} };
  for (const listener of downstream) server.removeListener('connection', listener);
  server.on('connection', onConnection);

  return {
    get waiting() {
      return queue.length - head;
    },
    undo() {
      if (undone) return;
      undone = true;
      if (armed !== undefined) clearImmediate(armed);
      armed = undefined;
      const rest = queue.splice(head);
      queue.length = 0;
      head = 0;
      server.removeListener('connection', onConnection);
      for (const listener of downstream) server.on('connection', listener);
      for (const socket of rest) {
        socket.removeListener('error', ignore);
        passOn(socket);
      }
    },
  };
}
