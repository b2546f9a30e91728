/**
 * The fast lane: anonymous stream upgrades refused on the raw socket, before Fastify.
 *
 * @fastify/websocket listens for the server's 'upgrade' event and routes every upgrade request
 * through Fastify (a Request, a Reply, a child logger, the hooks), which costs about as much as
 * the TCP work itself when all that follows is a refusal. During a flood almost every attempt is
 * one the guard can judge at once: a forged token (one HMAC) from an address it already holds a
 * ban for. `screenUpgrades` puts one listener in front of the existing ones; it asks `screen`
 * first, and only requests that `screen` did not answer go on, unchanged, to the listeners that
 * were there (so everything not decidable synchronously takes the normal path).
 *
 * `refuseOnSocket` writes a prebuilt response and closes the socket once it is written: no
 * ServerResponse, no serialisation, no Error objects.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

type UpgradeListener = (this: Server, req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** True when it answered the request itself (and has the socket closing); false to pass it on. Never throws. */
export type UpgradeScreen = (req: IncomingMessage, socket: Duplex) => boolean;

/**
 * Screens the server's upgrade requests with `screen` before the listeners registered so far.
 * Returns the undo (idempotent), which puts those listeners back as they were.
 */
export function screenUpgrades(server: Server, screen: UpgradeScreen): () => void {
  const downstream = server.listeners('upgrade') as UpgradeListener[];
  // With no listener Node answers upgrades as plain requests: nothing to put a screen in front of.
  if (downstream.length === 0) return () => {};
  for (const listener of downstream) server.removeListener('upgrade', listener);
  const dispatch: UpgradeListener = function (req, socket, head) {
    if (screen(req, socket)) return;
    for (const listener of downstream) listener.call(this, req, socket, head);
  };
  server.on('upgrade', dispatch);
  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    server.removeListener('upgrade', dispatch);
    for (const listener of downstream) server.on('upgrade', listener);
  };
}

const ignore = (): void => {};

/**
 * Writes `response` (ASCII) and destroys the socket once it is flushed. Node removed its own
 * error listener before emitting 'upgrade', so one is added: a client that resets the connection
 * while we write must not become an uncaught error.
 */
export function refuseOnSocket(socket: Socket, response: string): void {
  socket.on('error', ignore);
  socket.write(response, 'latin1');
  // Usually the kernel took all of it at once: closing the descriptor now sends it, then FIN,
  // and saves a shutdown() and a tick. Otherwise end() now and destroy() on 'finish'. Either way
  // the socket is never left half-open (HTTP sockets allow it) by a client that neither reads
  // nor closes.
  if (socket.writableLength === 0) socket.destroy();
  else socket.destroySoon();
}
